"""Conversations started while the database was down: their ids prove whose they are, so any replica can
create one for its owner when the customer's next message reaches it before the spool is replayed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core.conversations import (
    NotYourConversation,
    claim_offline_conversation,
    create_conversation,
    is_offline_conversation_of,
    offline_conversation_id,
)
from core.db import session_scope
from core.migrate import upgrade

SECRET = "a-test-secret-of-more-than-thirty-two-characters"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'conv.db'}"
    upgrade(url)
    return url


def test_an_offline_id_looks_like_a_uuid_and_verifies_only_for_its_customer() -> None:
    cid = offline_conversation_id(customer_id="alice", secret=SECRET)
    assert str(uuid.UUID(cid)) == cid
    assert is_offline_conversation_of(cid, customer_id="alice", secret=SECRET)
    assert not is_offline_conversation_of(cid, customer_id="bob", secret=SECRET)
    assert not is_offline_conversation_of(cid, customer_id="alice", secret="another-secret")
    assert not is_offline_conversation_of(str(uuid.uuid4()), customer_id="alice", secret=SECRET)
    assert not is_offline_conversation_of("short", customer_id="alice", secret=SECRET)


def test_the_owner_claims_an_offline_conversation_nobody_else_can(db: str) -> None:
    cid = offline_conversation_id(customer_id="alice", secret=SECRET)
    with session_scope(db) as s, pytest.raises(NotYourConversation):
        claim_offline_conversation(s, conversation_id=cid, customer_id="bob", secret=SECRET)
    with session_scope(db) as s:
        conv = claim_offline_conversation(s, conversation_id=cid, customer_id="alice", secret=SECRET)
        assert conv.customer_id == "alice"
    with session_scope(db) as s:  # now stored: the same answer again, and still nobody else's
        assert (
            claim_offline_conversation(s, conversation_id=cid, customer_id="alice", secret=SECRET).id == cid
        )
        with pytest.raises(NotYourConversation):
            claim_offline_conversation(s, conversation_id=cid, customer_id="bob", secret=SECRET)


def test_an_unknown_ordinary_id_is_never_created(db: str) -> None:
    with session_scope(db) as s:
        other = create_conversation(s, customer_id="bob").id
    for cid in (str(uuid.uuid4()), other):
        with session_scope(db) as s, pytest.raises(NotYourConversation):
            claim_offline_conversation(s, conversation_id=cid, customer_id="alice", secret=SECRET)


def test_odd_ids_are_never_offline_ids_and_never_raise() -> None:
    cid = offline_conversation_id(customer_id="alice", secret=SECRET)
    for odd in (cid.upper(), "é" * 36, "\x00" * 36, cid.replace("-", "")):
        assert not is_offline_conversation_of(odd, customer_id="alice", secret=SECRET)
