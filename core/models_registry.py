"""Imports every module that declares tables, so migrations and `create_all` see the whole schema.

This is the one place core names the other packages, by module path only, for the migration tooling.
"""

from __future__ import annotations

import importlib

MODEL_MODULES = ("core.models", "knowledge.models", "handoff.models")


def load_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
