"""Ladder benchmark: what the agent itself costs per turn, and how fast it fails over.

Runs the real service (SQLite, SQLite checkpointer, Chroma, MiniLM, BM25) over the demo help center in a
temporary data folder, with scripted models so the figures exclude any provider:
- overhead: turn wall time minus time spent inside LLM calls, Full mode, zero-latency model;
- failover: the primary hangs; time from the turn's start to the fallback's served answer, over the
  per-model timeout (target <= 1.2);
- hang to Minimal: the only model hangs; time to the quoted answer, against the turn's LLM budget + 1 s;
- long conversation: one Full-mode conversation of `long_turns` turns: CPU per turn at its start and at its
  end (the thread is bounded by HISTORY_MAX_MESSAGES, so it should not grow), the messages the thread holds,
  and its checkpoints before and after a retention sweep.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from agent.checkpoints import count_checkpoints, payload_bytes
from agent.llm import ModelSlot
from agent.service import ChatService, sqlite_checkpointer
from core.breakers import HealthRegistry
from core.config import PROJECT_ROOT, Settings
from core.db import session_scope
from core.faults import DependencyFault
from core.migrate import upgrade
from core.models import TurnRecord
from evals.scripted import ScriptedChatModel, grounded_answer
from knowledge.service import KnowledgeBase
from knowledge.store import import_markdown

QUESTIONS = [
    "How long do I have to return an item?",
    "Can I change the delivery address after ordering?",
    "How do I reset my password?",
    "What payment methods do you accept?",
    "When will my refund arrive?",
    "Do you price match?",
    "How do I track my order?",
    "My item arrived damaged, what should I do?",
    "How can I contact customer support by phone?",
    "Can I cancel my order?",
]
FOLLOW_UPS = ["And how long does that take?", "Is there a fee for that?"]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(_pct(values, 0.50), 2),
        "p95": round(_pct(values, 0.95), 2),
        "mean": round(statistics.fmean(values), 2) if values else 0.0,
        "max": round(max(values), 2) if values else 0.0,
    }


def _setup(data_dir: Path) -> tuple[Settings, KnowledgeBase]:
    settings = Settings(data_dir=data_dir, env="test", llm_models=[])
    upgrade(settings.database_url)
    with session_scope(settings.database_url) as s:
        import_markdown(s, sorted((PROJECT_ROOT / "knowledge" / "content").glob("*.md")))
    kb = KnowledgeBase(settings)
    kb.refresh()
    return settings, kb


def _service(settings: Settings, kb: KnowledgeBase, models: list[ModelSlot], **overrides: Any) -> ChatService:
    config = settings.model_copy(update=overrides)
    health = HealthRegistry(failure_threshold=1_000, cooldown_s=config.breaker_cooldown_s)
    kb.attach_health(health)
    checkpointer = sqlite_checkpointer(str(config.data_dir / f"ckpt-{uuid.uuid4().hex[:6]}.db"))
    return ChatService(config, kb=kb, health=health, checkpointer=checkpointer, models=models)


def _ask(service: ChatService, conv: tuple[str, str], text: str) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = service.send(conversation_id=conv[0], customer_id=conv[1], text=text)
    return (time.perf_counter() - t0) * 1000, result


def _new(service: ChatService) -> tuple[str, str]:
    customer = f"bench-{uuid.uuid4().hex[:8]}"
    return service.start_conversation(customer_id=customer), customer


def _long_conversation(settings: Settings, kb: KnowledgeBase, turns: int) -> dict[str, Any]:
    """One conversation of `turns` Full-mode turns: CPU per turn (this process), the thread, retention."""
    service = _service(
        settings, kb, [ModelSlot("scripted:primary", ScriptedChatModel(responder=grounded_answer))]
    )
    conv = _new(service)
    cpu_ms: list[float] = []
    for i in range(turns):
        text = QUESTIONS[(i // 2) % len(QUESTIONS)] if i % 2 == 0 else FOLLOW_UPS[(i // 2) % len(FOLLOW_UPS)]
        started = time.process_time()
        _ask(service, conv, text)
        cpu_ms.append((time.process_time() - started) * 1000)
    state = service.graph.get_state({"configurable": {"thread_id": conv[0]}}).values
    before = count_checkpoints(service.checkpointer)[0], payload_bytes(service.checkpointer)
    service.checkpoints.sweep()
    after = count_checkpoints(service.checkpointer)[0], payload_bytes(service.checkpointer)
    window = max(1, min(20, turns // 3))
    return {
        "turns": turns,
        "cpu_ms_first": _summary(cpu_ms[:window]),
        "cpu_ms_last": _summary(cpu_ms[-window:]),
        "thread_messages": len(state.get("messages", [])),
        "history_max_messages": settings.history_max_messages,
        "checkpoints_before_sweep": before[0],
        "checkpoint_kb_before_sweep": round(before[1] / 1024, 1),
        "checkpoints_after_sweep": after[0],
        "checkpoint_kb_after_sweep": round(after[1] / 1024, 1),
    }


def run_ladder(
    *, turns: int = 60, timeout_s: float = 1.0, failovers: int = 5, long_turns: int = 120
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ladder-bench-") as tmp:
        settings, kb = _setup(Path(tmp))
        # 1. overhead with a zero-latency model, Full mode, single and multi-turn conversations
        primary = ScriptedChatModel(responder=grounded_answer)
        service = _service(settings, kb, [ModelSlot("scripted:primary", primary)])
        for q in QUESTIONS[:3]:  # warm-up: first embeddings, first queries
            _ask(service, _new(service), q)
        overhead: list[float] = []
        totals: list[float] = []
        modes: dict[str, int] = {}
        message_ids: list[int] = []
        conv = _new(service)
        for i in range(turns):
            if i % 3 == 0:
                conv = _new(service)
                text = QUESTIONS[(i // 3) % len(QUESTIONS)]
            else:
                text = FOLLOW_UPS[i % len(FOLLOW_UPS)]
            total_ms, result = _ask(service, conv, text)
            modes[result.mode] = modes.get(result.mode, 0) + 1
            message_ids.append(result.message.id)
            totals.append(total_ms)
        with session_scope(settings.database_url) as s:
            records = {
                r.message_id: r
                for r in s.scalars(select(TurnRecord).where(TurnRecord.message_id.in_(message_ids)))
            }
        for mid, total_ms in zip(message_ids, totals, strict=True):
            record = records.get(mid)
            llm_ms = sum(c.get("latency_ms", 0.0) for c in (record.llm_calls if record else {}).values())
            overhead.append(total_ms - llm_ms)

        # 2. failover: the primary hangs, the fallback answers
        failover_ms: list[float] = []
        failover_modes: dict[str, int] = {}
        for i in range(failovers):
            hung = ScriptedChatModel(responder=grounded_answer, latency_s=timeout_s * 30)
            backup = ScriptedChatModel(responder=grounded_answer)
            svc = _service(
                settings,
                kb,
                [ModelSlot("scripted:hung", hung), ModelSlot("scripted:backup", backup)],
                llm_model_timeout_s=timeout_s,
                llm_timeout_s=timeout_s * 3,
            )
            ms, result = _ask(svc, _new(svc), QUESTIONS[i % len(QUESTIONS)])
            failover_ms.append(ms)
            failover_modes[result.mode] = failover_modes.get(result.mode, 0) + 1

        # 3. fast failover: the primary answers 500 at once
        fast_ms: list[float] = []
        for i in range(failovers):
            broken = ScriptedChatModel(responder=lambda m: DependencyFault("server", "HTTP 500"))
            backup = ScriptedChatModel(responder=grounded_answer)
            svc = _service(
                settings,
                kb,
                [ModelSlot("scripted:broken", broken), ModelSlot("scripted:backup", backup)],
                llm_model_timeout_s=timeout_s,
                llm_timeout_s=timeout_s * 3,
                llm_max_retries=0,
            )
            ms, _ = _ask(svc, _new(svc), QUESTIONS[i % len(QUESTIONS)])
            fast_ms.append(ms)

        # 4. the only model hangs: Minimal within the turn's LLM budget + 1 s
        hang_ms: list[float] = []
        hang_modes: dict[str, int] = {}
        for i in range(failovers):
            hung = ScriptedChatModel(responder=grounded_answer, latency_s=timeout_s * 30)
            svc = _service(
                settings,
                kb,
                [ModelSlot("scripted:hung", hung)],
                llm_model_timeout_s=timeout_s,
                llm_timeout_s=timeout_s,
            )
            ms, result = _ask(svc, _new(svc), QUESTIONS[i % len(QUESTIONS)])
            hang_ms.append(ms)
            hang_modes[result.mode] = hang_modes.get(result.mode, 0) + 1

        # 5. one long conversation
        long = _long_conversation(settings, kb, long_turns) if long_turns else None

    timeout_ms = timeout_s * 1000
    report = {
        "turns": turns,
        "modes": modes,
        "overhead_ms": _summary(overhead),
        "turn_ms": _summary(totals),
        "timeout_s": timeout_s,
        "failover_ms": _summary(failover_ms),
        "failover_over_timeout": round(max(failover_ms) / timeout_ms, 3),
        "failover_modes": failover_modes,
        "fast_failover_ms": _summary(fast_ms),
        "hang_to_minimal_ms": _summary(hang_ms),
        "hang_to_minimal_modes": hang_modes,
        "hang_to_minimal_over_budget_plus_1s": round(max(hang_ms) / (timeout_ms + 1000), 3),
        "long_conversation": long,
    }
    _print(report)
    return report


def _print(r: dict[str, Any]) -> None:
    o, f, h = r["overhead_ms"], r["failover_ms"], r["hang_to_minimal_ms"]
    print(f"ladder benchmark: {r['turns']} turns, scripted zero-latency model, modes {r['modes']}")
    print(
        f"  non-LLM overhead per turn   p50 {o['p50']:.1f} ms   p95 {o['p95']:.1f} ms   (target p95 <= 50 ms)"
    )
    print(
        f"  failover (primary hangs)    p50 {f['p50']:.0f} ms   max {f['max']:.0f} ms   "
        f"= {r['failover_over_timeout']:.3f} x timeout {r['timeout_s']} s   (target <= 1.2)   "
        f"{r['failover_modes']}"
    )
    print(f"  fast failover (primary 500) p50 {r['fast_failover_ms']['p50']:.0f} ms")
    print(
        f"  only model hangs -> Minimal max {h['max']:.0f} ms  (budget {r['timeout_s']} s + 1 s)   "
        f"{r['hang_to_minimal_modes']}"
    )
    if (c := r.get("long_conversation")) is not None:
        first, last = c["cpu_ms_first"]["p50"], c["cpu_ms_last"]["p50"]
        print(
            f"  long conversation, {c['turns']} turns: CPU per turn p50 {first:.1f} ms at the start, "
            f"{last:.1f} ms at the end; thread holds {c['thread_messages']} messages "
            f"(HISTORY_MAX_MESSAGES {c['history_max_messages']}); "
            f"checkpoints {c['checkpoints_before_sweep']} ({c['checkpoint_kb_before_sweep']:.0f} KB) -> "
            f"{c['checkpoints_after_sweep']} ({c['checkpoint_kb_after_sweep']:.0f} KB) after a sweep"
        )
