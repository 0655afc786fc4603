"""Process-wide singletons for delivery layers (UI, API): built on first use, never at import time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from agent.service import ChatService
from core import heap
from core.breakers import HealthRegistry
from core.chaos import ChaosController
from core.config import get_settings
from core.db import session_scope
from core.logging import configure_logging
from core.migrate import upgrade
from core.users import check_no_default_credentials
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_service: ChatService | None = None
_stop = threading.Event()
"""Set by `stop_background`: the service's background threads end (else they live as long as the process)."""


def stop_background() -> None:
    """End the background threads the service started (the checkpoint janitor, the stuck-turn sweep): for a
    test session, before its temporary database goes."""
    _stop.set()


def get_service() -> ChatService:
    """The chat service for this process: settings, migrated database, knowledge base, models, health."""
    global _service
    with _lock:
        if _service is None:
            settings = get_settings()
            configure_logging(settings.log_level)
            health = HealthRegistry(
                failure_threshold=settings.breaker_failure_threshold,
                cooldown_s=settings.breaker_cooldown_s,
                chaos=ChaosController() if settings.chaos_enabled else None,
            )
            migrate_pending = False
            try:
                upgrade(settings.database_url)
            except Exception:  # the database is down at start: serve Offline (spooling) until it returns
                health.breaker("database").force_open("unavailable at start")
                migrate_pending = True
            kb = KnowledgeBase(settings, health=health)
            try:
                kb.refresh()
            except Exception:
                health.breaker("database").record_failure("unavailable")
            try:  # load the model now: the first customer's turn must not pay for it (nor time out on it)
                kb.embedder.embed_query("warm-up")
            except Exception:  # no model: the breaker finds out on the first turn and retrieval goes lexical
                logger.exception("embedding model warm-up failed")
            if settings.env == "prod" and not migrate_pending:
                with session_scope(settings.database_url) as session:
                    check_no_default_credentials(session, settings)  # refuses to serve with demo passwords
            _service = ChatService(settings, kb=kb, health=health, migrate_pending=migrate_pending)
            stop = _stop
            if settings.checkpoint_prune_s > 0:
                run_every("checkpoint-janitor", settings.checkpoint_prune_s, _service.checkpoints.sweep, stop)
            if settings.stuck_turn_s > 0:
                stuck = partial(_service.answer_stuck, older_than_s=settings.stuck_turn_s)
                run_every("stuck-turn-sweep", settings.stuck_turn_s / 4, stuck, stop)
            # What start-up built lives as long as the process: out of the collector's full walks from now on.
            logger.info("start-up heap frozen: %d objects", heap.settle())
        return _service


def run_every(
    name: str, every_s: float, work: Callable[[], object], stop: threading.Event
) -> threading.Thread:
    """A daemon thread doing `work` every `every_s` seconds until `stop` is set; a failure is logged and the
    next round tries again."""

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                work()
            except Exception:
                logger.warning("%s failed", name, exc_info=True)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
