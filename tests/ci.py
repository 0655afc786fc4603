"""What a test does when a service it needs is missing: skip on a developer's machine, fail in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str, *, what: str) -> NoReturn:
    """Skip locally; under `CI` the clean machine must have installed it, so a missing `what` is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI must run the {what}")
    pytest.skip(reason)
