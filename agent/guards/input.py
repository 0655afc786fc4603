"""The input rails of one customer message, after normalisation and PII masking.

Layers, cheapest first: injection and jailbreak heuristics (core/injection.py), the deployment policy's
out-of-policy topics (agent/guards/topics.py), and in Full mode only an LLM judge for the grey band. The
same `screen_message` is what `python -m evals.bench guard` measures.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from agent.generation import parse_tool
from agent.guards.topics import out_of_policy
from agent.llm import AllModelsFailed, LadderResult, LLMLadder
from agent.prompts import judge as judge_prompt
from agent.prompts import minimal
from agent.prompts.store import Prompt
from core.faults import DependencyFault
from core.injection import InjectionVerdict, detect_injection
from core.injection_model import load_model
from core.policy import Policy

logger = logging.getLogger(__name__)

__all__ = ["InputScreen", "judge", "screen_message"]


@dataclass(frozen=True)
class InputScreen:
    """What the input rails decided about one message."""

    blocked: bool
    rail: str | None = None
    """"injection" or "policy" when blocked."""
    reply: str | None = None
    """The polite refusal the customer gets when blocked."""
    handoff: bool = False
    """The policy sends this kind of request to a person as well."""
    suspicious: bool = False
    """Injection heuristics in the grey band: worth a judge's second opinion when one is available."""
    injection: InjectionVerdict | None = None
    verdicts: dict[str, Any] = field(default_factory=dict)
    """For the turn record and the trace: one entry per rail that had something to say."""


def _injection_record(v: InjectionVerdict) -> dict[str, Any]:
    return {
        "verdict": v.verdict,
        "score": round(v.score, 3),
        "category": v.category,
        "evidence": list(v.evidence),
    }


def screen_message(text: str, policy: Policy, *, classifier: bool = True) -> InputScreen:
    """Heuristics, then the local classifier stage (`classifier`), then the policy's topics; no LLM.

    Fast enough for every turn and for the benchmark."""
    verdict = detect_injection(text)
    verdicts: dict[str, Any] = {"injection": _injection_record(verdict)}
    model = load_model() if classifier and not verdict.blocked else None
    if model is not None:
        probability = model.probability(text)
        verdicts["classifier"] = {"p_attack": round(probability, 3), "threshold": model.threshold}
        if probability >= model.threshold:
            verdict = InjectionVerdict("attack", probability, "classifier", ("local classifier",))
            verdicts["injection"] = _injection_record(verdict)
    if verdict.blocked:
        return InputScreen(
            True, "injection", minimal.REFUSE_MANIPULATION, injection=verdict, verdicts=verdicts
        )
    topic = out_of_policy(text, policy)
    if topic is not None:
        verdicts["policy"] = {"topic": topic.name, "evidence": topic.evidence, "handoff": topic.handoff}
        return InputScreen(
            True, "policy", topic.reply, handoff=topic.handoff, injection=verdict, verdicts=verdicts
        )
    return InputScreen(
        False, suspicious=verdict.verdict == "suspicious", injection=verdict, verdicts=verdicts
    )


def _parse_verdict(message: AIMessageChunk) -> judge_prompt.Verdict:
    parsed = parse_tool(message, judge_prompt.Verdict)
    if parsed is None:
        raise DependencyFault("malformed", "the judge did not call the Verdict tool")
    return parsed


def judge(
    text: str,
    *,
    llm: LLMLadder,
    company: str,
    deadline: float,
    skip: dict[str, str],
    prompt: Prompt | ModuleType = judge_prompt,
) -> LadderResult | None:
    """The primary model's verdict on a suspicious message; None when it could not give one in time."""
    messages = [
        SystemMessage(prompt.SYSTEM.format(company=company)),
        HumanMessage(prompt.USER.format(message=text.replace("</message>", "</ message>"))),
    ]
    try:
        return llm.run(
            "judge",
            lambda slot, primary: (messages, [judge_prompt.Verdict]),
            _parse_verdict,
            deadline=deadline,
            skip=skip,
            only_primary=True,
            optional=True,
        )
    except AllModelsFailed as exc:
        logger.warning("injection judge unavailable: %s", exc)
        return None


def judge_deadline(turn_deadline: float, budget_s: float) -> float:
    return min(turn_deadline, time.monotonic() + budget_s)
