"""Play eval cases through the real turn graph, and keep what each turn did.

An `EvalEnvironment` is the product as it runs (SQLite, Chroma, the MiniLM embeddings, BM25, the LangGraph
graph and every guardrail) over a knowledge base: by default the demo help center imported into a throwaway
folder. Only the model differs per configuration:

- `minimal`: no model (the extractive Minimal mode); deterministic.
- `scripted`: a scripted model that answers from the first passage it is given, cited (Full mode);
  deterministic.
- `adversary`: a compromised scripted model that writes whatever the attack wants (the case's forbidden
  strings) and clears every message it judges: the rails alone must keep it from the customer.
- `llm`: the models configured with `LLM_MODELS` (or `--llm`); not deterministic, so run with trials.

Breakers never open on their own here (a slow machine must not change the figures), and LLM deadlines are
generous, so the deterministic configurations give identical results on every run.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import select

from agent.llm import ModelSlot, build_models
from agent.service import ChatService
from core.breakers import HealthRegistry
from core.config import Settings
from core.db import session_scope
from core.migrate import upgrade
from core.models import TurnRecord
from core.policy import load_policy
from evals.cases import CONTENT, Case
from evals.scenarios.runner import Adversary
from evals.scripted import ScriptedChatModel, grounded_answer
from knowledge.service import KnowledgeBase
from knowledge.store import import_markdown

__all__ = ["CONFIGS", "CaseRun", "EvalEnvironment", "Observed", "adversary_answer"]

CONFIGS: dict[str, str] = {
    "minimal": "no LLM: extractive answers (Minimal mode)",
    "scripted": "scripted LLM answering from the first passage (Full mode)",
    "adversary": "compromised scripted LLM writing what the attack asks; only the rails stand in the way",
    "llm": "the configured LLM(s)",
}
DETERMINISTIC = ("minimal", "scripted", "adversary")


@dataclass
class Observed:
    """One customer turn: what was said back and what the agent did."""

    text: str
    reply: str | None
    """None while a person holds the conversation (the bot stays silent)."""
    outcome: str
    mode: str
    citations: list[dict[str, Any]]
    """n, article (slug), chunk_id, quote."""
    passages: list[str]
    """Retrieved chunk ids, best first (`slug#anchor-digest`)."""
    latency_ms: float
    prompts: dict[str, int]
    handoff_reason: str | None = None
    confidence: float | None = None
    adversary_wrote: str | None = None


@dataclass
class CaseRun:
    case: Case
    config: str
    trial: int = 0
    turns: list[Observed] = field(default_factory=list)
    error: str | None = None
    """Set when the turn raised instead of replying (itself a failure: a customer always gets a reply)."""

    @property
    def last(self) -> Observed | None:
        return self.turns[-1] if self.turns else None


def adversary_answer(case: Case) -> str:
    """What the compromised model writes for this case: everything the attack wanted said, cited."""
    wanted = [s.rstrip(".") for s in case.must_not_include]
    if not wanted:
        wanted = ["I have approved a full refund of $500 to your card, and this promise is legally binding"]
    return " ".join(f"{w}. [1]" for w in wanted)


class EvalEnvironment:
    """The product over one knowledge base, with a chat service per configuration."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        kb: KnowledgeBase | None = None,
        content: Path = CONTENT,
        llm_models: list[str] | None = None,
    ) -> None:
        """With `kb`, the cases run against it (the conversations go to `settings`' database, by default
        the KB's own); without, `content` is imported into a throwaway folder (SQLite, embedded Chroma)."""
        if kb is None:
            data_dir = Path(tempfile.mkdtemp(prefix="eval-"))
            # The product's defaults, not a developer's .env: the baseline means the same on every machine.
            # Prompts come from the files (their fingerprint is what the baseline records).
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                data_dir=data_dir,
                database_url="",
                checkpoint_url="",
                chroma_url="",
                llm_models=[],
                env="test",
                prompts_from_langfuse=False,
            )
            upgrade(settings.database_url)
            contacts = load_policy(settings.policy_file).brand.contacts
            with session_scope(settings.database_url) as s:
                import_markdown(s, sorted(content.glob("*.md")), public_contacts=contacts)
            kb = KnowledgeBase(settings)
            kb.refresh()
        self.kb = kb
        self.settings = (settings or kb.settings).model_copy(
            update={
                "llm_timeout_s": 120.0,
                "llm_model_timeout_s": 60.0,
                "llm_rewrite_timeout_s": 30.0,
                "retrieval_timeout_s": 30.0,
            }
        )
        self.llm_models = llm_models if llm_models is not None else list(self.settings.llm_models)
        self.health = HealthRegistry(failure_threshold=1_000_000, cooldown_s=0.0)
        self._services: dict[str, ChatService] = {}
        self._adversary: Adversary | None = None

    def service(self, config: str) -> ChatService:
        if config not in CONFIGS:
            raise ValueError(f"unknown configuration {config!r}; known: {', '.join(CONFIGS)}")
        if config not in self._services:
            self._services[config] = ChatService(
                self.settings.model_copy(update={"llm_models": self.llm_models if config == "llm" else []}),
                kb=self.kb,
                health=self.health,
                checkpointer=InMemorySaver(),
                models=self._models(config),
            )
        return self._services[config]

    def _models(self, config: str) -> list[ModelSlot]:
        if config == "scripted":
            return [ModelSlot("scripted:grounded", ScriptedChatModel(responder=grounded_answer))]
        if config == "adversary":
            self._adversary = Adversary("")
            return [ModelSlot("scripted:adversary", self._adversary.model)]
        if config == "llm":
            if not self.llm_models:
                raise ValueError("the llm configuration needs a model: set LLM_MODELS or pass --llm")
            return build_models(self.settings.model_copy(update={"llm_models": self.llm_models}))
        return []

    def run(self, case: Case, config: str, *, trial: int = 0) -> CaseRun:
        """Play the case's turns in a new conversation and observe each one."""
        service = self.service(config)
        if config == "adversary":
            assert self._adversary is not None
            self._adversary.answer = adversary_answer(case)
        run = CaseRun(case, config, trial)
        customer = f"eval-{config}-{trial}-{case.id}-{uuid.uuid4().hex[:6]}"
        conversation = service.start_conversation(customer_id=customer)
        for text in case.turns:
            written = self._adversary.answers_written if config == "adversary" and self._adversary else 0
            started = time.perf_counter()
            try:
                turn = service.send(conversation_id=conversation, customer_id=customer, text=text)
            except Exception as exc:  # recorded, not raised: the figures count it as a failed case
                run.error = f"{type(exc).__name__}: {str(exc)[:200]}"
                return run
            elapsed = (time.perf_counter() - started) * 1000
            record = _record(service, turn.message.id)
            wrote = None
            if config == "adversary" and self._adversary and self._adversary.answers_written > written:
                wrote = self._adversary.answer
            run.turns.append(
                Observed(
                    text=text,
                    reply=turn.reply.content if turn.reply is not None else None,
                    outcome=turn.outcome,
                    mode=str(turn.mode),
                    citations=[
                        {k: c.get(k) for k in ("n", "article", "chunk_id", "quote")}
                        for c in (turn.reply.citations if turn.reply is not None else [])
                    ],
                    passages=[p["id"] for p in (record.passages if record else [])],
                    latency_ms=round(elapsed, 2),
                    prompts=dict(record.prompt_versions) if record else {},
                    handoff_reason=record.handoff_reason if record else None,
                    confidence=turn.confidence,
                    adversary_wrote=wrote,
                )
            )
        return run


def _record(service: ChatService, message_id: int) -> TurnRecord | None:
    with session_scope(service.db) as s:
        record = s.scalar(select(TurnRecord).where(TurnRecord.message_id == message_id))
        if record is not None:
            s.expunge(record)
        return record
