"""Normalise and bound the customer's text; run the input rails; spot empty input and curated intents.

The text arrives with its personal data already masked by the service (core/pii_vault.py), so nothing
here, and nothing after, sees it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.guards.input import judge, judge_deadline, screen_message
from agent.intents import curated_intent
from agent.nodes._timing import timed
from agent.prompts import judge as judge_prompt
from agent.prompts import minimal
from agent.state import TurnState
from core.text import clean_customer_text


def _latest_customer_message(state: TurnState) -> AnyMessage | None:
    for msg in reversed(state.get("messages", [])):
        if msg.type == "human":
            return msg
    return None


def _earlier_refusals(state: TurnState) -> int:
    return sum(1 for t in state.get("turn_log", []) if t.get("outcome") == "refused")


@timed("screen_input")
def screen_input(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Decide what kind of turn this is before any retrieval: blocked, curated, or a question."""
    ctx = runtime.context
    settings = ctx.settings
    latest = _latest_customer_message(state)
    clean = clean_customer_text(str(latest.content) if latest else "", max_chars=settings.max_message_chars)
    if ctx.cut_from is not None:  # the service cut it before masking: it was truncated all the same
        clean = replace(clean, truncated=True, original_length=ctx.cut_from)
    intent = "empty" if not clean.text else curated_intent(clean.text)
    guards: dict[str, Any] = {
        "input": {"truncated": clean.truncated, "original_length": clean.original_length}
    }
    update: dict[str, Any] = {
        "text": clean.text,
        "truncated": clean.truncated,
        "intent": intent,
        "blocked": None,
        "passages": [],
        "citations": [],
        "confidence": 0.0,
        "handoff_reason": None,
        "guards": guards,
    }
    if not clean.text:
        return update
    screen = screen_message(clean.text, ctx.policy, classifier=settings.guard_classifier)
    guards.update(screen.verdicts)
    blocked = (
        {"rail": screen.rail, "reply": screen.reply, "handoff": screen.handoff} if screen.blocked else None
    )
    if screen.suspicious and state.get("mode") == "full" and ctx.llm is not None and settings.guard_llm_judge:
        prompt = ctx.prompt(judge_prompt)
        result = judge(
            clean.text,
            prompt=prompt,
            llm=ctx.llm,
            company=settings.company_name,
            deadline=judge_deadline(ctx.deadline, settings.llm_rewrite_timeout_s),
            skip=ctx.failed_models,
        )
        if result is None:
            guards["judge"] = {"skipped": "no model answered in time"}
        else:
            guards["judge"] = {"attack": result.value.attack, "reason": result.value.reason[:200]}
            update["llm_usage"] = {"judge": result.usage.as_dict()}
            update["prompt_versions"] = {prompt.name: prompt.version}
            if result.value.attack:
                blocked = {"rail": "judge", "reply": minimal.REFUSE_MANIPULATION, "handoff": False}
    if blocked is not None:
        rail = str(blocked["rail"])
        repeated = _earlier_refusals(state) + 1 >= settings.guard_handoff_after_refusals
        if blocked["handoff"] or repeated:
            why = "the policy sends this to a person" if blocked["handoff"] else "repeated blocked messages"
            guards[rail] = {**guards.get(rail, {}), "escalate": True, "reason": why}
        update["blocked"] = blocked
        if latest is not None and latest.id:  # the history keeps a placeholder: no later model reads it
            update["messages"] = [HumanMessage(content=minimal.WITHHELD, id=latest.id)]
    return update
