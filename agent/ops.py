"""The operations dashboard's numbers: how the bot did over a date range, computed from SQL (role admin).

Every figure covers the half-open range [since, until) in UTC (the database stores naive UTC times). Rows
are read with only the columns needed and bounded by the range; JSON columns (`turn_records.latencies_ms`,
`turn_records.guards`) are decoded in Python, so the same code runs on SQLite and PostgreSQL. Bucketing
(per day or per hour) is done in Python too. A range with no traffic gives zeros, and every rate whose
denominator is 0 is None.

Definitions (a "customer turn" is one row of `turn_records`: a customer message the bot processed, by the
turn record's time; messages stored for a person while they hold the chat have no turn record):

- conversations: distinct conversations with at least one customer turn in the range.
- bot answers: customer turns whose outcome is "answered".
- containment rate: of those conversations, the share that never created a handoff ticket (no row in
  `tickets` for the conversation created before `until`, whatever its reason).
- resolution rate: of the tickets created in the range, the share with status "resolved" and outcome
  "solved" (tickets still waiting, assigned or handed back count in the denominator).
- handoff rate (overall and by reason): customer turns with `handoff_reason` set, divided by customer turns.
  This includes "low_confidence" turns, where a person was offered rather than forced.
- guard blocks: per rail, the customer turns in which that rail blocked or removed something (see
  `GUARD_RAILS`), not the turns it merely checked.
- latency: per key of `latencies_ms` (graph node, plus "total"), the 50th and 95th percentile over the
  turns that recorded it, by the nearest-rank method (the smallest value with at least p% of values at or
  below it).
- helpful share: of the ratings given in the range (`feedback.created_at`), the share that were +1.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import session_scope
from core.models import Feedback, TurnRecord
from core.users import AuthenticatedUser, Role, require_current
from handoff.models import Ticket
from knowledge.embeddings import Embedder
from knowledge.gaps import gap_report

__all__ = [
    "BUCKETS",
    "GUARD_RAILS",
    "MODES",
    "OUTCOMES",
    "FeedbackBucket",
    "GapCount",
    "LatencyStat",
    "ModeBucket",
    "OpsDashboard",
    "OpsOverview",
    "Ratio",
    "ReasonRate",
    "Totals",
    "nearest_rank",
    "rails_that_acted",
]

BUCKETS = ("day", "hour")
MODES = ("full", "degraded", "minimal", "offline")
OUTCOMES = ("answered", "unknown", "refused", "clarify", "handoff", "failed")
GUARD_RAILS: dict[str, str] = {
    "injection": "injection/jailbreak",
    "judge": "LLM judge",
    "topic": "off-policy topic",
    "pii": "PII masked",
    "truncated": "truncated",
    "retrieval": "planted passage",
    "citations": "citation check",
    "grounding": "ungrounded",
    "output_policy": "output policy",
    "support": "unsupported claim",
}
"""Rail key -> its short label, in pipeline order: input (injection heuristics and classifier, the Full-mode
LLM judge, the policy's refused topics, personal data masked, over-long text truncated), retrieval (planted
passages dropped), output (citation check failed, ungrounded answer replaced, policy violations blocked or
sentences removed, unsupported sentences removed). A turn counts once per rail, however much it caught."""
MAX_BUCKETS = 2_000
"""More bars than a chart can show: a longer range is refused (per hour about 83 days, per day 5 years)."""
_IN_BATCH = 500
"""Ids per IN (...) list: well under every database's bound parameter limit."""
_STREAM_ROWS = 2_000
"""Turn records are streamed in batches of this many (a server-side cursor on PostgreSQL), never all held."""
_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}


# Views -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """count / of, with the counts behind it; rate is None when `of` is 0."""

    count: int
    of: int
    rate: float | None


@dataclass(frozen=True)
class Totals:
    conversations: int
    customer_turns: int
    bot_answers: int


@dataclass(frozen=True)
class ReasonRate:
    reason: str
    turns: int
    rate: float
    """turns / customer turns."""


@dataclass(frozen=True)
class ModeBucket:
    start: datetime
    """The bucket's first instant (UTC): midnight or the top of the hour."""
    turns: dict[str, int]
    """Customer turns per mode; every mode of MODES is present."""


@dataclass(frozen=True)
class LatencyStat:
    node: str
    p50_ms: float
    p95_ms: float
    n: int
    """Turns that recorded this node."""


@dataclass(frozen=True)
class GapCount:
    label: str
    """The group's most representative question (redacted customer text)."""
    count: int


@dataclass(frozen=True)
class FeedbackBucket:
    start: datetime
    helpful: int
    not_helpful: int


