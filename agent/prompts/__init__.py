"""Prompts and reply templates are code: each has a NAME and a VERSION recorded in every turn record."""

from agent.prompts import answer, handoff, judge, rewrite, summarise

SYSTEM_PROMPTS: tuple[str, ...] = (
    answer.SYSTEM,
    answer.DEGRADED_NOTE,
    handoff.SYSTEM,
    judge.SYSTEM,
    rewrite.SYSTEM,
    summarise.SYSTEM,
)
"""Every instruction text a model is given: the output rail blocks replies that repeat them."""
