"""Handoff: assess the triggers of a turn, hand the conversation to a person, wait while they own it.

`assess_turn` runs on every turn. When a trigger escalates, `hand_off` writes the packet (an LLM summary in
Full and Degraded modes, a template in Minimal mode or when the model fails) and tells the customer a person
is coming; the service queues the ticket with the reply. `await_human` then interrupts the thread: the bot
stays silent until an agent hands the conversation back (or resolves it) and the thread is resumed with
what was said in the meantime, so the bot continues with the context kept.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.context import TurnContext
from agent.generation import parse_text
from agent.guards.input import screen_message
from agent.history import earlier_turns
from agent.llm import AllModelsFailed
from agent.nodes._timing import timed
from agent.prompts import handoff as handoff_prompt
from agent.prompts import minimal
from agent.prompts.store import Prompt
from agent.state import TurnState
from handoff.packet import REASON_LABEL, build_packet, template_summary
from handoff.reasons import HandoffReason
from handoff.triggers import EarlierTurn, Trigger
from handoff.triggers.assess import assess, guard_escalations

logger = logging.getLogger(__name__)

_TRANSCRIPT_TURNS = 16
_TRANSCRIPT_CHARS = 6000
TURN_LOG_LIMIT = 20
"""Earlier customer turns the triggers and the packet look back over."""


def _earlier(state: TurnState) -> list[EarlierTurn]:
    return [
        EarlierTurn(text=t.get("text", ""), outcome=t.get("outcome", ""), sentiment=t.get("sentiment"))
        for t in state.get("turn_log", [])
    ]


def _as_dict(t: Trigger) -> dict[str, Any]:
    return {"reason": t.reason.value, "evidence": t.evidence, "escalate": t.escalate, "detail": t.detail}


@timed("assess")
def assess_turn(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Score the message and run every trigger; the first escalating trigger routes to `hand_off`."""
    result = assess(
        state.get("text", ""),
        earlier=_earlier(state),
        settings=runtime.context.settings,
        risky_topics=runtime.context.policy.risk.handoff_topics,
        guards=state.get("guards", {}),
    )
    return {
        "sentiment": round(result.sentiment, 4),
        "triggers": [_as_dict(t) for t in result.triggers],
        "handoff": None,
        "guards": {"handoff": {"sentiment": round(result.sentiment, 4), "trend": result.trend}},
    }


def _transcript(state: TurnState) -> str:
    turns = earlier_turns(state.get("messages", []), limit=_TRANSCRIPT_TURNS)
    lines = [f"{'Customer' if t.role == 'customer' else 'Assistant'}: {t.text}" for t in turns]
    lines.append(f"Customer: {state.get('text', '')}")
    text = "\n".join(lines)
    return text[-_TRANSCRIPT_CHARS:]


def _summary_messages(state: TurnState, reason: str, prompt: Prompt) -> list[BaseMessage]:
    return [
        SystemMessage(prompt.SYSTEM),
        HumanMessage(prompt.USER.format(reason=reason, transcript=_transcript(state))),
    ]


