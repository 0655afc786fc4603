"""The graph end to end through the turn service, over the seeded demo help center."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from agent.prompts import minimal
from core.conversations import NotYourConversation
from core.db import session_scope
from core.faults import DependencyFault
from core.models import Message, TurnRecord
from core.spool import Spool
from handoff.models import Ticket
from knowledge.store import get_passage
from tests.services import stored_unanswered

pytestmark = pytest.mark.slow


def _new(svc, customer: str | None = None) -> tuple[str, str]:
    customer = customer or uuid.uuid4().hex
    return svc.start_conversation(customer_id=customer), customer


def _ask(svc, text: str, conv: tuple[str, str] | None = None, **kw):
    conv_id, customer = conv or _new(svc)
    return svc.send(conversation_id=conv_id, customer_id=customer, text=text, **kw)


def test_return_question_is_answered_by_quoting_the_returns_article(demo_service):
    result = _ask(demo_service, "How do I return an item?")
    assert result.outcome == "answered"
    assert result.mode == "minimal"
    cites = result.reply.citations
    assert cites and cites[0]["article"].startswith("returns-")
    assert f"[{cites[0]['n']}]" in result.reply.content
    assert cites[0]["quote"].splitlines()[0] in result.reply.content


def test_every_citation_opens_the_exact_passage_it_quotes(demo_service, settings):
    result = _ask(demo_service, "How long does a refund to a credit card take?")
    assert result.reply.citations
    with session_scope(settings.database_url) as session:
        for cite in result.reply.citations:
            passage = get_passage(session, chunk_id=cite["chunk_id"], version_id=cite["version_id"])
            assert passage is not None
            assert passage.title == cite["title"] and passage.section == cite["section"]
            for line in cite["quote"].splitlines():
                if line.strip() and line != "…":
                    assert " ".join(line.split()) in " ".join(passage.text.split())


def test_question_outside_the_help_center_gets_an_honest_dont_know(demo_service):
    result = _ask(demo_service, "What is the airspeed velocity of an unladen swallow?")
    assert result.outcome == "unknown"
    assert result.reply.citations == []
    assert "couldn't find" in result.reply.content and "person" in result.reply.content


def test_asking_how_to_reach_customer_service_quotes_the_contact_details_from_the_help_center(demo_service):
    result = _ask(demo_service, "What are your customer service hours?")
    assert result.outcome == "answered"
    assert result.reply.citations and result.reply.citations[0]["article"].startswith("contact-")


def test_asking_for_a_person_hands_the_conversation_over(demo_service):
    result = _ask(demo_service, "Can I talk to a real person please?")
    assert result.outcome == "handoff"
    assert "connecting you" in result.reply.content


def test_follow_up_question_is_answered_in_the_topic_of_the_earlier_turn(demo_service):
    conv = _new(demo_service)
    first = _ask(demo_service, "Do you ship to Canada?", conv)
    assert first.reply.citations[0]["article"] == "shipping-to-canada"
    follow = _ask(demo_service, "How long does it take?", conv)
    assert follow.outcome == "answered"
    assert follow.reply.citations[0]["article"] == "shipping-to-canada"


def test_same_idempotency_key_returns_the_first_reply_without_a_second_turn(demo_service, settings):
    conv = _new(demo_service)
    first = _ask(demo_service, "Do you ship to Canada?", conv, idempotency_key="k-1")
    again = _ask(demo_service, "Do you ship to Canada?", conv, idempotency_key="k-1")
    assert again.replayed and again.reply.id == first.reply.id
    assert (again.outcome, again.confidence) == (first.outcome, first.confidence)
    with session_scope(settings.database_url) as session:
        rows = session.scalars(select(Message).where(Message.conversation_id == conv[0])).all()
    assert [m.role for m in rows] == ["customer", "assistant"]


def test_customer_message_is_stored_before_processing_and_a_crash_still_ends_in_a_reply(
    demo_service, settings, monkeypatch
):
    conv = _new(demo_service)
    seen: list[str] = []

    def exploding(payload, **kwargs):
        with session_scope(settings.database_url) as session:
            stored = session.scalars(select(Message).where(Message.conversation_id == conv[0])).all()
            seen.extend(m.content for m in stored)
        raise RuntimeError("boom")

    monkeypatch.setattr(demo_service.graph, "stream", exploding)
    result = _ask(demo_service, "Where is my order?", conv)
    assert seen == ["Where is my order?"]
    assert result.outcome == "failed"
    assert "Your message is saved" in result.reply.content
    with session_scope(settings.database_url) as session:
        msg = session.get(Message, result.message.id)
        record = session.scalar(select(TurnRecord).where(TurnRecord.message_id == result.message.id))
    assert msg.status == "failed"
    assert record.error == "RuntimeError" and record.outcome == "failed"


def test_a_spool_whose_file_fails_does_not_fail_the_turn(demo_service, monkeypatch, tmp_path):
    """The disk is full: the replay before the turn raises from the spool's own file work (its rewrite), and
    the customer's message is still stored and answered; the background pass retries the replay."""
    spool = Spool(tmp_path / "pending.jsonl")
    spool.append({"kind": "conversation", "conversation_id": str(uuid.uuid4()), "customer_id": "x"})

    def disk_full(handler):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "replay", disk_full)
    monkeypatch.setattr(demo_service, "spool", spool)
    result = _ask(demo_service, "How do I return an item?")
    assert result.outcome == "answered" and result.reply is not None and not result.spooled
    assert len(spool) == 1  # still waiting for a replay that can write


