"""The operations page (AppTest): an admin logs in and sees the seeded traffic's numbers in the tiles, the
charts and the tables; other roles get the refusal and no numbers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from agent.service import ChatService
from core.breakers import HealthRegistry
from core.db import session_scope, utcnow
from core.models import TurnRecord
from core.policy import load_policy
from evals.traffic import UNANSWERABLE, TrafficSummary, seed_traffic
from knowledge.service import KnowledgeBase
from knowledge.store import import_markdown
from tests.ui.pages import log_in, open_page, own_database, serving

pytestmark = pytest.mark.slow

REFUSAL = "The operations dashboard is for administrators."
TILES = ["Containment", "Resolution", "Handoff rate", "Helpful", "Customer turns"]


@dataclass(frozen=True)
class Seeded:
    svc: ChatService
    summary: TrafficSummary
    handoff_turns: int
    """Turn records with a handoff reason, counted in SQL."""


@pytest.fixture(scope="module")
def seeded(demo_service, settings, tmp_path_factory) -> Iterator[Seeded]:  # type: ignore[no-untyped-def]
    """A fresh database with the demo help center, an admin and an editor, and the default seeded traffic."""
    folder = tmp_path_factory.mktemp("ops-ui")
    config = own_database(settings, folder, (("ops-admin", "admin"), ("erin", "editor")))
    with session_scope(config.database_url) as s:
        import_markdown(s, config.kb_content_dir.glob("*.md"), public_contacts=load_policy().brand.contacts)
    kb = KnowledgeBase(config, embedder=demo_service.kb.embedder)
    kb.refresh()
    svc = ChatService(config, kb=kb, health=HealthRegistry(), checkpointer=InMemorySaver(), models=[])
    summary = seed_traffic(svc)
    with session_scope(config.database_url) as s:
        handoffs = s.scalar(select(func.count(TurnRecord.id)).where(TurnRecord.handoff_reason.is_not(None)))
    yield Seeded(svc, summary, int(handoffs or 0))


@pytest.fixture
def page_service(seeded, monkeypatch) -> Iterator[ChatService]:  # type: ignore[no-untyped-def]
    with serving(monkeypatch, seeded.svc):
        yield seeded.svc


def _ops(username: str) -> AppTest:
    return log_in(open_page("ops.py"), username)


def _tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _texts(at: AppTest) -> str:
    parts = [c.value for c in at.caption] + [h.value for h in at.subheader] + [i.value for i in at.info]
    return "\n".join([*parts, *(e.value for e in at.error)])


def _pct(count: int, of: int) -> str:
    return f"{count / of:.1%}"


def test_an_admin_sees_the_seeded_numbers(seeded, page_service):
    s = seeded.summary
    at = _ops("ops-admin")
    assert [t.value for t in at.title] == ["Operations"]
    assert not at.main.markdown  # no stray text (Streamlit draws bare strings in a page script)
    tiles = _tiles(at)
    assert list(tiles) == TILES
    assert tiles == {
        "Containment": _pct(s.conversations - s.tickets, s.conversations),
        "Resolution": _pct(s.solved, s.tickets),
        "Handoff rate": _pct(seeded.handoff_turns, s.turns),
        "Helpful": _pct(s.helpful, s.helpful + s.not_helpful),
        "Customer turns": str(s.turns),
    }
    text = _texts(at)
    assert f"{s.conversations} conversations · {s.turns} customer turns" in text
    for caption in (
        "Customer turns per day, by the rung of the degradation ladder",
        f"Customer turns with each handoff reason, as a % of all {s.turns} customer turns",
        "Thumbs up (helpful) and thumbs down (not helpful) given per day",
        "Customer turns in which each rail blocked or removed something",
        "Customer turns per outcome",
        "Milliseconds per graph node",
        "grouped by meaning",
    ):
        assert caption in text
    assert len(at.get("vega_lite_chart")) == 5  # modes, handoffs, guards, feedback, outcomes
    latency, gaps = (d.value for d in at.dataframe)
    assert {"screen_input", "retrieve", "total"} <= set(latency["node"])
    assert (latency["p50 (ms)"] <= latency["p95 (ms)"]).all()
    assert set(gaps["question"]) <= set(UNANSWERABLE) and gaps["count"].sum() >= 1


def test_the_period_and_bucket_change_the_numbers(seeded, page_service):
    at = _ops("ops-admin")
    at.radio(key="ops_bucket").set_value("hour").run()
    assert not at.exception
    assert _tiles(at)["Customer turns"] == str(seeded.summary.turns)
    assert "Customer turns per hour" in _texts(at)
    long_ago = date(2020, 3, 1)
    at.date_input(key="ops_range").set_value((long_ago, long_ago + timedelta(days=6))).run()
    assert not at.exception
    assert _tiles(at) == {
        "Containment": "—",
        "Resolution": "—",
        "Handoff rate": "—",
        "Helpful": "—",
        "Customer turns": "0",
    }
    assert "No handoffs in this period." in _texts(at)
    today = utcnow().date()
    at.date_input(key="ops_range").set_value((today - timedelta(days=400), today)).run()
    assert "the range is too long for one chart per hour" in _texts(at) and not at.metric


def test_an_editor_gets_the_refusal_and_no_numbers(seeded, page_service):
    at = _ops("erin")
    assert REFUSAL in _texts(at)
    assert not at.metric and not at.get("vega_lite_chart") and not at.dataframe