@timed("hand_off")
def hand_off(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    fired_data = list(state.get("triggers", []))
    if not any(t["escalate"] for t in fired_data):  # a guard on the answer escalated after assessment
        fired_data = [_as_dict(t) for t in guard_escalations(state.get("guards", {}))] + fired_data
    first = next(t for t in fired_data if t["escalate"])
    triggers = [
        Trigger(
            reason=HandoffReason(t["reason"]),
            evidence=t["evidence"],
            escalate=t["escalate"],
            detail=t.get("detail", {}),
        )
        for t in fired_data
    ]
    earlier = list(state.get("turn_log", []))
    sentiments = [t["sentiment"] for t in earlier if t.get("sentiment") is not None]
    sentiments.append(state.get("sentiment") or 0.0)
    trend = state.get("guards", {}).get("handoff", {}).get("trend", "n/a")
    update: dict[str, Any] = {"llm_usage": {}, "prompt_versions": {minimal.NAME: minimal.VERSION}}

    summary, source = "", "template"
    # a message the input rails blocked is never shown to a model, not even to summarise it
    if state.get("mode") in ("full", "degraded") and ctx.llm is not None and not state.get("blocked"):
        label = f"{REASON_LABEL.get(first['reason'], first['reason'])} ({first['evidence']})"
        prompt = ctx.prompt(handoff_prompt)
        try:
            result = ctx.llm.run(
                "handoff_summary",
                lambda slot, primary: (_summary_messages(state, label, prompt), None),
                parse_text,
                deadline=min(ctx.deadline, time.monotonic() + ctx.settings.llm_model_timeout_s),
                skip=ctx.failed_models,
                optional=True,
            )
            summary, source = " ".join(str(result.value).split())[:1200], "llm"
            update["llm_usage"]["handoff_summary"] = result.usage.as_dict()
            update["prompt_versions"][prompt.name] = prompt.version
        except AllModelsFailed as exc:
            logger.warning("handoff summary by template: %s", exc)
    if not summary:
        summary = template_summary(
            reason=first["reason"],
            triggers=triggers,
            current=state.get("text", ""),
            earlier=earlier,
            trend=trend,
        )
    packet = build_packet(
        reason=first["reason"],
        triggers=triggers,
        summary=summary,
        summary_source=source,
        current=state.get("text", ""),
        earlier=earlier,
        sentiments=sentiments,
        trend=trend,
        confidence=state.get("confidence") or (earlier[-1].get("confidence") if earlier else None),
        guards=dict(state.get("guards", {})),
        mode=state.get("mode", "minimal"),
    )
    note = minimal.HANDOFF_NOTES.get(str(first.get("detail", {}).get("topic", "")), "") or str(
        (state.get("blocked") or {}).get("reply") or ""
    )
    return update | {
        "reply": f"{note}\n\n{minimal.HANDOFF}" if note else minimal.HANDOFF,
        "citations": [],
        "outcome": "handoff",
        "handoff_reason": first["reason"],
        "handoff": packet,
        "triggers": fired_data,
        "answer_source": "curated",
    }


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def thread_messages(transcript: list[dict[str, Any]], context: TurnContext) -> list[BaseMessage]:
    """What a person and the customer said while the person held the chat ({id, role, content, author},
    oldest first), as the thread keeps it: the customer's words screened like any message, the person's
    under their name. Ids from the message ids, so adding the same lines again changes nothing."""
    messages: list[BaseMessage] = []
    for m in transcript:
        if m.get("role") == "customer":
            content = m["content"]
            if screen_message(content, context.policy, classifier=context.settings.guard_classifier).blocked:
                content = minimal.WITHHELD
            messages.append(HumanMessage(content=content, id=f"m{m['id']}"))
        elif m.get("role") == "agent":
            name = _NAME_CHARS.sub("_", str(m.get("author") or "agent"))[:60]
            messages.append(AIMessage(content=m["content"], name=name, id=f"a{m['id']}"))
    return messages


def await_human(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Pause the thread until a person hands it back; resume with what was said meanwhile.

    The resume value: {"status": "returned"|"resolved", "by": name, "transcript": [{id, role, content,
    author}]} — the customer's and the agent's messages since the handoff, oldest first.
    """
    resumed = interrupt(
        {"conversation_id": state.get("conversation_id"), "reason": state.get("handoff_reason")}
    )
    transcript = resumed.get("transcript", []) if isinstance(resumed, dict) else []
    return {
        "messages": thread_messages(transcript, runtime.context),
        "handoff": None,
        "turn_log": [],
        "summary_upto": state.get("summary_upto", 0),
    }


def log_turn(state: TurnState, reply: str) -> list[dict[str, Any]]:
    """The turn log with this turn appended (what later triggers and packets read), bounded."""
    cited = [f"{c['title']} › {c['section']}" for c in state.get("citations", [])]
    entry = {
        "text": state.get("text", "")[:500],
        "outcome": state.get("outcome", "failed"),
        "sentiment": state.get("sentiment"),
        "answer": reply[:500],
        "citations": cited,
        "confidence": state.get("confidence"),
    }
    return [*state.get("turn_log", []), entry][-TURN_LOG_LIMIT:]
