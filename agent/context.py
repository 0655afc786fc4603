"""What every node may use that is not state: the knowledge base and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings
from knowledge.service import KnowledgeBase


@dataclass(frozen=True)
class TurnContext:
    kb: KnowledgeBase
    settings: Settings