def test_a_reply_neither_stored_nor_spooled_leaves_the_message_for_the_stuck_turn_sweep(
    demo_service, settings, monkeypatch, tmp_path
):
    """The database went down during the turn and the disk is full too: the customer still gets the answer
    (not a 500), and the stored message, still unanswered, is answered by the sweep later."""
    from sqlalchemy import exc as sa_exc

    spool = Spool(tmp_path / "pending.jsonl")

    def database_gone(*args, **kwargs):
        raise sa_exc.OperationalError("INSERT", {}, Exception("server closed the connection"))

    def disk_full(entry):
        raise OSError(28, "No space left on device")

    conv = _new(demo_service)
    with monkeypatch.context() as m:
        m.setattr(demo_service, "spool", spool)
        m.setattr(demo_service, "_store_reply", database_gone)
        m.setattr(spool, "append", disk_full)
        result = _ask(demo_service, "How do I return an item?", conv)
    assert result.outcome == "answered" and result.reply.content and not result.spooled
    assert result.message.id > 0  # stored before the turn: its real id, not a spooled one's 0
    with session_scope(settings.database_url) as session:
        stuck = session.scalars(select(Message).where(Message.conversation_id == conv[0])).all()
    assert [(m.role, m.status) for m in stuck] == [("customer", "stored")]
    assert demo_service.answer_stuck(older_than_s=0, limit=1000) >= 1
    shown = demo_service.transcript(conversation_id=conv[0], customer_id=conv[1])
    assert [m.role for m in shown] == ["customer", "assistant"]


def test_contact_details_for_a_conversation_started_offline_are_kept_before_its_replay(
    demo_service, settings, monkeypatch, tmp_path
):
    """Started while the database was down (its creation still spooled), then the customer leaves an email
    with the database back: the conversation is claimed then, as a message to it would be (was a 404)."""
    customer = uuid.uuid4().hex
    monkeypatch.setattr(demo_service, "spool", Spool(tmp_path / "pending.jsonl"))
    with monkeypatch.context() as m:
        m.setattr(demo_service.health, "available", lambda name: name != "database")

        def refused(*args, **kwargs):
            raise DependencyFault("unavailable", "database breaker open")

        m.setattr(demo_service, "_autocommit", refused)
        conv = demo_service.start_conversation(customer_id=customer)
    saved = demo_service.leave_contact(conversation_id=conv, customer_id=customer, contact="me@example.com")
    assert saved == minimal.CONTACT_SAVED and len(demo_service.spool) == 1  # the conversation's creation
    with session_scope(settings.database_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.conversation_id == conv))
        assert ticket is not None and ticket.contact == "me@example.com"


