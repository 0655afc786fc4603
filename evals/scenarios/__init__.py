"""Named guardrail scenarios: the real incidents that sank other support bots, replayed against this one.

Each scenario is a short conversation. It runs twice: in Minimal mode (no model) and with a scripted
adversarial model that tries to comply with every manipulation (it writes the harmful answer, cites a
passage so it looks grounded, and clears every message it is asked to judge). The rails must stop it:
no reply may contain what the incident produced, and no answer the adversary wrote may reach the
customer unchanged. `python -m evals.scenarios` runs them over the configured knowledge base.
"""

from __future__ import annotations

from evals.scenarios.catalogue import SCENARIOS, Scenario
from evals.scenarios.runner import ScenarioResult, TurnOutcome, run_scenario

__all__ = ["SCENARIOS", "Scenario", "ScenarioResult", "TurnOutcome", "run_scenario"]