@dataclass(frozen=True)
class OpsOverview:
    """The dashboard for [since, until), with `bucket`-sized time series (see the module docstring)."""

    since: datetime
    until: datetime
    bucket: str
    totals: Totals
    containment: Ratio
    """Conversations without a handoff ticket, of the conversations with a customer turn."""
    resolution: Ratio
    """Tickets resolved as solved, of the tickets created."""
    tickets_resolved: int
    """Tickets created in the range and resolved with any outcome."""
    handoff: Ratio
    """Customer turns with a handoff reason, of all customer turns."""
    handoff_by_reason: tuple[ReasonRate, ...]
    """Most frequent first."""
    mode_share: tuple[ModeBucket, ...]
    """Every bucket of the range, oldest first, empty ones included."""
    latency: tuple[LatencyStat, ...]
    """By node name, "total" last."""
    guard_blocks: dict[str, int]
    """Turns per rail of GUARD_RAILS (every rail present)."""
    outcomes: dict[str, int]
    """Customer turns per outcome (every outcome of OUTCOMES present)."""
    top_gaps: tuple[GapCount, ...]
    feedback: tuple[FeedbackBucket, ...]
    """Every bucket of the range, oldest first."""
    helpful: Ratio
    """Helpful (+1) ratings, of all ratings given."""


# Pure helpers ------------------------------------------------------------------------------------------


def _ratio(count: int, of: int) -> Ratio:
    return Ratio(count, of, count / of if of else None)


def nearest_rank(values: Sequence[float], percentile: float) -> float:
    """The nearest-rank percentile of sorted `values` (not empty): the value at rank ceil(p/100 * n)."""
    rank = max(1, math.ceil(percentile / 100 * len(values)))
    return values[rank - 1]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def rails_that_acted(guards: Any) -> list[str]:
    """The GUARD_RAILS keys that blocked or removed something in one turn record's `guards`."""
    g = _dict(guards)
    output = _dict(g.get("output"))
    acted = {
        "injection": _dict(g.get("injection")).get("verdict") == "attack",
        "judge": _dict(g.get("judge")).get("attack") is True,
        "topic": bool(_dict(g.get("policy")).get("topic")),
        "pii": bool(_dict(g.get("pii")).get("masked")),
        "truncated": _dict(g.get("input")).get("truncated") is True,
        "retrieval": bool(_dict(g.get("retrieval")).get("dropped")),
        "citations": bool(_dict(g.get("citations")).get("blocked")),
        "grounding": bool(_dict(g.get("grounding")).get("blocked")),
        "output_policy": bool(output.get("blocked") or output.get("removed")),
        "support": bool(_dict(g.get("support")).get("removed")),
    }
    return [rail for rail in GUARD_RAILS if acted[rail]]


