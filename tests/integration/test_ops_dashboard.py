"""The operations dashboard's numbers against seeded traffic: real service, real knowledge base (the demo
help center imported into a fresh SQLite database), real turns, tickets worked through the desk.

Each figure is checked against what the seeder says it did and against counts taken straight from SQL.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import func, select

import evals.traffic
from agent.llm import ModelSlot
from agent.ops import GUARD_RAILS, MODES, OUTCOMES, OpsDashboard, nearest_rank
from agent.service import ChatService
from core import users
from core.breakers import HealthRegistry
from core.config import Settings
from core.db import get_engine, session_scope, utcnow
from core.migrate import upgrade
from core.models import Feedback, TurnRecord, User
from core.policy import load_policy
from core.users import AuthenticatedUser, PermissionDenied, Role
from evals.scripted import ScriptedChatModel, answer_call, grounded_answer
from evals.traffic import ANSWERABLE, UNANSWERABLE, TrafficSummary, seed_traffic
from handoff.models import Ticket
from knowledge.gaps import MISSING_KNOWLEDGE
from knowledge.service import KnowledgeBase
from knowledge.store import import_markdown

pytestmark = pytest.mark.slow

PASSWORD = "a-long-test-pass"
GRAPH_NODES = {"screen_input", "assess", "contextualise", "retrieve", "answer", "check_output", "hand_off"}


@dataclass(frozen=True)
class Seeded:
    svc: ChatService
    dashboard: OpsDashboard
    summary: TrafficSummary
    since: datetime
    until: datetime
    accounts: dict[str, AuthenticatedUser]
    """admin, editor, agent, customer, former (a deactivated admin)."""


def _config(settings: Settings, folder: Path, database_url: str = "") -> Settings:
    """Settings over a migrated database: a new SQLite file in `folder` unless `database_url` is given."""
    url = database_url or f"sqlite:///{folder / 'support.db'}"
    config = settings.model_copy(update={"data_dir": folder, "database_url": url})
    upgrade(config.database_url)
    return config


def _account(config: Settings, username: str, role: Role) -> AuthenticatedUser:
    with session_scope(config.database_url) as s:
        view = users.create_user(
            s, username=username, display_name=username.title(), role=role, password=PASSWORD, settings=config
        )
    return AuthenticatedUser(view.id, view.username, view.display_name, role)


@pytest.fixture(scope="module")
def seeded(demo_service, settings, tmp_path_factory) -> Iterator[Seeded]:  # type: ignore[no-untyped-def]
    """A fresh database with the demo help center, the staff accounts, and the default seeded traffic."""
    config = _config(settings, tmp_path_factory.mktemp("ops"))
    with session_scope(config.database_url) as s:
        report = import_markdown(
            s, config.kb_content_dir.glob("*.md"), public_contacts=load_policy().brand.contacts
        )
    assert not report.errors and not report.quarantined
    kb = KnowledgeBase(config, embedder=demo_service.kb.embedder)
    kb.refresh()
    accounts = {
        "admin": _account(config, "ops-admin", Role.ADMIN),
        "editor": _account(config, "erin", Role.EDITOR),
        "agent": _account(config, "alex", Role.AGENT),
        "customer": _account(config, "casey", Role.CUSTOMER),
        "former": _account(config, "former-admin", Role.ADMIN),
    }
    with session_scope(config.database_url) as s:
        users.deactivate(s, username="former-admin")
    svc = ChatService(config, kb=kb, health=HealthRegistry(), checkpointer=InMemorySaver(), models=[])
    since = utcnow()
    summary = seed_traffic(svc)
    yield Seeded(
        svc,
        OpsDashboard(config, embedder=kb.embedder),
        summary,
        since,
        utcnow() + timedelta(seconds=1),
        accounts,
    )


def test_the_seeder_plays_every_kind_of_customer_and_works_the_tickets(seeded):
    summary = seeded.summary
    assert summary.asked == {
        "answerable": 9,
        "unanswerable": 6,
        "person": 2,
        "while_waiting": 2,
        "angry": 2,
        "injection": 1,
        "off_policy": 1,
    }
    assert (summary.customers, summary.conversations, summary.messages) == (12, 12, 23)
    assert (summary.turns, summary.held) == (21, 2)  # the messages sent while waiting reach only a person
    assert summary.outcomes["refused"] == 2 and summary.outcomes["handoff"] == 5
    # tickets: two asked for a person, two were angry, one asked a third unanswerable question in a row
    tickets = (summary.tickets, summary.handed_back, summary.solved, summary.not_solved, summary.waiting)
    assert tickets == (5, 1, 2, 1, 1)
    assert summary.agent_replies == 4 and (summary.helpful, summary.not_helpful) == (6, 3)
    with session_scope(seeded.svc.db) as s:
        statuses = Counter(s.execute(select(Ticket.status, Ticket.outcome)).tuples())
    assert statuses == {
        ("returned", None): 1,
        ("resolved", "solved"): 2,
        ("resolved", "not_solved"): 1,
        ("waiting", None): 1,
    }


def test_the_same_seed_asks_the_same_questions(seeded, settings, tmp_path):
    config = _config(settings, tmp_path)
    kb = seeded.svc.kb  # published content comes from the seeded database; turns go to this one
    svc = ChatService(config, kb=kb, health=HealthRegistry(), checkpointer=InMemorySaver(), models=[])
    again = seed_traffic(svc)
    assert again == seeded.summary


def test_the_overview_matches_the_traffic_and_the_database(seeded):
    summary = seeded.summary
    o = seeded.dashboard.overview(seeded.accounts["admin"], since=seeded.since, until=seeded.until)
    with session_scope(seeded.svc.db) as s:
        records = s.execute(
            select(TurnRecord.handoff_reason, TurnRecord.outcome, TurnRecord.latencies_ms)
        ).all()
        ticketed = s.scalar(select(func.count(func.distinct(Ticket.conversation_id))))
        ratings = Counter(s.scalars(select(Feedback.rating)))

    assert (o.totals.conversations, o.totals.customer_turns) == (summary.conversations, summary.turns)
    assert len(records) == summary.turns
    assert o.totals.bot_answers == summary.outcomes["answered"]
    assert o.outcomes == {k: summary.outcomes.get(k, 0) for k in OUTCOMES}

    assert ticketed == summary.tickets  # one ticket per handed-off conversation
    contained = summary.conversations - summary.tickets
    assert (o.containment.count, o.containment.of) == (contained, summary.conversations)
    assert o.containment.rate == pytest.approx(contained / summary.conversations)
    assert (o.resolution.count, o.resolution.of) == (summary.solved, summary.tickets)
    assert o.resolution.rate == pytest.approx(summary.solved / summary.tickets)
    assert o.tickets_resolved == summary.solved + summary.not_solved

    reasons = Counter(r.handoff_reason for r in records if r.handoff_reason)
    assert {r.reason: r.turns for r in o.handoff_by_reason} == reasons
    assert reasons["explicit_request"] == summary.asked["person"]
    assert reasons["sentiment"] == summary.asked["angry"]
    assert reasons["repeated_failure"] == 1
    for r in o.handoff_by_reason:
        assert r.rate == pytest.approx(reasons[r.reason] / summary.turns)
    assert [r.turns for r in o.handoff_by_reason] == sorted(reasons.values(), reverse=True)
    assert (o.handoff.count, o.handoff.of) == (sum(reasons.values()), summary.turns)

    rails = {rail: 0 for rail in GUARD_RAILS} | {
        "injection": summary.asked["injection"],
        "topic": summary.asked["off_policy"],
    }
    assert o.guard_blocks == rails  # Minimal mode: no output rail had anything to remove

    assert [b.start for b in o.mode_share] == [
        datetime.combine(seeded.since.date(), datetime.min.time()) + timedelta(days=i)
        for i in range(len(o.mode_share))
    ]
    modes = Counter()
    for b in o.mode_share:
        assert set(b.turns) == set(MODES)
        modes.update(b.turns)
    assert modes == {"minimal": summary.turns, "full": 0, "degraded": 0, "offline": 0}

    latency = {s.node: s for s in o.latency}
    assert GRAPH_NODES | {"total"} <= set(latency)
    assert any("retrieve.embed" in r.latencies_ms for r in records)  # the record has the retrieval's parts...
    assert not [node for node in latency if "." in node]  # ...the per-node figures do not
    assert o.latency[-1].node == "total" and latency["total"].n == summary.turns
    assert latency["screen_input"].n == summary.turns
    for node, stat in latency.items():
        values = [float(r.latencies_ms[node]) for r in records if node in r.latencies_ms]
        assert stat.n == len(values)
        assert stat.p50_ms <= stat.p95_ms
        # nearest rank is numpy's inverted_cdf: the smallest value with at least p% at or below it
        assert stat.p50_ms == pytest.approx(np.percentile(values, 50, method="inverted_cdf"))
        assert stat.p95_ms == pytest.approx(np.percentile(values, 95, method="inverted_cdf"))

    assert sum(b.helpful for b in o.feedback) == summary.helpful == ratings[1]
    assert sum(b.not_helpful for b in o.feedback) == summary.not_helpful == ratings[-1]
    assert (o.helpful.count, o.helpful.of) == (summary.helpful, summary.helpful + summary.not_helpful)

    gaps = sum(
        1
        for r in records
        if r.outcome == "unknown" or (r.outcome == "handoff" and r.handoff_reason in MISSING_KNOWLEDGE)
    )
    assert o.top_gaps and sum(g.count for g in o.top_gaps) == gaps
    assert {g.label for g in o.top_gaps} <= set(UNANSWERABLE)
    assert not {g.label for g in o.top_gaps} & set(ANSWERABLE)


def test_postgresql_gives_the_same_numbers_as_sqlite(seeded, settings, tmp_path, postgres_url):
    config = _config(settings, tmp_path, postgres_url)
    svc = ChatService(
        config, kb=seeded.svc.kb, health=HealthRegistry(), checkpointer=InMemorySaver(), models=[]
    )
    admin = _account(config, "ops-admin", Role.ADMIN)
    since = utcnow()
    try:
        assert seed_traffic(svc) == seeded.summary
        on_pg = OpsDashboard(config, embedder=svc.kb.embedder).overview(
            admin, since=since, until=utcnow() + timedelta(seconds=1)
        )
    finally:
        get_engine(postgres_url).dispose()
    on_sqlite = seeded.dashboard.overview(seeded.accounts["admin"], since=seeded.since, until=seeded.until)
    for name in (
        "totals",
        "containment",
        "resolution",
        "tickets_resolved",
        "handoff",
        "handoff_by_reason",
        "guard_blocks",
        "outcomes",
        "top_gaps",
        "helpful",
    ):
        assert getattr(on_pg, name) == getattr(on_sqlite, name), name
    assert [s.node for s in on_pg.latency] == [s.node for s in on_sqlite.latency]
    assert [s.n for s in on_pg.latency] == [s.n for s in on_sqlite.latency]
    for overview in (on_pg, on_sqlite):
        assert sum(b.turns["minimal"] for b in overview.mode_share) == seeded.summary.turns


def test_hourly_buckets_hold_the_same_turns(seeded):
    start = seeded.since.replace(minute=0, second=0, microsecond=0)
    hours = math.ceil((seeded.until - start) / timedelta(hours=1))
    o = seeded.dashboard.overview(
        seeded.accounts["admin"], since=start, until=start + timedelta(hours=hours), bucket="hour"
    )
    assert [b.start for b in o.mode_share] == [start + timedelta(hours=i) for i in range(hours)]
    assert [b.start for b in o.feedback] == [b.start for b in o.mode_share]
    assert sum(sum(b.turns.values()) for b in o.mode_share) == seeded.summary.turns
    rated = sum(b.helpful + b.not_helpful for b in o.feedback)
    assert rated == seeded.summary.helpful + seeded.summary.not_helpful


def test_output_rails_count_only_when_they_block_or_remove(seeded, settings, tmp_path):
    """Full mode with a scripted model: one invented commitment (blocked), one unsupported sentence
    (removed), one email masked, one clean answer (checked, not counted)."""

    def responder(messages: list[BaseMessage]) -> AIMessage | str:
        reply = grounded_answer(messages)
        if not (isinstance(reply, AIMessage) and reply.tool_calls):
            return reply
        asked = str(messages[-1].content)
        text = reply.tool_calls[0]["args"]["text"]
        if "refund to a credit card" in asked:
            return answer_call("You can return it any time and we guarantee a full refund plus $50 [1].")
        if "return an item" in asked:
            robots = "Returned items are always inspected within 2 hours by our robots [1]."
            return answer_call(f"{text} {robots}")
        return reply

    config = _config(settings, tmp_path)
    admin = _account(config, "ops-admin", Role.ADMIN)
    model = ScriptedChatModel(responder=responder)
    svc = ChatService(
        config,
        kb=seeded.svc.kb,
        health=HealthRegistry(),
        checkpointer=InMemorySaver(),
        models=[ModelSlot("scripted:m", model)],
    )
    since = utcnow()
    outcomes = []
    for text in (
        "How do I return an item?",
        "How long does a refund to a credit card take?",
        "Do you ship to Canada? My email is jo@example.org",
        "How do I reset my password?",
    ):
        customer = uuid.uuid4().hex
        conversation = svc.start_conversation(customer_id=customer)
        outcomes.append(svc.send(conversation_id=conversation, customer_id=customer, text=text).outcome)
    assert outcomes == ["answered"] * 4
    o = OpsDashboard(config).overview(admin, since=since, until=utcnow() + timedelta(seconds=1))
    assert o.guard_blocks == {rail: 0 for rail in GUARD_RAILS} | {"output_policy": 1, "support": 1, "pii": 1}
    modes = Counter()
    for b in o.mode_share:
        modes.update(b.turns)
    assert modes == {"full": 3, "minimal": 1, "degraded": 0, "offline": 0}  # the blocked one was quoted
    assert o.totals.bot_answers == 4 and o.containment.rate == 1.0 and o.resolution.rate is None
    assert {"answer", "check_output"} <= {s.node for s in o.latency}


def test_only_an_active_admin_sees_the_dashboard(seeded):
    overview = seeded.dashboard.overview
    for who in ("customer", "agent", "editor", "former"):
        with pytest.raises(PermissionDenied):
            overview(seeded.accounts[who], since=seeded.since, until=seeded.until)
    with pytest.raises(PermissionDenied, match="log in"):
        overview(None, since=seeded.since, until=seeded.until)
    # a session that still says "admin" after the account was demoted is refused too
    demoted = _account(seeded.dashboard.settings, "demoted-admin", Role.ADMIN)
    with session_scope(seeded.svc.db) as s:
        row = s.get(User, demoted.id)
        assert row is not None
        row.role = Role.EDITOR.value
    with pytest.raises(PermissionDenied, match="editor"):
        overview(demoted, since=seeded.since, until=seeded.until)
    assert overview(seeded.accounts["admin"], since=seeded.since, until=seeded.until).totals.customer_turns


def test_an_empty_range_gives_zeros_and_no_rates(seeded):
    admin, long_ago = seeded.accounts["admin"], datetime(2020, 3, 1)
    o = seeded.dashboard.overview(admin, since=long_ago, until=long_ago + timedelta(days=7))
    assert (o.totals.conversations, o.totals.customer_turns, o.totals.bot_answers) == (0, 0, 0)
    for ratio in (o.containment, o.resolution, o.handoff, o.helpful):
        assert (ratio.count, ratio.of, ratio.rate) == (0, 0, None)
    assert o.tickets_resolved == 0 and o.handoff_by_reason == () and o.latency == () and o.top_gaps == ()
    assert o.outcomes == dict.fromkeys(OUTCOMES, 0) and o.guard_blocks == dict.fromkeys(GUARD_RAILS, 0)
    assert len(o.mode_share) == len(o.feedback) == 7
    assert all(sum(b.turns.values()) == 0 for b in o.mode_share)
    assert all(b.helpful == b.not_helpful == 0 for b in o.feedback)
    nothing = seeded.dashboard.overview(admin, since=long_ago, until=long_ago)
    assert nothing.mode_share == () and nothing.totals.customer_turns == 0


def test_bad_ranges_and_buckets_are_refused(seeded):
    admin, now = seeded.accounts["admin"], utcnow()
    with pytest.raises(ValueError, match="bucket"):
        seeded.dashboard.overview(admin, since=now - timedelta(days=1), until=now, bucket="week")
    with pytest.raises(ValueError, match="ends before it starts"):
        seeded.dashboard.overview(admin, since=now, until=now - timedelta(days=1))
    with pytest.raises(ValueError, match="too long"):
        seeded.dashboard.overview(admin, since=now - timedelta(days=3650), until=now, bucket="hour")


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 21)]
    assert (nearest_rank(values, 50), nearest_rank(values, 95), nearest_rank(values, 100)) == (10, 19, 20)
    assert nearest_rank([7.0], 50) == nearest_rank([7.0], 95) == 7.0
    assert math.isclose(nearest_rank([1.0, 2.0], 50), 1.0)


def test_production_is_refused_by_the_cli_and_the_seeder(seeded, monkeypatch, capsys):
    import core.config

    prod = seeded.svc.settings.model_copy(update={"env": "prod"})
    monkeypatch.setattr(core.config, "get_settings", lambda: prod)
    assert evals.traffic.main(["--customers", "2"]) == 2
    assert "refusing to write seeded traffic into a production database" in capsys.readouterr().err
    monkeypatch.setattr(seeded.svc, "settings", prod)
    with pytest.raises(RuntimeError, match="dev and test"):
        seed_traffic(seeded.svc, customers=1)
