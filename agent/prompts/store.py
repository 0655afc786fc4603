"""Where a turn's prompts come from: the versioned files in this package, or (with
`PROMPTS_FROM_LANGFUSE=true`) Langfuse prompt management, with the files as the fallback.

A prompt module's texts (SYSTEM, USER, ...) travel as one Langfuse text prompt named after the module's NAME,
whose text is a JSON object of those texts (`python -m agent.prompts.sync` pushes them). A fetched prompt is
used only when it has exactly the module's texts with exactly the same `{placeholders}`; anything else, or
Langfuse not answering within its timeout, means the file. Fetched prompts are cached (`PROMPT_CACHE_S`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from core.config import Settings

logger = logging.getLogger(__name__)

__all__ = ["Prompt", "PromptStore", "local", "text_hash", "texts_of"]


def texts_of(module: ModuleType) -> dict[str, str]:
    """The module's upper-case text constants (its NAME aside), by name."""
    return {
        k: v for k, v in sorted(vars(module).items()) if k.isupper() and isinstance(v, str) and k != "NAME"
    }


def text_hash(texts: Mapping[str, str]) -> str:
    """SHA-256 (12 hex digits) of the texts by name: any wording change gives a new hash."""
    return hashlib.sha256("\n\x00".join(f"{k}={texts[k]}" for k in sorted(texts)).encode()).hexdigest()[:12]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Prompt:
    """One prompt as a turn uses it: `prompt.SYSTEM` reads like the module's constant."""

    name: str
    version: int
    hash: str
    source: str
    """"file" or "langfuse"."""
    texts: Mapping[str, str]

    def __getattr__(self, key: str) -> str:
        try:
            return self.texts[key]
        except KeyError:
            raise AttributeError(key) from None


@functools.cache
def local(module: ModuleType) -> Prompt:
    """The prompt as its file has it (computed once per module: files do not change while running)."""
    texts = texts_of(module)
    return Prompt(module.NAME, module.VERSION, text_hash(texts), "file", texts)


class PromptStore:
    def __init__(self, settings: Settings, *, client: Any | None = None) -> None:
        """`client`: the Langfuse client (the tracer's); without one, or with the setting off, files only."""
        self._client = client if settings.prompts_from_langfuse else None
        self._label = settings.prompt_label
        self._cache_s = settings.prompt_cache_s
        self._used: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, module: ModuleType) -> Prompt:
        prompt = self._fetch(module) or local(module)
        with self._lock:
            self._used[prompt.name] = prompt.hash
        return prompt

    def hashes(self, names: Mapping[str, Any] | list[str]) -> dict[str, str]:
        """The text hash of each named prompt as last used (the file's, for one not used yet)."""
        from agent.prompts import REGISTRY

        with self._lock:
            used = dict(self._used)
        return {n: used.get(n) or REGISTRY[n][1] for n in names if n in used or n in REGISTRY}

    def _fetch(self, module: ModuleType) -> Prompt | None:
        if self._client is None:
            return None
        fallback = local(module)
        try:
            fetched = self._client.get_prompt(
                module.NAME,
                label=self._label,
                type="text",
                fallback=json.dumps(fallback.texts),
                cache_ttl_seconds=self._cache_s,
                max_retries=0,
                fetch_timeout_seconds=2,
            )
        except Exception:
            logger.warning("prompt %s: Langfuse did not answer; using the file", module.NAME, exc_info=True)
            return None
        if getattr(fetched, "is_fallback", False):
            return None
        try:
            texts = json.loads(fetched.prompt)
        except (TypeError, ValueError):
            logger.warning(
                "prompt %s v%s in Langfuse is not a JSON object of texts", module.NAME, fetched.version
            )
            return None
        if not _compatible(texts, fallback.texts):
            logger.warning(
                "prompt %s v%s in Langfuse does not have the file's texts and placeholders; using the file",
                module.NAME,
                fetched.version,
            )
            return None
        return Prompt(module.NAME, int(fetched.version), text_hash(texts), "langfuse", texts)


def _compatible(texts: Any, expected: Mapping[str, str]) -> bool:
    """Same text names, all strings, and the same `{placeholders}` in each (the code fills them in)."""
    if not isinstance(texts, dict) or set(texts) != set(expected):
        return False
    return all(isinstance(texts[k], str) and _fields(texts[k]) == _fields(expected[k]) for k in expected)
