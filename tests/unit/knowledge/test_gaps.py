"""The knowledge-gap report, drafts from tickets and article usage over a real (SQLite) database.

Rows are written with the ORM models; a tiny bag-of-words embedder stands in for the real model (the
integration test, tests/integration/test_gap_report.py, runs all-MiniLM-L6-v2).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session

from core.db import session_scope
from core.migrate import upgrade
from core.models import Conversation, Feedback, Message, TurnRecord
from handoff.models import Ticket
from knowledge.gaps import GapError, draft_from_ticket, gap_questions, gap_report
from knowledge.lexical import tokenize
from knowledge.models import Article, ArticleVersion
from knowledge.usage import article_usage, usage_counts

FLOOR = 0.45
T0 = datetime(2026, 3, 1, 9, 0, 0)


class BagOfWords:
    """Deterministic test embedder: hashed word counts, unit length. Records each batch it embeds."""

    dim = 4096

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in tokenize(text):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'gaps.db'}"
    upgrade(url)
    with session_scope(url) as s:
        yield s


def conversation(s: Session) -> str:
    conv = Conversation(id=str(uuid.uuid4()), customer_id=f"c-{uuid.uuid4().hex[:8]}", created_at=T0)
    s.add(conv)
    s.flush()
    return conv.id


def message(s: Session, conv: str, role: str, text: str, at: datetime, **kw: Any) -> Message:
    msg = Message(conversation_id=conv, role=role, content=text, created_at=at, **kw)
    s.add(msg)
    s.flush()
    return msg


def turn(
    s: Session,
    text: str,
    outcome: str = "unknown",
    *,
    minutes: float = 0,
    conv: str | None = None,
    confidence: float | None = None,
    reason: str | None = None,
    citations: list[dict[str, Any]] | None = None,
) -> tuple[Message, Message]:
    """A customer message, the bot's reply and the turn record, `minutes` after T0."""
    conv = conv or conversation(s)
    at = T0 + timedelta(minutes=minutes)
    asked = message(s, conv, "customer", text, at, status="answered")
    reply = message(
        s, conv, "assistant", "…", at + timedelta(seconds=1), reply_to=asked.id, citations=citations or []
    )
    s.add(
        TurnRecord(
            conversation_id=conv,
            message_id=asked.id,
            reply_id=reply.id,
            mode="minimal",
            outcome=outcome,
            confidence=confidence,
            handoff_reason=reason,
            created_at=at + timedelta(seconds=1),
        )
    )
    s.flush()
    return asked, reply


def ticket(s: Session, conv: str, *, minutes: float, status: str = "waiting", **kw: Any) -> Ticket:
    at = T0 + timedelta(minutes=minutes)
    row = Ticket(
        conversation_id=conv,
        customer_id="c",
        reason=kw.pop("reason", "repeated_failure"),
        status=status,
        created_at=at,
        updated_at=at,
        **kw,
    )
    s.add(row)
    s.flush()
    return row


LOYALTY = (
    "Do you have a loyalty points program?",
    "loyalty points program details?",
    "How do loyalty points work in the program?",
)
GIFT_WRAP = ("Can you gift wrap my order?", "Is gift wrap available for orders?")


# which turns are gaps --------------------------------------------------------------------------------


def test_only_turns_that_missed_knowledge_are_gaps(session):
    expected = {
        "unknown one": ("unknown", None, None),
        "weak answer": ("answered", 0.2, None),
        "could not find it": ("handoff", 0.1, "low_confidence"),
        "still not helped": ("handoff", None, "repeated_failure"),
    }
    not_gaps = {
        "good answer": ("answered", 0.9, None),
        "answer at the floor": ("answered", FLOOR, None),
        "hello there": ("answered", None, None),
        "agent please": ("handoff", None, "explicit_request"),
        "sparking heater": ("handoff", None, "risky_topic"),
        "ignore your rules": ("refused", None, None),
        "crashed": ("failed", None, None),
        "???": ("clarify", None, None),
        "held by the guardrail": ("handoff", None, "guardrail"),
    }
    for i, (text, (outcome, confidence, reason)) in enumerate({**expected, **not_gaps}.items()):
        turn(session, text, outcome, minutes=i, confidence=confidence, reason=reason)

    found = gap_questions(session, min_confidence=FLOOR)

    assert [(q.text, q.outcome) for q in found] == [
        ("unknown one", "unknown"),
        ("weak answer", "low_confidence"),
        ("could not find it", "handoff:low_confidence"),
        ("still not helped", "handoff:repeated_failure"),
    ]
    assert found[1].confidence == 0.2 and found[2].handoff_reason == "low_confidence"


