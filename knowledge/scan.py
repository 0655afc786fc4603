"""The ingestion rail: find planted instructions and personal data in an article before it can be served.

A version with findings is quarantined (never published, never indexed) until an editor releases or rejects
it (knowledge/review.py). The retrieval rail runs the same document scan on every passage a turn retrieves,
for content that reached the index some other way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.injection import scan_document
from core.pii_vault import PublicValues

__all__ = ["Finding", "scan_sections"]


@dataclass(frozen=True)
class Finding:
    kind: Literal["planted_instruction", "personal_data"]
    section: str
    detail: str
    """The injection category, or the type of personal data found."""
    evidence: str
    """What an editor reads: the matched phrases, or where the data is (never the data itself)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def scan_sections(
    sections: Iterable[tuple[str, str]], *, public_contacts: Collection[str] = ()
) -> list[Finding]:
    """Findings over (section title, text) pairs. `public_contacts` are the company's own published
    addresses and numbers (the policy's brand contacts): they are not personal data."""
    public = PublicValues(public_contacts)
    findings: list[Finding] = []
    for section, text in sections:
        verdict = scan_document(text)
        if verdict.blocked:
            findings.append(
                Finding(
                    "planted_instruction",
                    section,
                    verdict.category or "instruction",
                    "; ".join(verdict.evidence) or "instructions addressed to the assistant",
                )
            )
        kinds = sorted({span.type for span in public.private(text)})
        if kinds:
            findings.append(
                Finding(
                    "personal_data", section, ", ".join(kinds), f"{', '.join(kinds)} in section {section!r}"
                )
            )
    return findings
