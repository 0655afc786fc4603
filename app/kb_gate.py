"""The knowledge base change gate, shared by the studio page and the HTTP API: before a draft goes live,
play the eval cases it affects (`python -m evals.changes kb`) against what is served and against the draft.

A separate process with exactly this service's settings, so a serving process never loads the eval suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from core.config import PROJECT_ROOT, Settings

EVAL_CHECK_TIMEOUT_S = 300


def kb_eval_check(settings: Settings, version_id: int) -> dict[str, Any]:
    """The eval check's report for this draft; {"passed": True, "off": True} when KB_EVAL_CHECK is off,
    {"error": ...} when it could not run (which does not pass)."""
    if not settings.kb_eval_check:
        return {"passed": True, "off": True}
    command = [sys.executable, "-m", "evals.changes", "kb", "--version-id", str(version_id), "--json"]
    command.append("--no-env-file")
    fields = {name.upper() for name in type(settings).model_fields}
    inherited = {k: v for k, v in os.environ.items() if k.upper() not in fields}
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=EVAL_CHECK_TIMEOUT_S,
            env={**inherited, **settings.as_env()},  # this service's settings: none inherited, no .env
            cwd=PROJECT_ROOT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"the eval check did not finish ({type(exc).__name__})"}
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"error": f"the eval check failed: {lines[-1][:300]}"}
    return report
