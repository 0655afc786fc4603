"""The one place that reads the environment. Everything else takes a `Settings`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_API_SECRET = "dev-only-api-secret-never-use-in-production"
"""Signs API tokens outside prod when API_SECRET is empty; prod refuses it."""


class Settings(BaseSettings):
    """Runtime configuration; every field can be set by an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    log_level: str = "INFO"

    data_dir: Path = PROJECT_ROOT / "var"
    """Where the embedded stores live (SQLite files, Chroma, spool)."""
    database_url: str = ""
    """SQLAlchemy URL; empty means a SQLite file under `data_dir`."""
    checkpoint_url: str = ""
    """LangGraph checkpointer location; empty means a SQLite file under `data_dir`."""
    checkpoint_prune_s: float = Field(default=60.0, ge=0)
    """How often each process deletes the superseded checkpoints of the conversations its turns wrote (each
    keeps its latest, which holds the whole thread); 0 never does (see `python -m agent.checkpoints`)."""

    stuck_turn_s: float = Field(default=120.0, ge=0)
    """A customer message stored this long without a reply (its process died mid-turn: a crash, a kill at a
    deploy) is answered by a sweep each process runs (a quarter of this apart); 0 never does. Longer than a
    turn can take (a live turn holds the conversation lock, and the sweep then finds it answered anyway)."""

    db_statement_timeout_s: float = Field(default=30.0, ge=0)
    """PostgreSQL: a statement running longer is cancelled, so a stuck database fails the turn (it spools)
    instead of hanging it; a transaction left idle ten times as long is ended (a publish embeds its article
    inside its transaction); a server host that vanishes is given up on once what was sent to it stays
    unacknowledged this long (`tcp_user_timeout`), or after ~25 s of silence while waiting for it (TCP
    keepalives). 0 sets none of them (e.g. behind PgBouncer, which refuses startup options: set
    `statement_timeout` on the role instead). Migrations, LangGraph's table setup and
    `python -m agent.checkpoints` are not limited, nor is the wait for another replica's conversation lock."""

    chroma_url: str = ""
    """A Chroma server (http://host:port); empty means an embedded PersistentClient under `data_dir`."""
    chroma_collection: str = "kb_chunks"
    embedding_backend: Literal["onnx", "torch"] = "onnx"
    """How all-MiniLM-L6-v2 runs: ONNX Runtime (about 3x cheaper per query) or sentence-transformers on torch.
    Both give the same vectors; ONNX falls back to torch when its file cannot be made."""
    embedding_query_precision: Literal["int8", "float32"] = "int8"
    """ONNX only: a customer's query on an int8 copy of the model (~2.5x less CPU per query, the same DSTC11
    retrieval figures, the eval gate passes), or (`float32`) on the float32 model the documents use. int8
    moves a query's confidence by ~0.01 either way, so ~1% of answer-or-not decisions near the threshold
    flip."""
    model_cache_dir: Path = PROJECT_ROOT / "var" / "models"
    """Where the ONNX export of the embedding model is kept (written once, on first use or `make install`)."""
    company_name: str = "Brightwell Home"
    """Named in the answer prompt; the demo help center's fictional retailer by default."""
    kb_content_dir: Path = PROJECT_ROOT / "knowledge" / "content"
    kb_poll_s: float = Field(default=2.0, ge=0)
    """How often a serving process checks whether another process published (then reloads the changes)."""
    kb_eval_check: bool = True
    """Publishing in the studio first plays the eval cases the change affects (`python -m evals.changes kb`)
    and, when some would newly fail, shows them and waits for "Publish anyway" with a reason."""
    kb_test_pause_at: str = ""
    """Tests only (ignored in prod): a publish stage to stop and wait at, so a test can kill it there."""

    llm_models: list[str] = Field(default_factory=list)
    """Ordered `provider:model` list, primary first; empty means the ladder starts at Minimal."""
    llm_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Extra constructor arguments per model, e.g. {"openai:my-model": {"base_url": "http://host/v1"}}.
    API keys come from each provider's usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY)."""
    llm_timeout_s: float = Field(default=20.0, gt=0)
    """Budget for all LLM work of one turn; past it the turn is answered in Minimal mode."""
    llm_model_timeout_s: float = Field(default=10.0, gt=0)
    """How long one model may take, its retries included, before the next model is tried."""
    llm_rewrite_timeout_s: float = 3.0
    """Query rewriting and history summaries are optional: they get less time than the answer."""
    llm_max_retries: int = Field(default=2, ge=0)
    """Retries of one model on 429, 5xx and timeouts, with jittered backoff honouring Retry-After."""
    llm_backoff_s: float = 0.5
    llm_backoff_max_s: float = 4.0
    llm_max_output_tokens: int = 700
    llm_context_tokens: int = 3000
    """Full mode: earlier turns kept verbatim up to this many tokens; older ones are summarised, three
    exchanges at a time (agent.generation.SUMMARY_BATCH), and sent verbatim until then."""
    history_max_messages: int = Field(default=80, ge=4)
    """Messages (customer and assistant) a conversation's thread keeps; the oldest leave it (the transcript
    keeps everything) once the Full-mode summary covers them: a turn summarises what is about to leave. While
    a summary is missing they stay, up to twice this; with no model configured they leave at once. Bounds
    what every turn reads, copies and saves."""
    degraded_context_tokens: int = 1200
    """Degraded mode answers single-turn from fewer passages, within this many tokens."""
    degraded_top_k: int = 3
    llm_prices: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """USD per million input and output tokens by `provider:model`, for the cost of each turn."""

    breaker_failure_threshold: int = Field(default=3, ge=1)
    """Consecutive failures (timeouts included) that open a dependency's circuit breaker."""
    breaker_cooldown_s: float = Field(default=30.0, ge=0)
    """How long an open breaker waits before letting one probe call through."""
    chaos_enabled: bool = False
    """Fault injection switches in the chat sidebar (never in prod)."""

    retrieval_timeout_s: float = Field(default=2.0, gt=0)
    """Dense retrieval (embedding + vector index) past this falls back to BM25 for the turn."""
    top_k: int = 5
    retrieval_candidates: int = 30
    """How many hits each retriever (dense, lexical) contributes before rank fusion."""
    answer_min_confidence: float = 0.45
    """Below this retrieval confidence the agent says it does not know instead of quoting."""
    max_message_chars: int = 4000
    """Longer customer messages are stored whole but truncated for processing."""
    quote_max_passages: int = 2

    handoff_sentiment_threshold: float = Field(default=-0.6, ge=-1, le=0)
    """One customer message scoring at or below this (VADER plus support cues, -1..1) hands off."""
    handoff_trend_floor: float = Field(default=-0.3, ge=-1, le=0)
    """A falling trend hands off only once the latest message is at or below this."""
    handoff_trend_drop: float = Field(default=0.5, gt=0, le=2)
    """...and has fallen at least this much from the best of the recent window."""
    handoff_trend_window: int = Field(default=4, ge=2)
    """Customer messages the trend looks back over."""
    handoff_unresolved_turns: int = Field(default=2, ge=1)
    """Unresolved bot turns in a row ("I don't know", failures) that hand off."""
    handoff_rephrase_similarity: float = Field(default=0.6, gt=0, le=1)
    """A question this similar to an earlier one the bot could not answer counts as a repeat."""
    handoff_sla_minutes: dict[str, float] = Field(
        default_factory=lambda: {"urgent": 5.0, "high": 15.0, "normal": 60.0}
    )
    """First-response due time by priority band (urgent >= 80, high >= 60, normal below)."""
    handoff_aging_minutes: float = Field(default=5.0, gt=0)
    """A waiting ticket gains one priority point per this many minutes, so nothing waits forever."""
    handoff_handle_minutes: float = Field(default=6.0, gt=0)
    """Estimated minutes per conversation ahead in the queue, until there is history to measure."""

    langfuse_public_key: str = ""
    langfuse_secret_key: str = ""
    langfuse_host: str = "https://cloud.langfuse.com"
    prompts_from_langfuse: bool = False
    """Read prompts from Langfuse prompt management (`python -m agent.prompts.sync` pushes them), with the
    versioned files as the fallback. Off: the files only."""
    prompt_label: str = "production"
    """The Langfuse label of the prompt versions to serve."""
    prompt_cache_s: int = Field(default=60, ge=0)
    """How long a fetched prompt is used before Langfuse is asked again."""
    langfuse_timeout_s: int = Field(default=2, ge=1)
    """HTTP timeout of one export to Langfuse (on the SDK's background thread, never on a turn)."""
    """Langfuse traces every turn when both keys are set; without them tracing is off."""

    policy_file: Path | None = None
    """This deployment's guardrail policy (YAML: topics, risks, commitments, tone, competitors); empty
    means the demo policy shipped in core/policy.yaml."""
    pii_reveal_roles: list[str] = Field(default_factory=lambda: ["agent", "admin"])
    """Staff roles that may reveal the personal data behind PII tokens in the workspace (each reveal is
    recorded on the ticket); other roles always see the tokens."""
    guard_handoff_after_refusals: int = Field(default=3, ge=1)
    """A conversation whose messages the input rails have blocked this many times goes to a person."""
    guard_classifier: bool = True
    """Run the local injection classifier (core/injection_model.json) after the heuristics."""
    guard_llm_judge: bool = True
    """Full mode only: ask the primary model to judge messages the injection heuristics find suspicious
    but not conclusive."""

    api_secret: str = ""
    """Signs the HTTP API's bearer tokens (HMAC-SHA256); every replica needs the same one. Empty outside
    prod means a fixed development secret; prod refuses to start without a real one (32+ characters)."""
    api_token_ttl_s: int = Field(default=12 * 3600, ge=60)
    """How long an API token is accepted after it was issued."""
    api_rate_limit_per_min: int = Field(default=60, ge=1)
    """Messages one customer may send per minute (a burst of a quarter of it at once); more get 429."""
    api_login_limit_per_min: int = Field(default=10, ge=1)
    """Login and guest-token requests per client address per minute."""
    login_failures_per_15_min: int = Field(default=10, ge=1)
    """Failed logins one username may have in 15 minutes (a burst of as many, then one every 15 / N minutes);
    past that its logins get 429 / "try again later" whatever the password, from any address. Counted across
    replicas on PostgreSQL."""
    api_guest_limit_per_min: int = Field(default=600, ge=1)
    """Messages, new conversations and knowledge-base searches all guests behind one client address may send
    per minute, a quarter of it as a burst; 429 beyond. A guest token costs nothing (API_LOGIN_LIMIT_PER_MIN a
    minute), so without this one address could hold hundreds of customer ids, each with its own
    API_RATE_LIMIT_PER_MIN. Counted per replica; registered customers are not counted. Raise it for many
    guests behind one NAT."""
    api_max_body_bytes: int = Field(default=512 * 1024, ge=1024)
    """Largest request body the API reads; larger ones get 413 before they are parsed."""
    api_cors_origins: list[str] = Field(default_factory=list)
    """Web origins allowed to call the API from a browser (a chat widget on another site)."""
    api_worker_threads: int = Field(default=4, ge=1, le=16)
    """Turns one API process runs at once; more wait their turn on the event loop. Python threads share one
    interpreter lock, so dozens at once mostly wait for each other and every turn gets slower. At most 16,
    so each turn's database connections fit the pools (SQLAlchemy 30, checkpointer 20)."""
    api_server_timing: bool = False
    """Answer each (non-streamed) turn with a `Server-Timing` header: where its time went in the server
    (waiting for a worker, the message stored, the conversation lock, the graph and its nodes, the reply
    stored). For load runs and debugging; off by default, as it tells callers about the server's insides."""
    api_ops_token: str = ""
    """When set, /health and /metrics answer only requests with `Authorization: Bearer <this>` (Prometheus:
    `authorization: {credentials: ...}`); /ready stays open for balancers and container healthchecks. Empty:
    both are open, as on a private network (they show modes, breaker states and counts, never texts)."""
    api_background_s: float = Field(default=2.0, gt=0)
    """How often each API process re-derives its mode and replays spooled turns when the database is back,
    so recovery needs no customer traffic."""

    @model_validator(mode="after")
    def _fill_paths(self) -> Settings:
        if self.env == "prod" and self.chaos_enabled:
            raise ValueError("CHAOS_ENABLED is for dev and test environments only")
        if self.llm_model_timeout_s > self.llm_timeout_s:
            raise ValueError("LLM_MODEL_TIMEOUT_S cannot exceed LLM_TIMEOUT_S (the whole turn's LLM budget)")
        missing = {"urgent", "high", "normal"} - set(self.handoff_sla_minutes)
        if missing or any(v <= 0 for v in self.handoff_sla_minutes.values()):
            raise ValueError(
                "HANDOFF_SLA_MINUTES needs positive minutes for urgent, high and normal"
                + (f" (missing: {', '.join(sorted(missing))})" if missing else "")
            )
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'support.db'}"
        if not self.checkpoint_url:
            self.checkpoint_url = str(self.data_dir / "checkpoints.db")
        return self

    def as_env(self) -> dict[str, str]:
        """These settings as environment variables, for a child process that must see exactly them (the
        studio's eval check); complex values as JSON, which is how they are read back."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            out[name.upper()] = value if isinstance(value, str) else json.dumps(value)
        return out

    def token_secret(self) -> str:
        """The key that signs API tokens; in prod only a real one (the API refuses to start otherwise)."""
        if self.env == "prod" and (len(self.api_secret) < 32 or self.api_secret == DEV_API_SECRET):
            raise ValueError("API_SECRET must be a random value of at least 32 characters in prod")
        return self.api_secret or DEV_API_SECRET

    @property
    def offline_id_secret(self) -> str:
        """Keys the ids of conversations started while the database was down (a keyed hash binding the id
        to its customer). Any value keeps the binding, so a UI-only deployment without API_SECRET works."""
        return self.api_secret or DEV_API_SECRET

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def spool_path(self) -> Path:
        """Where customer messages and tickets wait while the database is down."""
        return self.data_dir / "spool" / "pending.jsonl"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