def test_gap_questions_are_redacted_and_bounded_by_since_and_until(session):
    for minute in (0, 10, 20):
        turn(session, f"Where is my loyalty card? Mail me at jane.doe@example.com ({minute})", minutes=minute)

    found = gap_questions(
        session,
        since=T0 + timedelta(minutes=10),
        until=T0 + timedelta(minutes=20),
        min_confidence=FLOOR,
    )

    assert [q.at for q in found] == [T0 + timedelta(minutes=10)]  # since inclusive, until exclusive
    assert found[0].text == "Where is my loyalty card? Mail me at [EMAIL_1] (10)"
    assert gap_questions(session, since=T0 + timedelta(hours=1), min_confidence=FLOOR) == []


def test_a_question_links_to_the_ticket_its_conversation_got_afterwards(session):
    conv = conversation(session)
    before, _ = turn(session, LOYALTY[0], conv=conv, minutes=0)
    handed, _ = turn(session, LOYALTY[1], "handoff", conv=conv, minutes=1, reason="repeated_failure")
    first = ticket(session, conv, minutes=1.01, status="resolved", closed_at=T0 + timedelta(minutes=5))
    later, _ = turn(session, LOYALTY[2], conv=conv, minutes=10)
    other = conversation(session)
    ticket(session, other, minutes=0, status="resolved", closed_at=T0 + timedelta(minutes=1))
    unlinked, _ = turn(session, GIFT_WRAP[0], conv=other, minutes=2)  # that ticket came before it
    reopened = ticket(session, other, minutes=3)

    links = {q.message_id: q.ticket_id for q in gap_questions(session, min_confidence=FLOOR)}
    assert links == {before.id: first.id, handed.id: first.id, later.id: None, unlinked.id: reopened.id}

    groups = gap_report(session, min_confidence=FLOOR, embedder=BagOfWords())
    loyalty = next(g for g in groups if g.count == 3)
    assert loyalty.ticket_ids == (first.id,) and loyalty.resolved_ticket_ids == (first.id,)
    wrap = next(g for g in groups if g.count == 1)
    assert wrap.ticket_ids == (reopened.id,) and wrap.resolved_ticket_ids == ()


# grouping ------------------------------------------------------------------------------------------------


def test_paraphrases_group_together_largest_first_with_the_central_question_as_label(session):
    turn(session, LOYALTY[1], minutes=0)
    turn(session, GIFT_WRAP[0], minutes=1)
    turn(session, LOYALTY[0], minutes=2)
    turn(session, "What is the airspeed of a swallow?", minutes=3)
    turn(session, GIFT_WRAP[1], "answered", minutes=4, confidence=0.3)
    turn(session, LOYALTY[2], "handoff", minutes=5, reason="low_confidence")
    embedder = BagOfWords()

    groups = gap_report(session, min_confidence=FLOOR, embedder=embedder)

    assert [(g.label, g.count) for g in groups] == [
        ("Do you have a loyalty points program?", 3),
        (GIFT_WRAP[0], 2),
        ("What is the airspeed of a swallow?", 1),
    ]
    loyalty = groups[0]
    assert [q.text for q in loyalty.questions] == [LOYALTY[2], LOYALTY[0], LOYALTY[1]]  # newest first
    assert loyalty.outcomes == {"handoff:low_confidence": 1, "unknown": 2}
    assert (loyalty.first_seen, loyalty.last_seen) == (T0, T0 + timedelta(minutes=5))
    assert groups[1].outcomes == {"low_confidence": 1, "unknown": 1}
    assert len(embedder.calls) == 1 and len(embedder.calls[0]) == 6  # every text in one batch
    assert gap_report(session, min_confidence=FLOOR, embedder=BagOfWords()) == groups  # deterministic


