"""Prompts and reply templates are code: each module has a NAME and a VERSION, recorded in every turn record
with a hash of its text (a wording change without a version bump still shows up as a new hash)."""

from types import ModuleType

from agent.prompts import answer, handoff, judge, minimal, rewrite, summarise
from agent.prompts.store import local

SYSTEM_PROMPTS: tuple[str, ...] = (
    answer.SYSTEM,
    answer.DEGRADED_NOTE,
    handoff.SYSTEM,
    judge.SYSTEM,
    rewrite.SYSTEM,
    summarise.SYSTEM,
)
"""Every instruction text a model is given: the output rail blocks replies that repeat them."""

MODULES: tuple[ModuleType, ...] = (answer, handoff, judge, minimal, rewrite, summarise)


REGISTRY: dict[str, tuple[int, str]] = {m.NAME: (m.VERSION, local(m).hash) for m in MODULES}
"""Prompt name -> (version, hash of its text)."""
