"""Why a turn ends with the offer of a person. Recorded in every turn record."""

from __future__ import annotations

from enum import StrEnum


class HandoffReason(StrEnum):
    EXPLICIT_REQUEST = "explicit_request"
    """The customer asked for a person."""
    LOW_CONFIDENCE = "low_confidence"
    """Retrieval found nothing it is sure answers the question."""
    OFFLINE = "offline"
    """The agent could not look anything up (no retrieval or no database): a person must follow up."""