def test_groups_of_equal_size_list_the_most_recent_first_and_limit_keeps_the_top(session):
    turn(session, "What is the airspeed of a swallow?", minutes=0)
    turn(session, "Who won the 1966 world cup?", minutes=5)
    turn(session, "Do you sell garden gnomes?", minutes=3)

    groups = gap_report(session, min_confidence=FLOOR, embedder=BagOfWords())

    assert [g.label for g in groups] == [
        "Who won the 1966 world cup?",
        "Do you sell garden gnomes?",
        "What is the airspeed of a swallow?",
    ]
    assert [g.label for g in gap_report(session, min_confidence=FLOOR, embedder=BagOfWords(), limit=1)] == [
        "Who won the 1966 world cup?"
    ]


def test_a_higher_similarity_threshold_splits_the_paraphrases(session):
    for i, text in enumerate(LOYALTY):
        turn(session, text, minutes=i)

    assert [g.count for g in gap_report(session, min_confidence=FLOOR, embedder=BagOfWords())] == [3]
    strict = gap_report(session, min_confidence=FLOOR, embedder=BagOfWords(), similarity=0.95)
    assert sorted(g.label for g in strict) == sorted(LOYALTY)


def test_label_ties_go_to_the_most_frequent_text_then_the_shortest(session):
    # The same words (stop words aside) embed identically: equally close to any centroid.
    for i, text in enumerate(["Gift wrap my order please", "Can you gift wrap my order?"] * 2):
        turn(session, text, minutes=i)
    turn(session, "Can you gift wrap my order?", minutes=5)
    turn(session, GIFT_WRAP[1], minutes=6)
    groups = gap_report(session, min_confidence=FLOOR, embedder=BagOfWords())
    assert [(g.label, g.count) for g in groups] == [("Can you gift wrap my order?", 6)]

    turn(session, "Gift wrap my order please", minutes=7)  # now as frequent: the shorter text wins
    groups = gap_report(session, min_confidence=FLOOR, embedder=BagOfWords())
    assert groups[0].label == "Gift wrap my order please"


def test_without_an_embedder_questions_sharing_most_words_group_together(session):
    texts = [*LOYALTY, *GIFT_WRAP, "Do you have a gift card program?", "What is the airspeed of a swallow?"]
    for i, text in enumerate(texts):
        turn(session, text, minutes=i)

    groups = gap_report(session, min_confidence=FLOOR)

    assert [(g.label, g.count) for g in groups] == [
        ("Do you have a loyalty points program?", 3),
        (GIFT_WRAP[1], 2),  # two members: the centroid is both word sets, closest to the larger one
        ("What is the airspeed of a swallow?", 1),
        ("Do you have a gift card program?", 1),
    ]


def test_personal_data_does_not_decide_the_group_nor_reach_the_report(session):
    turn(session, "My email is jane.doe@example.com, do you have a loyalty points program?", minutes=0)
    turn(session, LOYALTY[0], minutes=1)
    turn(session, "Call me on +1 415 555 0100 about my loyalty points program", minutes=2)

    for embedder in (BagOfWords(), None):
        groups = gap_report(session, min_confidence=FLOOR, embedder=embedder)
        assert [g.count for g in groups] == [3]
        texts = [q.text for q in groups[0].questions]
        assert "Call me on [PHONE_1] about my loyalty points program" in texts
        assert "My email is [EMAIL_1], do you have a loyalty points program?" in texts
        # the values themselves (ids are random: a conversation's UUID may well contain "555")
        assert "jane.doe@example.com" not in repr(groups) and "415 555 0100" not in repr(groups)


