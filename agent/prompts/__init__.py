"""Prompts and reply templates are code: each module has a NAME and a VERSION, recorded in every turn record
with a hash of its text (a wording change without a version bump still shows up as a new hash)."""

import hashlib
from collections.abc import Iterable
from types import ModuleType

from agent.prompts import answer, handoff, judge, minimal, rewrite, summarise

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


def _text_hash(module: ModuleType) -> str:
    """SHA-256 (12 hex digits) of every upper-case text constant of the module, by name."""
    texts = sorted(
        (k, v) for k, v in vars(module).items() if k.isupper() and isinstance(v, str) and k != "NAME"
    )
    return hashlib.sha256("\n\x00".join(f"{k}={v}" for k, v in texts).encode()).hexdigest()[:12]


REGISTRY: dict[str, tuple[int, str]] = {m.NAME: (m.VERSION, _text_hash(m)) for m in MODULES}
"""Prompt name -> (version, hash of its text)."""


def hashes(names: Iterable[str]) -> dict[str, str]:
    """The text hash of each named prompt (unknown names are skipped)."""
    return {name: REGISTRY[name][1] for name in names if name in REGISTRY}