def test_the_shared_rate_limit_steps_aside_whatever_keeps_the_database_from_answering(
    demo_service, monkeypatch
):
    """Down, refusing, or back with demo passwords in production (DatabaseUnavailable): this replica's own
    bucket decides alone, never a 500 or a 503."""
    from core.db import DatabaseUnavailable
    from core.ratelimit import RateLimiter

    limiter = RateLimiter("messages", per_minute=60, burst=15)
    postgres = demo_service.settings.model_copy(update={"database_url": "postgresql+psycopg://nowhere/none"})
    monkeypatch.setattr(demo_service, "settings", postgres)
    for failure in (
        DatabaseUnavailable("demo credentials in production"),
        DependencyFault("unavailable", "x"),
    ):

        def failing(failure: Exception = failure) -> Any:
            raise failure

        monkeypatch.setattr(demo_service, "_autocommit", failing)
        assert demo_service.take_token(limiter, "guest-1") is None
        assert demo_service.sweep_tokens(60.0) == 0


def test_a_pool_with_no_free_connection_during_a_replay_keeps_the_entry_for_the_next(
    demo_service, monkeypatch, tmp_path
):
    """No pooled connection free in time is a busy process, not data the database refuses: the entry stays
    spooled (it used to be set aside for a person as unappliable)."""
    from sqlalchemy import exc as sa_exc

    spool = Spool(tmp_path / "pending.jsonl")
    spool.append({"kind": "conversation", "conversation_id": str(uuid.uuid4()), "customer_id": "x"})

    def busy(entry):
        raise sa_exc.TimeoutError("QueuePool limit reached")

    monkeypatch.setattr(demo_service, "spool", spool)
    monkeypatch.setattr(demo_service, "_apply_spooled", busy)
    assert demo_service.replay_spool() == 0
    assert len(spool) == 1 and not (tmp_path / "pending.dead.jsonl").exists()


def _replies(url: str, ids: list[int]) -> dict[int, Message]:
    with session_scope(url) as session:
        return {m.reply_to: m for m in session.scalars(select(Message).where(Message.reply_to.in_(ids)))}


def test_a_message_whose_process_died_mid_turn_is_answered_by_the_stuck_turn_sweep(demo_service, settings):
    """The process stored the message, then died before the turn (a crash, a kill at a deploy) and the client
    never retried: the sweep answers it once it is older than STUCK_TURN_S. It leaves alone a younger one
    (a turn may still be running), one over an hour old (a backlog from before), and one the customer wrote
    after (answered now, it would land after the later reply)."""
    url = settings.database_url
    first = _new(demo_service)
    old = stored_unanswered(url, first, "How do I return an item?", "k-old", minutes_ago=5)
    young = stored_unanswered(url, _new(demo_service), "Where is my order?", "k-young", minutes_ago=0)
    ancient = stored_unanswered(
        url, _new(demo_service), "Do you ship to Canada?", "k-ancient", minutes_ago=120
    )
    moved_on = _new(demo_service)
    overtaken = stored_unanswered(url, moved_on, "How long do refunds take?", "k-first", minutes_ago=5)
    _ask(demo_service, "Actually, can I exchange instead?", moved_on)
    assert demo_service.answer_stuck(older_than_s=120, limit=1000) >= 1
    replies = _replies(url, [old, young, ancient, overtaken])
    assert set(replies) == {old} and replies[old].citations  # a real answer from the help center
    again = _ask(demo_service, "How do I return an item?", first, idempotency_key="k-old")
    assert again.replayed and again.reply.id == replies[old].id  # the client's retry gets the sweep's reply
    demo_service.answer_stuck(older_than_s=120, limit=1000)
    assert set(_replies(url, [old, young, ancient, overtaken])) == {old}  # one reply, and the rest left