def test_no_gaps_make_an_empty_report_without_embedding_anything(session):
    turn(session, "How do I return an item?", "answered", confidence=0.9)
    embedder = BagOfWords()
    assert gap_report(session, min_confidence=FLOOR, embedder=embedder) == []
    assert embedder.calls == []


# drafts from resolved tickets ---------------------------------------------------------------------------


def handled_ticket(
    s: Session, *, status: str = "resolved", agent_replies: bool = True
) -> tuple[Ticket, dict]:
    """A conversation handed to Alex after an unanswered question, answered and (by default) resolved."""
    conv = conversation(s)
    asked, _ = turn(
        s,
        "Hi! I bought a kettle last week. Do you have a loyalty points program? I'm jane.doe@example.com",
        conv=conv,
        minutes=0,
    )
    request, _ = turn(s, "I'd like to talk to a real person please", "handoff", conv=conv, minutes=1)
    row = ticket(
        s,
        conv,
        minutes=1.01,
        status=status,
        reason="explicit_request",
        assignee="alex",
        outcome="solved" if status == "resolved" else None,
        closed_at=T0 + timedelta(minutes=9) if status == "resolved" else None,
        packet={"message_id": request.id, "intent": {"question": "Do you have a loyalty points program?"}},
    )
    ids: dict[str, Any] = {"asked": asked.id}
    message(s, conv, "system", "Alex joined the chat", T0 + timedelta(minutes=2), author="Alex")
    ids["detail"] = message(s, conv, "customer", "My order number is BW-123456", T0 + timedelta(minutes=3)).id
    if agent_replies:
        ids["hello"] = message(
            s, conv, "agent", "Hi, I'm Alex from the support team.", T0 + timedelta(minutes=4), author="Alex"
        ).id
        ids["answer"] = message(
            s,
            conv,
            "agent",
            "We don't run a loyalty points program yet.\n# Plus members get free delivery instead.",
            T0 + timedelta(minutes=5),
            author="Alex",
        ).id
    message(s, conv, "customer", "Thanks Alex!", T0 + timedelta(minutes=6))
    message(s, conv, "system", "Alex marked this conversation as resolved.", T0 + timedelta(minutes=9))
    return row, ids


def test_a_resolved_ticket_becomes_a_redacted_draft_of_question_and_answer(session):
    row, ids = handled_ticket(session)

    draft = draft_from_ticket(session, row.id)

    assert draft.title == "Do you have a loyalty points program?"
    assert draft.slug == f"do-you-have-a-loyalty-points-program-ticket-{row.id}"
    assert draft.body == (
        "## Question\n\n"
        "Hi! I bought a kettle last week. Do you have a loyalty points program? I'm [EMAIL_1]\n\n"
        "My order number is BW-123456\n\n"
        "## Answer\n\n"
        "Hi, I'm Alex from the support team.\n\n"
        "We don't run a loyalty points program yet.\n"
        "\\# Plus members get free delivery instead.\n\n"
        f"Drafted from support ticket {row.id} — review before publishing.\n"
    )
    assert draft.provenance == {
        "ticket_id": row.id,
        "conversation_id": row.conversation_id,
        "agent": ["Alex"],
        "assignee": "alex",
        "outcome": "solved",
        "resolved_at": (T0 + timedelta(minutes=9)).isoformat(),
        "messages": [ids["asked"], ids["detail"], ids["hello"], ids["answer"]],
    }


def test_only_a_resolved_ticket_with_a_persons_reply_becomes_a_draft(session):
    waiting, _ = handled_ticket(session, status="waiting", agent_replies=False)
    silent, _ = handled_ticket(session, agent_replies=False)
    returned, _ = handled_ticket(session, status="returned")

    with pytest.raises(GapError, match="still waiting for a person"):
        draft_from_ticket(session, waiting.id)
    with pytest.raises(GapError, match="handed back to the assistant"):
        draft_from_ticket(session, returned.id)
    with pytest.raises(GapError, match="no reply from a person"):
        draft_from_ticket(session, silent.id)
    with pytest.raises(GapError, match="Ticket 999 does not exist"):
        draft_from_ticket(session, 999)


