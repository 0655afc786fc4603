"""What every node may use that is not state: the knowledge base, settings, models and the turn's deadline."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import ModuleType

from agent.llm import LLMLadder
from agent.prompts.store import Prompt, PromptStore, local
from core.breakers import HealthRegistry
from core.config import Settings
from core.policy import Policy, load_policy
from knowledge.service import KnowledgeBase


@dataclass(frozen=True)
class TurnContext:
    kb: KnowledgeBase
    settings: Settings
    health: HealthRegistry = field(default_factory=HealthRegistry)
    llm: LLMLadder | None = None
    """None when no model is configured (the ladder starts at Minimal)."""
    deadline: float = field(default_factory=lambda: time.monotonic() + 3600)
    """`time.monotonic()` by which all LLM work of this turn must be done."""
    policy: Policy = field(default_factory=load_policy)
    """This deployment's guardrail policy (topics, risks, commitments, tone, competitors)."""
    failed_models: dict[str, str] = field(default_factory=dict)
    """Models that failed earlier in this turn, and how: not tried again before the next turn."""
    prompts: PromptStore | None = None
    """Where prompts come from (files, or Langfuse with the files as the fallback); None: the files."""
    streaming: bool = True
    """Someone reads the answer as it is written (a chat page, an SSE client): stream it token by token.
    False (a JSON request, an eval run) merges the model's chunks once, which costs far less."""
    cut_from: int | None = None
    """The message's length as sent when the service cut it before masking (it was far over
    MAX_MESSAGE_CHARS): the text the graph gets is already short, yet the message was truncated."""

    def prompt(self, module: ModuleType) -> Prompt:
        return self.prompts.get(module) if self.prompts is not None else local(module)
