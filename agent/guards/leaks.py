"""The PII-leak rail: a reply may carry the customer's own details only as tokens (put back for them on
delivery); any other personal data in it came from somewhere it should not have."""

from __future__ import annotations

from typing import Any

from core.pii_vault import PublicValues

__all__ = ["pii_leaks"]


def pii_leaks(reply: str, *, public: PublicValues) -> list[dict[str, Any]]:
    """One blocking verdict per kind of personal data in the reply that is not the company's own contact."""
    kinds = sorted({span.type for span in public.private(reply)})
    return [
        {"rail": "pii_leak", "evidence": f"{kind} in the reply", "sentence": None, "severity": "block"}
        for kind in kinds
    ]
