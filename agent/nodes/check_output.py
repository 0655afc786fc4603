"""Output rails, before anything reaches the customer.

1. Citations: every [n] marker names a citation of this turn, every citation a passage of this turn, every
   quote is verbatim.
2. Support (generated answers): each factual sentence must be supported by the passage it cites;
   unsupported sentences are removed, and when nothing factual is left the customer gets a safe reply and
   a person.
3. Policy: commitments the policy does not grant, profanity and insults, brand disparagement, competitors,
   system-prompt leaks, unlawful advice, and personal data that is not the customer's own.
A generated answer that fails is replaced by the passages quoted verbatim (checked again); when even
that fails, the safe reply. Every verdict goes into the turn record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from agent.context import TurnContext
from agent.extractive import quote_is_from
from agent.guards.leaks import pii_leaks
from agent.guards.output import Violation, blocked, check_reply, redact
from agent.guards.support import check_support
from agent.nodes._timing import timed
from agent.nodes.answer import extractive_answer
from agent.prompts import SYSTEM_PROMPTS, minimal
from agent.state import TurnState
from core.pii_vault import public_values

_MARKER = re.compile(r"\[(\d+)\]")


def citation_problems(
    reply: str, citations: list[dict[str, Any]], passages: list[dict[str, Any]]
) -> list[str]:
    """What is wrong with the reply's citations; empty when all is well."""
    problems: list[str] = []
    by_n = {c["n"]: c for c in citations}
    texts = {p["id"]: p["text"] for p in passages}
    for n in {int(m) for m in _MARKER.findall(reply)}:
        if n not in by_n:
            problems.append(f"marker [{n}] has no citation")
    for c in citations:
        if c["chunk_id"] not in texts:
            problems.append(f"citation [{c['n']}] is not a passage of this turn")
        elif not quote_is_from(c["quote"], texts[c["chunk_id"]]):
            problems.append(f"citation [{c['n']}] quotes text the passage does not contain")
    return problems


def policy_violations(
    reply: str,
    citations: list[dict[str, Any]],
    texts: Mapping[str, str],
    ctx: TurnContext,
    *,
    generated: bool = True,
) -> list[Violation]:
    """The policy rails' verdicts (`texts`: this turn's passage text by chunk id). Quoted help-center text
    (`generated=False`) is the policy itself, scanned at ingestion and by the retrieval rail: only the
    PII-leak rail applies to it (a passage may state what the company does not grant, which the commitment
    rail would read as a promise)."""
    leaks = pii_leaks(reply, public=public_values(tuple(ctx.policy.brand.contacts)))
    if not generated:
        return leaks
    found = check_reply(
        reply, citations=citations, passages=texts, policy=ctx.policy, system_prompts=SYSTEM_PROMPTS
    )
    return found + leaks


def _recorded(violations: list[Violation]) -> list[dict[str, Any]]:
    return [asdict(v) for v in violations]


def _safe(earlier: dict[str, Any], verdict: dict[str, Any], *, escalate_reason: str) -> dict[str, Any]:
    """The honest "not in the help center" reply, and a person."""
    output = verdict | {"escalate": True, "reason": escalate_reason}
    return {
        "reply": minimal.UNKNOWN,
        "citations": [],
        "outcome": "unknown",
        "guards": {**earlier, "output": output},
    }


def _quoted_instead(
    state: TurnState,
    runtime: Runtime[TurnContext],
    why: str,
    earlier: dict[str, Any],
    verdict: dict[str, Any],
    texts: Mapping[str, str],
) -> dict[str, Any]:
    """The passages quoted verbatim in place of a generated answer that failed a rail; checked as well.
    `earlier` holds the verdicts recorded so far, `verdict` the output rail's."""
    fallback = extractive_answer(state, runtime)
    passages = state.get("passages", [])
    if citation_problems(fallback["reply"], fallback["citations"], passages) or blocked(
        policy_violations(fallback["reply"], fallback["citations"], texts, runtime.context, generated=False)
    ):
        return _safe(earlier, verdict, escalate_reason=f"{why}, and the quoted passages failed too")
    return fallback | {
        "mode": "minimal",
        "mode_reason": f"{why}; passages quoted instead",
        "guards": {**earlier, "output": verdict | {"fallback": "extractive"}},
    }


@timed("check_output")
def check_output(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """The rails' verdicts; when they change the reply, the page is told to drop what it streamed."""
    update = _check(state, runtime)
    if "reply" in update and update["reply"] != state.get("reply"):
        runtime.stream_writer({"reset": True})
    return update


def _check(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    passages = state.get("passages", [])
    texts = {p["id"]: p["text"] for p in passages}
    reply = state.get("reply", "")
    citations = [dict(c) for c in state.get("citations", [])]
    generated = state.get("answer_source") == "llm"
    problems = citation_problems(reply, citations, passages)
    if problems:
        earlier = {"citations": {"blocked": problems}}
        if generated:  # a generated answer failed: quote the passages instead
            why = "the model's answer failed the citation check"
            return _quoted_instead(state, runtime, why, earlier, {"citations": problems}, texts)
        return {"reply": minimal.UNKNOWN, "citations": [], "outcome": "unknown", "guards": earlier}
    update: dict[str, Any] = {"guards": {"citations": "ok"}}
    # The policy rails read the answer as written first: a commitment or an insult is recorded (and the
    # answer replaced) even when the support check would have removed those sentences anyway.
    violations = policy_violations(reply, citations, texts, runtime.context, generated=generated)
    if blocked(violations) or (violations and not generated):
        rails = ", ".join(sorted({v.rail for v in violations}))
        verdict = {"blocked": _recorded(violations)}
        if generated:
            why = f"the model's answer broke the policy ({rails})"
            return _quoted_instead(state, runtime, why, update["guards"], verdict, texts)
        why = f"the quoted passages broke the policy ({rails})"
        return _safe(update["guards"], verdict, escalate_reason=why)
    if violations:  # sentence-level problems in a generated answer: remove those sentences, keep the rest
        update["guards"]["output"] = {"removed": _recorded(violations)}
        reply, citations = redact(reply, citations, violations)
        update |= {"reply": reply, "citations": citations}
    if generated and _MARKER.search(reply):
        support = check_support(reply, citations=citations, passages=texts)
        if support.removed:
            update["guards"]["support"] = {"removed": [s[:200] for s in support.removed]}
            if support.answers:
                update |= {"reply": support.reply, "citations": [dict(c) for c in support.citations]}
            else:
                update["guards"]["support"] |= {
                    "escalate": True,
                    "reason": "no sentence of the answer was supported by the passage it cites",
                }
                return update | {"reply": minimal.UNKNOWN, "citations": [], "outcome": "unknown"}
    elif generated:  # the policy rails removed every cited sentence: quote the passages instead
        why = "nothing cited was left of the model's answer"
        earlier = {k: v for k, v in update["guards"].items() if k != "output"}
        return _quoted_instead(state, runtime, why, earlier, update["guards"].get("output", {}), texts)
    return update