def test_the_sweep_leaves_a_conversation_a_turn_holds_and_the_turn_then_finds_its_answer(
    demo_service, settings, monkeypatch
):
    """A sweep that finds a conversation's lock held leaves it for later. A live turn that waited long for
    the lock while its message was answered (by the sweep, or a retry of its key, holding the lock) checks
    again once it gets the lock and returns that reply instead of running the graph a second time."""
    import agent.service as service_module

    monkeypatch.setattr(service_module, "_RECHECK_AFTER_LOCK_MS", 0.0)
    url = settings.database_url
    conv = _new(demo_service)
    holding, stored_live, answered = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with demo_service.conversation_lock(conv[0]):
            holding.set()
            stored_live.wait(30)
            demo_service.send(  # as the sweep would: the stored message's own key, under the lock
                conversation_id=conv[0], customer_id=conv[1], text="Is there a fee?", idempotency_key="k-live"
            )
            answered.set()

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    stuck = stored_unanswered(url, conv, "How do I return an item?", "k-held", minutes_ago=5)
    demo_service.answer_stuck(older_than_s=120, limit=1000)
    assert stuck not in _replies(url, [stuck])  # a turn holds the conversation: left for the next sweep
    live: list[Any] = []
    waiting = threading.Thread(
        target=lambda: live.append(
            demo_service.send(
                conversation_id=conv[0], customer_id=conv[1], text="Is there a fee?", idempotency_key="k-live"
            )
        )
    )
    waiting.start()  # stores its message, then waits for the lock the holder has
    for _ in range(200):
        with session_scope(url) as session:
            if session.scalar(select(Message.id).where(Message.idempotency_key == "k-live")):
                break
        time.sleep(0.05)
    stored_live.set()
    holder.join(30)
    waiting.join(30)
    assert answered.is_set() and live and live[0].replayed  # the holder's answer, not a second turn
    with session_scope(url) as session:
        live_id = session.scalar(select(Message.id).where(Message.idempotency_key == "k-live"))
        assert len(session.scalars(select(Message).where(Message.reply_to == live_id)).all()) == 1


