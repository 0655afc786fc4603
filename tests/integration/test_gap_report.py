"""The knowledge-gap report, drafts from tickets and article usage over real turns of the demo help center.

Real turns through the service (Minimal mode, the real all-MiniLM-L6-v2 for grouping), a ticket resolved
through the real desk, and the same queries once more on PostgreSQL. The demo service's database is shared
with other tests: every report here reads only what this test wrote (`since=` its start) or counts deltas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.db import get_engine, session_scope, utcnow
from core.migrate import upgrade
from core.models import Conversation, Feedback, Message, TurnRecord
from core.users import AuthenticatedUser, PermissionDenied, Role, create_user
from handoff.models import Ticket
from knowledge.embeddings import get_embedder
from knowledge.gaps import GapError, draft_from_ticket, gap_questions, gap_report
from knowledge.models import Article, ArticleVersion
from knowledge.usage import article_usage, usage_counts
from tests.accounts import account

pytestmark = pytest.mark.slow

LOYALTY = (
    "Do you have a loyalty points program?",
    "Is there a loyalty program with points?",
    "How do I earn loyalty points?",
    "Do you have a loyalty points program? You can reach me at jane.doe@example.com",
)
STUDENTS = (
    "Do you offer a student discount?",
    "Is there a discount for students?",
    "Do you have student discounts?",
)
ANSWERABLE = ("How do I return an item?", "Do you ship to Canada?", "How long does a refund take?")


def _chat(svc) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    customer = f"gaps-{uuid.uuid4().hex[:10]}"
    return svc.start_conversation(customer_id=customer), customer


def _ask(svc, text: str, chat: tuple[str, str] | None = None):  # type: ignore[no-untyped-def]
    conversation_id, customer = chat or _chat(svc)
    return svc.send(conversation_id=conversation_id, customer_id=customer, text=text)


def _agent(settings) -> AuthenticatedUser:  # type: ignore[no-untyped-def]
    with session_scope(settings.database_url) as s:
        view = create_user(
            s,
            username=f"ag{uuid.uuid4().hex[:6]}",
            display_name="Robin",
            role=Role.AGENT,
            password="a-long-password-1",
            settings=settings,
        )
    return AuthenticatedUser(view.id, view.username, view.display_name, Role.AGENT)


def _ticket_of(settings, conversation_id: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope(settings.database_url) as s:
        found = s.scalar(select(Ticket.id).where(Ticket.conversation_id == conversation_id))
        assert found is not None
        return found


def test_paraphrases_of_unanswerable_questions_group_by_meaning(demo_service, settings):
    since = utcnow()
    for text in (*LOYALTY, *STUDENTS):
        result = _ask(demo_service, text)
        assert result.outcome == "unknown", (text, result.outcome, result.confidence)
    for text in ANSWERABLE:
        assert _ask(demo_service, text).outcome == "answered", text

    with session_scope(settings.database_url) as s:
        groups = gap_report(
            s, since=since, min_confidence=settings.answer_min_confidence, embedder=get_embedder()
        )

    assert [g.count for g in groups] == [4, 3]
    loyalty, students = groups
    redacted = "Do you have a loyalty points program? You can reach me at [EMAIL_1]"
    assert {q.text for q in loyalty.questions} == {*LOYALTY[:3], redacted}
    assert {q.text for q in students.questions} == set(STUDENTS)
    assert loyalty.label == LOYALTY[0] and students.label in STUDENTS
    assert loyalty.outcomes == {"unknown": 4} and students.outcomes == {"unknown": 3}
    assert loyalty.questions[0].text == redacted  # newest first
    assert all(q.ticket_id is None for g in groups for q in g.questions)
    assert "jane.doe" not in repr(groups)
    assert not {q.text for g in groups for q in g.questions} & set(ANSWERABLE)


def test_a_resolved_ticket_links_to_its_gap_and_becomes_a_draft(demo_service, settings):
    svc = demo_service
    since = utcnow()
    chat = _chat(svc)
    assert _ask(svc, "Do you have a loyalty points program?", chat).outcome == "unknown"
    assert _ask(svc, "I'd like to talk to a real person please", chat).outcome == "handoff"
    ticket_id = _ticket_of(settings, chat[0])
    robin = _agent(settings)
    svc.desk.claim(robin, ticket_id)
    svc.desk.reply(robin, ticket_id, "Hi, I'm Robin from the support team.")
    svc.desk.reply(
        robin,
        ticket_id,
        "We don't have a loyalty points program at the moment. Brightwell Plus members get free shipping.",
    )
    svc.desk.resolve(robin, ticket_id, outcome="solved")
    waiting = _chat(svc)
    _ask(svc, "agent please", waiting)

    with session_scope(settings.database_url) as s:
        groups = gap_report(
            s, since=since, min_confidence=settings.answer_min_confidence, embedder=get_embedder()
        )
        draft = draft_from_ticket(s, ticket_id)
        with pytest.raises(GapError, match="still waiting for a person"):
            draft_from_ticket(s, _ticket_of(settings, waiting[0]))

    assert [(g.label, g.count) for g in groups] == [("Do you have a loyalty points program?", 1)]
    assert groups[0].questions[0].ticket_id == ticket_id
    assert groups[0].ticket_ids == groups[0].resolved_ticket_ids == (ticket_id,)
    assert draft.title == "Do you have a loyalty points program?"
    assert draft.slug == f"do-you-have-a-loyalty-points-program-ticket-{ticket_id}"
    assert draft.body == (
        "## Question\n\nDo you have a loyalty points program?\n\n"
        "## Answer\n\nHi, I'm Robin from the support team.\n\n"
        "We don't have a loyalty points program at the moment. Brightwell Plus members get free shipping.\n\n"
        f"Drafted from support ticket {ticket_id} — review before publishing.\n"
    )
    assert draft.provenance["agent"] == ["Robin"] and draft.provenance["assignee"] == robin.username
    assert draft.provenance["conversation_id"] == chat[0] and len(draft.provenance["messages"]) == 3

    editor = account(settings.database_url, Role.EDITOR)  # the same through the studio, as an editor
    assert [(g.label, g.count) for g in svc.studio.gaps(editor, since=since)] == [
        ("Do you have a loyalty points program?", 1)
    ]
    saved = svc.studio.draft_from_ticket(editor, ticket_id)
    assert (saved.status, saved.slug, saved.body) == ("draft", draft.slug, draft.body.strip())
    assert saved.provenance["ticket_id"] == ticket_id and saved.created_by == editor.username
    entry = svc.studio.audit_log(editor, slug=saved.slug)[0]
    assert entry.action == "draft_saved" and entry.detail["provenance"]["ticket_id"] == ticket_id
    with pytest.raises(PermissionDenied):
        svc.studio.draft_from_ticket(robin, ticket_id)


def test_article_usage_counts_a_real_answer_and_its_feedback(demo_service, settings):
    result = _ask(demo_service, "How do I return an item?")
    assert result.outcome == "answered" and result.reply is not None and result.reply.citations
    slug = result.reply.citations[0]["article"]
    with session_scope(settings.database_url) as s:
        s.add(
            Feedback(
                message_id=result.reply.id,
                conversation_id=result.conversation_id,
                rating=-1,
                comment="It didn't say how long it takes. Write to sam.lee@example.com",
            )
        )
    with session_scope(settings.database_url) as s:
        usage = article_usage(s, slug, limit=5)
        counts = usage_counts(s)

    latest = usage.questions[0]
    assert (latest.reply_id, latest.message_id) == (result.reply.id, result.message.id)
    assert latest.question == "How do I return an item?" and latest.rating == -1
    assert latest.comment == "It didn't say how long it takes. Write to [EMAIL_1]"
    assert latest.version == result.reply.citations[0]["version"]
    assert usage.answered >= 1 and usage.not_helpful >= 1 and usage.comments >= 1
    assert counts[slug] == (usage.answered, usage.helpful, usage.not_helpful)


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    upgrade(postgres_url)
    yield postgres_url
    get_engine(postgres_url).dispose()


def test_usage_and_gaps_read_the_same_on_postgres(postgres_db):
    now = utcnow()
    with session_scope(postgres_db) as s:
        s.add(Article(slug="returns"))
        s.flush()
        article_id = s.scalar(select(Article.id))
        version = ArticleVersion(
            article_id=article_id, version=1, title="Returns", body="b", content_hash="h"
        )
        s.add(version)
        conv = Conversation(id=str(uuid.uuid4()), customer_id="c")
        s.add(conv)
        s.flush()
        asked = Message(conversation_id=conv.id, role="customer", content="How do I return a mug?")
        lost = Message(conversation_id=conv.id, role="customer", content="Loyalty points? bo@example.com")
        s.add_all([asked, lost])
        s.flush()
        cited = [{"chunk_id": "returns-1", "version_id": version.id}]
        reply = Message(
            conversation_id=conv.id, role="assistant", content="…", reply_to=asked.id, citations=cited
        )
        blank = Message(
            conversation_id=conv.id, role="assistant", content="…", reply_to=lost.id, citations=[]
        )
        s.add_all([reply, blank])
        s.flush()
        s.add_all(
            [
                TurnRecord(conversation_id=conv.id, message_id=asked.id, mode="minimal", outcome="answered"),
                TurnRecord(conversation_id=conv.id, message_id=lost.id, mode="minimal", outcome="unknown"),
                Feedback(message_id=reply.id, conversation_id=conv.id, rating=1),
                Ticket(conversation_id=conv.id, customer_id="c", reason="low_confidence", status="resolved"),
            ]
        )
    with session_scope(postgres_db) as s:
        usage = article_usage(s, "returns")
        assert (usage.answered, usage.helpful, usage.questions[0].question) == (
            1,
            1,
            "How do I return a mug?",
        )
        assert usage_counts(s) == {"returns": (1, 1, 0)}
        (question,) = gap_questions(s, since=now - timedelta(minutes=1), min_confidence=0.45)
        assert question.text == "Loyalty points? [EMAIL_1]" and question.ticket_id is not None
        (group,) = gap_report(s, min_confidence=0.45)
        assert group.resolved_ticket_ids == (question.ticket_id,)
