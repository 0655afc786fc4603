"""Process-wide singletons for delivery layers (UI, API): built on first use, never at import time."""

from __future__ import annotations

import threading

from agent.service import ChatService
from core.config import get_settings
from core.logging import configure_logging
from core.migrate import upgrade
from knowledge.service import KnowledgeBase

_lock = threading.Lock()
_service: ChatService | None = None


def get_service() -> ChatService:
    """The chat service for this process: settings, migrated database, knowledge base, graph."""
    global _service
    with _lock:
        if _service is None:
            settings = get_settings()
            configure_logging(settings.log_level)
            upgrade(settings.database_url)
            kb = KnowledgeBase(settings)
            kb.refresh()
            _service = ChatService(settings, kb=kb)
        return _service
