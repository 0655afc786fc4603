"""The PII-leak rail: a reply may carry the customer's own details only as tokens (put back for them on
delivery); any other personal data in it came from somewhere it should not have."""

from __future__ import annotations

from agent.guards.output import Violation
from core.pii_vault import PublicValues

__all__ = ["pii_leaks"]


def pii_leaks(reply: str, *, public: PublicValues) -> list[Violation]:
    """One blocking verdict per kind of personal data in the reply that is not the company's own contact."""
    kinds = sorted({span.type for span in public.private(reply)})
    return [Violation("pii_leak", f"{kind} in the reply", None, "block", kind=kind) for kind in kinds]