def _utc(at: datetime) -> datetime:
    """Naive UTC, as stored."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _floor(at: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _bucket_starts(since: datetime, until: datetime, bucket: str) -> list[datetime]:
    first = _floor(since, bucket)
    step = _STEP[bucket]
    count = math.ceil((until - first) / step) if until > first else 0
    if count > MAX_BUCKETS:
        raise ValueError(f"the range is too long for one chart per {bucket}; choose a shorter range or days")
    return [first + i * step for i in range(count)]


def _batches(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


# The service -------------------------------------------------------------------------------------------


class OpsDashboard:
    """Read-only metrics for administrators; the role is checked here, against the account as it is now."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        """Groups the knowledge gaps by meaning (by shared words without one)."""

    def _admin(self, session: Session, actor: AuthenticatedUser | None) -> AuthenticatedUser:
        """The role check on every call, against the account as it is now (not as it was at login)."""
        return require_current(session, actor, Role.ADMIN)

    def overview(
        self, actor: AuthenticatedUser | None, *, since: datetime, until: datetime, bucket: str = "day"
    ) -> OpsOverview:
        """Every number of the dashboard for [since, until). Raises PermissionDenied unless `actor` is an
        active admin, ValueError for an unknown bucket, a reversed range or too many buckets."""
        if bucket not in BUCKETS:
            raise ValueError(f"unknown bucket {bucket!r}: choose one of {', '.join(BUCKETS)}")
        since, until = _utc(since), _utc(until)
        if until < since:
            raise ValueError("the range ends before it starts")
        starts = _bucket_starts(since, until, bucket)
        with session_scope(self.settings.database_url) as s:
            self._admin(s, actor)
            turns = _TurnTally(starts, bucket)
            rows = s.execute(
                select(
                    TurnRecord.conversation_id,
                    TurnRecord.created_at,
                    TurnRecord.mode,
                    TurnRecord.outcome,
                    TurnRecord.handoff_reason,
                    TurnRecord.latencies_ms,
                    TurnRecord.guards,
                )
                .where(TurnRecord.created_at >= since, TurnRecord.created_at < until)
                .execution_options(yield_per=_STREAM_ROWS)
            )
            for row in rows:
                turns.add(*row)
            ticketed = self._ticketed(s, sorted(turns.conversations), until)
            tickets = self._tickets(s, since, until)
            feedback = self._feedback(s, since, until, starts, bucket)
            gaps = gap_report(
                s,
                since=since,
                until=until,
                min_confidence=self.settings.answer_min_confidence,
                embedder=self.embedder,
                limit=10,
            )
        conversations = len(turns.conversations)
        helpful = sum(b.helpful for b in feedback)
        rated = helpful + sum(b.not_helpful for b in feedback)
        handoffs = sum(turns.reasons.values())
        return OpsOverview(
            since=since,
            until=until,
            bucket=bucket,
            totals=Totals(conversations, turns.count, turns.outcomes["answered"]),
            containment=_ratio(conversations - ticketed, conversations),
            resolution=_ratio(tickets[("resolved", "solved")], sum(tickets.values())),
            tickets_resolved=sum(n for (status, _), n in tickets.items() if status == "resolved"),
            handoff=_ratio(handoffs, turns.count),
            handoff_by_reason=tuple(
                ReasonRate(reason, n, n / turns.count)
                for reason, n in sorted(turns.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
            mode_share=tuple(ModeBucket(start, dict(turns.modes[start])) for start in starts),
            latency=turns.latency(),
            guard_blocks=dict(turns.rails),
            outcomes=dict(turns.outcomes),
            top_gaps=tuple(GapCount(g.label, g.count) for g in gaps),
            feedback=feedback,
            helpful=_ratio(helpful, rated),
        )

    @staticmethod
    def _ticketed(session: Session, conversation_ids: Sequence[str], until: datetime) -> int:
        """How many of these conversations created a handoff ticket before `until`."""
        found: set[str] = set()
        for batch in _batches(conversation_ids):
            found.update(
                session.scalars(
                    select(Ticket.conversation_id)
                    .where(Ticket.conversation_id.in_(batch), Ticket.created_at < until)
                    .distinct()
                )
            )
        return len(found)

    @staticmethod
    def _tickets(session: Session, since: datetime, until: datetime) -> Counter[tuple[str, str | None]]:
        """Tickets created in the range, per (status, outcome)."""
        rows = session.execute(
            select(Ticket.status, Ticket.outcome, func.count(Ticket.id))
            .where(Ticket.created_at >= since, Ticket.created_at < until)
            .group_by(Ticket.status, Ticket.outcome)
        )
        return Counter({(status, outcome): int(n) for status, outcome, n in rows})

    @staticmethod
    def _feedback(
        session: Session, since: datetime, until: datetime, starts: list[datetime], bucket: str
    ) -> tuple[FeedbackBucket, ...]:
        counts: dict[datetime, Counter[int]] = {start: Counter() for start in starts}
        rows = session.execute(
            select(Feedback.created_at, Feedback.rating).where(
                Feedback.created_at >= since, Feedback.created_at < until
            )
        )
        for at, rating in rows:
            counts[_floor(at, bucket)][rating] += 1
        return tuple(FeedbackBucket(start, c[1], c[-1]) for start, c in counts.items())


class _TurnTally:
    """Everything counted from the turn records, one row at a time."""

    def __init__(self, starts: list[datetime], bucket: str) -> None:
        self.bucket = bucket
        self.count = 0
        self.conversations: set[str] = set()
        self.outcomes: Counter[str] = Counter(dict.fromkeys(OUTCOMES, 0))
        self.reasons: Counter[str] = Counter()
        self.rails: Counter[str] = Counter(dict.fromkeys(GUARD_RAILS, 0))
        self.modes: dict[datetime, Counter[str]] = {s: Counter(dict.fromkeys(MODES, 0)) for s in starts}
        self.latencies: dict[str, list[float]] = defaultdict(list)

    def add(
        self,
        conversation_id: str,
        at: datetime,
        mode: str,
        outcome: str,
        reason: str | None,
        latencies: Any,
        guards: Any,
    ) -> None:
        self.count += 1
        self.conversations.add(conversation_id)
        self.outcomes[outcome] += 1
        if reason:
            self.reasons[reason] += 1
        self.rails.update(rails_that_acted(guards))
        self.modes[_floor(at, self.bucket)][mode] += 1
        for node, ms in _dict(latencies).items():  # graph nodes; their parts (retrieve.embed, ...) are not
            if isinstance(ms, int | float) and not isinstance(ms, bool) and "." not in node:
                self.latencies[node].append(float(ms))

    def latency(self) -> tuple[LatencyStat, ...]:
        stats = []
        for node in sorted(self.latencies, key=lambda n: (n == "total", n)):
            values = sorted(self.latencies[node])
            stats.append(LatencyStat(node, nearest_rank(values, 50), nearest_rank(values, 95), len(values)))
        return tuple(stats)
