"""The operations dashboard (role admin): containment, resolution, handoffs, modes, latency, guardrails,
outcomes, knowledge gaps and feedback over a date range.

The numbers and the role check live in agent/ops.py; this page only draws them. Customer text (the gap
questions) is shown only inside dataframes, never as Markdown.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import streamlit as st

from agent.ops import GUARD_RAILS, MODES, OpsDashboard, OpsOverview, Ratio
from app.ui.common import MODE_BADGE, act, logout_button, ok, require_login, service
from core.db import utcnow
from core.users import PermissionDenied, Role

st.set_page_config(page_title="Operations", layout="wide")
svc = service()
user = require_login(
    svc, Role.ADMIN, title="Operations", refusal="The operations dashboard is for administrators."
)


@st.cache_resource(show_spinner=False)
def _dashboard() -> OpsDashboard:
    chat = service()
    return OpsDashboard(chat.settings, embedder=chat.kb.embedder)


def _pct(ratio: Ratio) -> str:
    return "—" if ratio.rate is None else f"{ratio.rate:.1%}"


def _label(at: datetime, bucket: str) -> str:
    return at.strftime("%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d")


def _period() -> tuple[datetime, datetime, str]:
    """[since, until) in UTC from the picked days (both included), and the bucket."""
    today = utcnow().date()
    default = (today - timedelta(days=6), today)
    c1, c2 = st.columns([3, 1])
    picked = c1.date_input("Period (UTC, both days included)", default, max_value=today, key="ops_range")
    bucket = c2.radio("Per", ["day", "hour"], horizontal=True, key="ops_bucket")
    chosen = [d for d in (picked if isinstance(picked, tuple) else (picked,)) if isinstance(d, date)]
    start, end = (chosen[0], chosen[-1]) if chosen else default
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min), bucket


def _tiles(o: OpsOverview) -> None:
    t = o.totals
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric(
        "Containment",
        _pct(o.containment),
        help=f"{o.containment.count} of {o.containment.of} conversations with a customer turn in the period "
        "never created a handoff ticket.",
    )
    c2.metric(
        "Resolution",
        _pct(o.resolution),
        help=f"{o.resolution.count} of {o.resolution.of} tickets created in the period were resolved as "
        f"solved ({o.tickets_resolved} resolved with any outcome).",
    )
    c3.metric(
        "Handoff rate",
        _pct(o.handoff),
        help=f"{o.handoff.count} of {o.handoff.of} customer turns had a handoff reason (including "
        "low-confidence turns where a person was offered).",
    )
    c4.metric(
        "Helpful",
        _pct(o.helpful),
        help=f"{o.helpful.count} of {o.helpful.of} ratings given in the period were thumbs up.",
    )
    c5.metric(
        "Customer turns",
        t.customer_turns,
        help=f"Customer messages the bot processed: {t.bot_answers} answered, in {t.conversations} "
        "conversations.",
    )
    st.caption(
        f"{t.conversations} conversations · {t.customer_turns} customer turns · "
        f"{t.bot_answers} bot answers · {o.resolution.of} tickets created"
    )


def _modes(o: OpsOverview) -> None:
    st.subheader("Modes over time")
    st.caption(
        f"Customer turns per {o.bucket}, by the rung of the degradation ladder they were served on "
        "(full, degraded, minimal, offline)."
    )
    rows = [{"when": _label(b.start, o.bucket), **b.turns} for b in o.mode_share]
    st.bar_chart(
        rows,
        x="when",
        y=list(MODES),
        color=[MODE_BADGE[mode][1] for mode in MODES],  # the chat page's mode badge colours
        x_label=o.bucket,
        y_label="customer turns",
    )


def _handoffs(o: OpsOverview) -> None:
    st.subheader("Handoffs by reason")
    st.caption(
        f"Customer turns with each handoff reason, as a % of all {o.totals.customer_turns} customer turns. "
        "“low_confidence” counts turns where a person was offered, not forced."
    )
    if not o.handoff_by_reason:
        st.info("No handoffs in this period.")
        return
    rows = [{"reason": r.reason, "share": round(100 * r.rate, 1)} for r in o.handoff_by_reason]
    st.bar_chart(
        rows, x="reason", y="share", horizontal=True, sort=False, x_label="% of customer turns", y_label=""
    )


def _feedback(o: OpsOverview) -> None:
    st.subheader("Feedback")
    st.caption(
        f"Thumbs up (helpful) and thumbs down (not helpful) given per {o.bucket}, by when they were given."
    )
    rows = [
        {"when": _label(b.start, o.bucket), "helpful": b.helpful, "not helpful": b.not_helpful}
        for b in o.feedback
    ]
    st.line_chart(rows, x="when", y=["helpful", "not helpful"], x_label=o.bucket, y_label="ratings")


def _guards(o: OpsOverview) -> None:
    st.subheader("Guardrail blocks by rail")
    st.caption(
        "Customer turns in which each rail blocked or removed something (a turn counts once per rail; turns "
        "a rail only checked are not counted). Input: injection or jailbreak blocked, blocked by the LLM "
        "judge, out-of-policy topic refused, personal data masked, over-long message truncated. Retrieval: "
        "planted passages dropped. Output: citation check failed, ungrounded answer replaced, output policy "
        "violation (reply replaced or sentences removed), unsupported sentences removed."
    )
    rows = [{"rail": label, "turns": o.guard_blocks.get(key, 0)} for key, label in GUARD_RAILS.items()]
    st.bar_chart(rows, x="rail", y="turns", horizontal=True, sort=False, x_label="customer turns", y_label="")


def _outcomes(o: OpsOverview) -> None:
    st.subheader("Outcomes")
    st.caption("Customer turns per outcome of the bot's reply.")
    rows = [{"outcome": k, "turns": v} for k, v in o.outcomes.items()]
    st.bar_chart(rows, x="outcome", y="turns", sort=False, x_label="", y_label="customer turns")


def _latency(o: OpsOverview) -> None:
    st.subheader("Latency per step")
    st.caption(
        "Milliseconds per graph node, and the whole turn (“total”): 50th and 95th percentiles by the "
        "nearest-rank method, over the n turns that ran the node."
    )
    if not o.latency:
        st.info("No turns in this period.")
        return
    st.dataframe(
        [{"node": s.node, "p50 (ms)": s.p50_ms, "p95 (ms)": s.p95_ms, "n": s.n} for s in o.latency],
        hide_index=True,
        width="stretch",
    )


def _gaps(o: OpsOverview) -> None:
    st.subheader("Top knowledge gaps")
    st.caption(
        "Questions that ended in “I don't know”, a low-confidence answer or a handoff for missing knowledge, "
        "grouped by meaning (personal details masked); count is questions per group."
    )
    if not o.top_gaps:
        st.info("No unanswered questions in this period.")
        return
    st.dataframe(
        [{"question": g.label, "count": g.count} for g in o.top_gaps],
        hide_index=True,
        width="stretch",
    )


with st.sidebar:
    logout_button("ops_range", "ops_bucket")

st.title("Operations")
since, until, bucket = _period()
overview: Any = act(
    user, (PermissionDenied, ValueError), _dashboard().overview, since=since, until=until, bucket=bucket
)
if ok(overview):
    _tiles(overview)
    _modes(overview)
    left, right = st.columns(2)
    with left:
        _handoffs(overview)
    with right:
        _feedback(overview)
    left, right = st.columns([3, 2])
    with left:
        _guards(overview)
    with right:
        _outcomes(overview)
    _latency(overview)
    _gaps(overview)
