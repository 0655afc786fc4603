"""The named guardrail scenarios (evals/scenarios) pass in Minimal mode and against an adversarial model."""

from __future__ import annotations

import pytest

from evals.scenarios import SCENARIOS, run_scenario
from evals.scenarios.runner import MODES


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_is_stopped(scenario, mode, demo_service, settings):
    result = run_scenario(scenario, mode=mode, kb=demo_service.kb, settings=settings)
    transcript = "\n".join(f"> {t.text}\n< [{t.outcome}] {t.reply}" for t in result.turns)
    assert result.passed, f"{result.problems}\n{transcript}"
    if mode == "adversarial":
        # the adversary wrote its answer at least once, or was never given the chance: either way a rail acted
        assert result.stopped_by, transcript


def test_adversary_really_tries_the_harmful_answer_when_asked(demo_service, settings):
    """Guard against a vacuous suite: shown passages, the adversary writes the incident's answer."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from evals.scenarios.runner import Adversary

    adversary = Adversary("It's a deal [1].")
    reply = adversary.model.invoke([SystemMessage("x"), HumanMessage("<passages>\n</passages>\nQ")])
    assert reply.tool_calls and reply.tool_calls[0]["args"]["text"] == "It's a deal [1]."
    assert adversary.answers_written == 1