BAD_INPUTS = {
    "empty": "",
    "whitespace": "   \n\t  ",
    "huge": "How do I return an item? " + "blah " * 10_000,
    "control_and_zero_width": "How do I\u200b re\u200dturn an\x00 item?\x07\u202e",
    "emoji_and_rtl": "😡📦 متى يصل طلبي؟ where is my order 🙏",
    "sql_looking": "'; DROP TABLE messages; -- how do refunds work?",
    "html_looking": "<script>alert('x')</script><b>refund</b> status?",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gets_a_sensible_reply_and_everything_isstored_unanswered(demo_service, settings, name):
    text = BAD_INPUTS[name]
    conv = _new(demo_service)
    result = _ask(demo_service, text, conv)
    assert result.outcome != "failed"
    assert result.reply.content.strip()
    with session_scope(settings.database_url) as session:
        stored = session.get(Message, result.message.id)
        assert stored.content == text.replace("\x00", "")  # as sent, but NUL (Postgres refuses it)
        assert stored.status == "answered"
        assert session.scalar(select(TurnRecord).where(TurnRecord.message_id == stored.id)) is not None
    if name == "huge":
        assert "very long" in result.reply.content
    if name == "empty":
        assert result.outcome == "clarify"


def test_a_huge_message_is_scanned_for_personal_data_only_as_far_as_the_agent_reads(
    demo_service, settings, monkeypatch
):
    """20,000 characters of digits cost the personal-data scan ~1 s of CPU; the agent reads only
    MAX_MESSAGE_CHARS of it, so the scan stops just past that. The message is stored whole."""
    from core import pii

    scanned: list[int] = []
    scan = pii.find_pii

    def counting(text, *args, **kwargs):
        scanned.append(len(text))
        return scan(text, *args, **kwargs)

    monkeypatch.setattr(pii, "find_pii", counting)
    text = "How do I return an item? " + "1 " * 10_000
    result = _ask(demo_service, text)
    assert result.outcome != "failed" and "very long" in result.reply.content
    assert scanned and max(scanned) <= settings.max_message_chars + 200
    with session_scope(settings.database_url) as session:
        assert session.get(Message, result.message.id).content == text


def test_a_huge_message_that_masking_shrinks_under_the_limit_is_still_said_to_be_truncated(
    demo_service, settings
):
    """Cut before masking, then masked (each email a short token): the graph gets under MAX_MESSAGE_CHARS,
    yet the message was truncated, and the turn says so and records its length as sent."""
    text = "Order lines: " + " ".join(
        f"item {i} for someone.long.name{i}@example-company.com" for i in range(800)
    )
    result = _ask(demo_service, text)
    assert "very long" in result.reply.content
    with session_scope(settings.database_url) as session:
        record = session.scalar(select(TurnRecord).where(TurnRecord.message_id == result.message.id))
    assert record.guards["input"] == {"truncated": True, "original_length": len(text)}


def test_customer_cannot_read_or_write_someone_elses_conversation(demo_service):
    conv_id, _owner = _new(demo_service)
    with pytest.raises(NotYourConversation):
        demo_service.transcript(conversation_id=conv_id, customer_id="intruder")
    with pytest.raises(NotYourConversation):
        demo_service.send(conversation_id=conv_id, customer_id="intruder", text="hi")


def test_the_first_message_names_the_conversation_and_later_ones_do_not(demo_service):
    blank = _new(demo_service)
    _ask(demo_service, "   ", blank)
    conv = _new(demo_service)
    _ask(demo_service, "  Do you   ship to\nCanada?  " + "x" * 80, conv)
    _ask(demo_service, "How long does it take?", conv)
    titles = {c["id"]: c["title"] for c in demo_service.conversations(customer_id=conv[1])}
    assert titles[conv[0]] == ("Do you ship to Canada? " + "x" * 80)[:60]
    assert demo_service.conversations(customer_id=blank[1])[0]["title"] == "New conversation"


def test_a_reply_written_again_for_its_message_is_not_stored_twice(demo_service, settings):
    first = _ask(demo_service, "How do I reset my password?")
    # a spooled reply replayed after the database already took it (another replica, or a retried replay)
    entry = {"kind": "reply", "conversation_id": first.conversation_id, "message_id": first.message.id}
    with session_scope(settings.database_url) as session:
        message, reply = demo_service._write_reply(
            session, first.conversation_id, "", {**entry, "reply": "a different reply", "error": "Boom"}
        )
    assert (message.id, reply.id, reply.content) == (first.message.id, first.reply.id, first.reply.content)
    with session_scope(settings.database_url) as session:
        rows = session.scalars(select(Message).where(Message.conversation_id == first.conversation_id)).all()
        records = session.scalars(select(TurnRecord).where(TurnRecord.message_id == first.message.id)).all()
    assert [(m.role, m.status) for m in rows] == [("customer", "answered"), ("assistant", "delivered")]
    assert len(records) == 1


def test_a_reply_for_a_message_the_database_lost_is_refused(demo_service, settings):
    conv = _new(demo_service)
    with pytest.raises(LookupError), session_scope(settings.database_url) as session:
        demo_service._write_reply(session, conv[0], conv[1], {"message_id": 10**9, "error": None})


def test_each_turn_writes_a_record_with_mode_passages_and_node_latencies(demo_service, settings):
    result = _ask(demo_service, "How do I reset my password?")
    with session_scope(settings.database_url) as session:
        record = session.scalar(select(TurnRecord).where(TurnRecord.message_id == result.message.id))
    assert record.mode == "minimal" and record.outcome == "answered"
    assert record.passages and record.confidence is not None
    assert {"screen_input", "retrieve", "answer", "check_output", "total"} <= set(record.latencies_ms)
    parts = {"retrieve.lexical", "retrieve.hop", "retrieve.embed", "retrieve.dense"}  # the retrieval's own
    assert parts <= set(record.latencies_ms)
    assert sum(record.latencies_ms[p] for p in parts) <= record.latencies_ms["retrieve"] + 0.1
    assert record.prompt_versions == {minimal.NAME: minimal.VERSION}
    assert record.mode_reason == "no LLM configured"
    assert record.guards["citations"] == "ok"


def test_transcript_lists_the_conversation_in_order(demo_service):
    conv = _new(demo_service)
    _ask(demo_service, "hello", conv)
    _ask(demo_service, "thanks!", conv)
    roles = [m.role for m in demo_service.transcript(conversation_id=conv[0], customer_id=conv[1])]
    assert roles == ["customer", "assistant", "customer", "assistant"]
