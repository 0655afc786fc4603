"""Where a turn goes next: `agent.routing`."""

from __future__ import annotations

import pytest

from agent.routing import after_assess, after_check, after_deliver, after_retrieve

PASSAGE = {"id": "refunds#timing-0123456789", "text": "Refunds take 3–5 business days."}


ESCALATE = {"reason": "explicit_request", "evidence": "a human", "escalate": True, "detail": {}}
OFFER = {"reason": "low_confidence", "evidence": "weak", "escalate": False, "detail": {}}


@pytest.mark.parametrize("intent", ["empty", "greeting", "thanks"])
def test_curated_intents_get_a_curated_reply(intent):
    assert after_assess({"intent": intent}) == "curated_reply"


def test_a_question_about_reaching_support_quotes_the_contact_details():
    assert after_assess({"intent": "contact"}) == "offer_contact"


@pytest.mark.parametrize("intent", [None, "greeting", "contact"])
def test_an_escalating_trigger_hands_off_whatever_the_intent(intent):
    assert after_assess({"intent": intent, "triggers": [OFFER, ESCALATE]}) == "hand_off"


def test_a_trigger_that_only_offers_a_person_does_not_hand_off():
    assert after_assess({"intent": None, "triggers": [OFFER]}) == "retrieve"


@pytest.mark.parametrize("state", [{}, {"intent": None}, {"intent": "something-new"}])
def test_anything_else_goes_to_retrieval(state):
    assert after_assess(state) == "retrieve"


def test_a_handed_off_turn_waits_for_the_person_and_others_end():
    assert after_deliver({"handoff": {"reason": "explicit_request"}}) == "await_human"
    assert after_deliver({"handoff": None}) == "__end__"
    assert after_deliver({}) == "__end__"


def test_confidence_above_the_threshold_answers():
    assert after_retrieve({"passages": [PASSAGE], "confidence": 0.61}, min_confidence=0.6) == "answer"


def test_confidence_exactly_at_the_threshold_answers():
    assert after_retrieve({"passages": [PASSAGE], "confidence": 0.6}, min_confidence=0.6) == "answer"


def test_confidence_just_below_the_threshold_says_unknown():
    assert after_retrieve({"passages": [PASSAGE], "confidence": 0.5999}, min_confidence=0.6) == "say_unknown"


def test_no_passages_says_unknown_whatever_the_confidence():
    assert after_retrieve({"passages": [], "confidence": 0.99}, min_confidence=0.6) == "say_unknown"
    assert after_retrieve({"confidence": 0.99}, min_confidence=0.6) == "say_unknown"


def test_missing_confidence_counts_as_zero():
    assert after_retrieve({"passages": [PASSAGE]}, min_confidence=0.0) == "answer"
    assert after_retrieve({"passages": [PASSAGE]}, min_confidence=0.01) == "say_unknown"


def test_a_guard_that_escalates_the_answer_hands_off_instead_of_sending_it():
    escalating = {
        "input": {"truncated": False},
        "output": {"escalate": True, "reason": "unauthorised promise"},
    }
    assert after_check({"guards": escalating}) == "hand_off"
    assert after_check({"guards": {"output": {"escalate": False}}}) == "deliver"
    assert after_check({}) == "deliver"


# a node and its route in one step: agent.graph.routed --------------------------------------------------


def test_a_routed_node_routes_on_the_state_with_its_update_merged_by_each_keys_reducer():
    from langgraph.types import Command

    from agent.graph import routed
    from agent.state import RESET

    def check(state, runtime):  # type: ignore[no-untyped-def]
        return {"guards": {"output": {"escalate": True, "reason": "a promise"}}, "reply": "no"}

    step = routed(check, route=after_check)
    state = {"guards": {"input": {"blocked": False}}, "reply": "yes"}
    result = step(state, None)  # type: ignore[arg-type]
    assert isinstance(result, Command) and result.goto == "hand_off"
    assert dict(result.update) == check(state, None)  # the update itself is what the graph merges
    assert routed(check, route=after_check)({"guards": {}}, None).goto == "hand_off"  # type: ignore[arg-type]

    def quiet(state, runtime):  # type: ignore[no-untyped-def]
        return {"guards": {RESET: True, "input": {}}}

    escalated = {"guards": {"output": {"escalate": True}}}
    assert routed(quiet, route=after_check)(escalated, None).goto == "deliver"  # type: ignore[arg-type]


def test_chained_steps_see_each_others_updates_and_the_graph_gets_every_update_in_order():
    from agent.graph import routed

    def first(state, runtime):  # type: ignore[no-untyped-def]
        return {"intent": "greeting", "guards": {"input": {"ok": True}}, "text": "hi"}

    def second(state, runtime):  # type: ignore[no-untyped-def]
        assert state["intent"] == "greeting" and state["guards"] == {"old": 1, "input": {"ok": True}}
        return {"triggers": [], "guards": {"assess": {"ok": True}}, "text": "hi there"}

    result = routed(first, second, route=after_assess)({"guards": {"old": 1}}, None)  # type: ignore[arg-type]
    assert result.goto == "curated_reply"
    assert result.update == [
        ("guards", {"input": {"ok": True}}),
        ("guards", {"assess": {"ok": True}}),
        ("intent", "greeting"),
        ("text", "hi there"),
        ("triggers", []),
    ]


def test_a_destination_run_inline_takes_its_step_in_the_same_graph_step_and_routes_on():
    from agent.graph import routed

    def check(state, runtime):  # type: ignore[no-untyped-def]
        return {"guards": {"output": {"escalate": state.get("risky", False)}}}

    def deliver(state, runtime):  # type: ignore[no-untyped-def]
        return {"reply": "delivered", "handoff": None}

    step = routed(check, route=after_check, inline={"deliver": (deliver, after_deliver)})
    calm = step({"reply": "fine"}, None)  # type: ignore[arg-type]
    assert calm.goto == "__end__" and ("reply", "delivered") in calm.update
    risky = step({"risky": True}, None)  # type: ignore[arg-type]
    assert risky.goto == "hand_off" and all(key != "reply" for key, _ in risky.update)
