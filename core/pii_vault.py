"""Reversible PII tokens per conversation: the model and the records see "[EMAIL_1]", the vault the value.

The customer's own message is stored verbatim in `messages` (it is theirs, and the chat shows it back);
everything derived from it for the agent (graph state, checkpoints, turn records, handoff packets, traces)
carries tokens. Only an authorised person reveals them (see agent/desk.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import pii
from core.models import PiiToken
from core.text import clean_customer_text

logger = logging.getLogger(__name__)

_NUMBERED = re.compile(r"\[([A-Z]+)_\d+\]")

__all__ = [
    "PublicValues",
    "mask_turn",
    "normalised",
    "public_values",
    "reveal",
    "tokens_for",
    "unmask_data",
    "unrevealable",
]


class PublicValues:
    """The company's own published contacts (the policy's brand contacts): never a customer's personal data,
    however they are written ("(800) 555-0142" is "1-800-555-0142")."""

    def __init__(self, contacts: Iterable[str]) -> None:
        self._keys = {
            (span.type, pii.normal_form(span.type, span.text)) for c in contacts for span in pii.find_pii(c)
        }

    def __contains__(self, span: object) -> bool:
        return (
            isinstance(span, pii.PiiSpan) and (span.type, pii.normal_form(span.type, span.text)) in self._keys
        )

    def private(self, text: str) -> list[pii.PiiSpan]:
        """The personal data in the text that is not one of these public values."""
        return [span for span in pii.find_pii(text) if span not in self]


@lru_cache(maxsize=16)
def public_values(contacts: tuple[str, ...]) -> PublicValues:
    """Built once per policy: the contacts are parsed when first needed, not on every turn."""
    return PublicValues(contacts)


def tokens_for(session: Session, *, conversation_id: str) -> dict[str, str]:
    """Token -> value of everything masked so far in this conversation."""
    rows = session.execute(
        select(PiiToken.token, PiiToken.value).where(PiiToken.conversation_id == conversation_id)
    ).all()
    return {token: value for token, value in rows}


def normalised(text: str) -> str:
    """The text as the agent will read it (NFKC, no invisible characters), not truncated: masking must run
    on this form, or a zero-width space inside an email hides it from the masker and normalisation then
    joins it back together."""
    return clean_customer_text(text, max_chars=len(text) + 1).text


def unrevealable(text: str) -> str:
    """Masked without the vault (the database is down): tokens without numbers, so a later reveal can
    never swap in another value of this conversation."""
    return _NUMBERED.sub(r"[\1]", pii.mask(normalised(text)).text)


def mask_turn(session: Session, *, conversation_id: str, text: str) -> pii.Masked:
    """Mask the text with this conversation's tokens (a value seen before keeps its token) and keep new ones.

    Two turns of one conversation never run at once (the service serialises them), so a token number is
    taken once; should it clash anyway, the earlier value keeps it and this one stays masked but unrevealable.
    """
    known = tokens_for(session, conversation_id=conversation_id)
    masked = pii.mask(normalised(text), known=known)
    for token, value in masked.tokens.items():
        if token in known:
            continue
        try:
            with session.begin_nested():
                session.add(PiiToken(conversation_id=conversation_id, token=token, value=value))
        except IntegrityError:
            logger.warning("pii token %s of conversation=%s already taken", token, conversation_id)
    return masked


def reveal(session: Session, *, conversation_id: str, text: str) -> str:
    """The text with this conversation's tokens replaced by their values (for the customer or an agent)."""
    if not pii.TOKEN_RE.search(text):
        return text
    return pii.unmask(text, tokens_for(session, conversation_id=conversation_id))


def unmask_data(data: Any, tokens: Mapping[str, str]) -> Any:
    """A JSON-like value (a handoff packet) with the tokens in every string put back."""
    if isinstance(data, str):
        return pii.unmask(data, tokens) if pii.TOKEN_RE.search(data) else data
    if isinstance(data, Mapping):
        return {k: unmask_data(v, tokens) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [unmask_data(v, tokens) for v in data]
    return data