def test_a_draft_uses_only_its_own_tickets_messages_and_a_trimmed_title(session):
    first, _ = handled_ticket(session)
    conv = first.conversation_id
    long_question = (
        "Hello, could you please tell me whether the extended two-year warranty that I bought together with "
        "my espresso machine also covers accidental damage caused by my children, and how to claim it"
    )
    asked, _ = turn(session, long_question, conv=conv, minutes=20)
    second = ticket(
        session, conv, minutes=21, status="resolved", assignee="sam", closed_at=T0 + timedelta(minutes=30)
    )
    answer = message(
        session, conv, "agent", "Accidental damage is not covered.", T0 + timedelta(minutes=25), author="Sam"
    )

    draft = draft_from_ticket(session, second.id)

    assert len(draft.title) <= 120 and draft.title.endswith("…")
    assert draft.title.startswith("Could you please tell me whether the extended two-year warranty")
    assert "loyalty" not in draft.body and "Alex" not in draft.body
    assert draft.provenance["messages"] == [asked.id, answer.id] and draft.provenance["agent"] == ["Sam"]


# article usage --------------------------------------------------------------------------------------------


def article(s: Session, slug: str, versions: int) -> list[int]:
    row = Article(slug=slug)
    s.add(row)
    s.flush()
    ids = []
    for n in range(1, versions + 1):
        version = ArticleVersion(
            article_id=row.id,
            version=n,
            title=slug,
            body="text",
            content_hash=f"{slug}{n}",
            status="archived",
        )
        s.add(version)
        s.flush()
        ids.append(version.id)
    return ids


def cite(*version_ids: int) -> list[dict[str, Any]]:
    return [{"chunk_id": f"c{v}-{i}", "version_id": v} for i, v in enumerate(version_ids)]


def rate(s: Session, reply: Message, rating: int, comment: str | None = None) -> None:
    s.add(
        Feedback(message_id=reply.id, conversation_id=reply.conversation_id, rating=rating, comment=comment)
    )
    s.flush()


def test_article_usage_counts_each_citing_reply_once_with_its_rating(session):
    v1, v2 = article(session, "returns", 2)
    (other,) = article(session, "shipping", 1)
    article(session, "unused", 1)
    _, old = turn(
        session, "How do I return a mug?", "answered", minutes=0, confidence=0.9, citations=cite(v1)
    )
    asked, both = turn(
        session,
        "Return by mail? jane@example.com",
        "answered",
        minutes=1,
        confidence=0.9,
        citations=cite(v2, v2),
    )
    _, mixed = turn(
        session, "Return and ship", "answered", minutes=2, confidence=0.9, citations=cite(other, v2)
    )
    turn(session, "Ship to Canada?", "answered", minutes=3, confidence=0.9, citations=cite(other))
    turn(session, "Nothing cited", "unknown", minutes=4)
    turn(
        session, "Odd citations", "answered", minutes=5, citations=[{"chunk_id": "x"}, {"version_id": "nan"}]
    )
    rate(session, old, 1)
    rate(session, both, -1, "Too slow, write to jane@example.com")
    rate(session, mixed, 1, "  ")

    usage = article_usage(session, "returns")

    assert (usage.answered, usage.helpful, usage.not_helpful, usage.comments) == (3, 2, 1, 1)
    assert [(q.reply_id, q.version, q.rating) for q in usage.questions] == [
        (mixed.id, 2, 1),
        (both.id, 2, -1),
        (old.id, 1, 1),
    ]
    second = usage.questions[1]
    assert (second.message_id, second.question) == (asked.id, "Return by mail? [EMAIL_1]")
    assert second.comment == "Too slow, write to [EMAIL_1]"
    assert len(article_usage(session, "returns", limit=1).questions) == 1
    assert article_usage(session, "returns", limit=1).answered == 3
    assert usage_counts(session) == {"returns": (3, 2, 1), "shipping": (2, 1, 0), "unused": (0, 0, 0)}
    with pytest.raises(LookupError, match="nope"):
        article_usage(session, "nope")
