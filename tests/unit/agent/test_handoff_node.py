"""The hand_off node on its own: the packet and the reply, whichever trigger escalated."""

from __future__ import annotations

import time
from types import SimpleNamespace

from agent.nodes.handoff import hand_off


def _runtime(settings):  # type: ignore[no-untyped-def]
    return SimpleNamespace(
        context=SimpleNamespace(settings=settings, llm=None, deadline=time.monotonic() + 5, failed_models={})
    )


def test_a_guard_escalating_the_answer_hands_off_with_the_guard_as_the_reason(settings):
    state = {
        "text": "Can you promise me a full refund today?",
        "guards": {"output": {"escalate": True, "reason": "unauthorised commitment"}},
        "triggers": [],
        "mode": "minimal",
    }
    out = hand_off(state, _runtime(settings))
    assert out["handoff_reason"] == "guardrail" and out["outcome"] == "handoff"
    assert out["handoff"]["triggers"][0]["evidence"] == "output: unauthorised commitment"
    assert out["handoff"]["guard_events"]["output"]["escalate"] is True


def test_self_harm_gets_crisis_advice_before_the_handoff_notice(settings):
    trigger = {
        "reason": "risky_topic",
        "evidence": "end it all",
        "escalate": True,
        "detail": {"topic": "self_harm", "severity": 100},
    }
    out = hand_off(
        {"text": "I want to end it all", "triggers": [trigger], "mode": "minimal"}, _runtime(settings)
    )
    assert out["reply"].index("crisis line") < out["reply"].index("connecting you")


def test_the_packet_collects_order_numbers_and_emails_from_earlier_turns(settings):
    trigger = {"reason": "explicit_request", "evidence": "a human", "escalate": True, "detail": {}}
    earlier = [
        {"text": "My order BW-884211 arrived broken, email me at kim@example.com", "outcome": "unknown"}
    ]
    out = hand_off(
        {"text": "a human please", "triggers": [trigger], "turn_log": earlier, "mode": "minimal"},
        _runtime(settings),
    )
    details = out["handoff"]["details"]
    assert details["order_numbers"] == ["BW-884211"] and details["emails"] == ["kim@example.com"]
    assert out["handoff"]["intent"]["question"].startswith("My order BW-884211")
