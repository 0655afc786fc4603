"""The knowledge-gap report: what customers asked that the help center could not answer, grouped.

A turn is a gap when the bot said it did not know, answered below the confidence floor, or handed off
because it could not find an answer (low confidence, repeated failure). Refusals, failures and requests
for a person are not gaps: a new article would not have changed them. Similar questions are grouped (by
embedding, or by shared words without an embedder), and each question links to the ticket a person took
over its conversation with, so an editor can turn a resolved ticket's answer into a draft article.

Editors never see raw personal data: every customer or agent text returned here is redacted.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core.models import Message, TurnRecord
from core.pii import TOKEN_RE, redact
from handoff.models import Ticket
from handoff.reasons import HandoffReason
from knowledge.chunking import MAX_SLUG_CHARS, slugify
from knowledge.embeddings import Embedder
from knowledge.lexical import tokenize

__all__ = [
    "MISSING_KNOWLEDGE",
    "DraftSuggestion",
    "GapError",
    "GapGroup",
    "GapQuestion",
    "draft_from_ticket",
    "gap_questions",
    "gap_report",
]

MISSING_KNOWLEDGE: tuple[str, ...] = (
    HandoffReason.LOW_CONFIDENCE.value,
    HandoffReason.REPEATED_FAILURE.value,
)
"""Handoff reasons that mean the help center lacked the answer."""

_JACCARD = 0.5
"""Without an embedder, a question joins a group sharing at least this share of words with it."""
_IN_BATCH = 500
"""Ids per IN (...) list: well under every database's bound parameter limit."""
_MAX_QUESTIONS = 5
"""A draft quotes at most this many customer messages (the latest before the person's first reply)."""
_TITLE_CHARS = 120
_FILLER = frozenset(
    "like want need talk speak chat someone somebody person people human agent real live representative "
    "operator staff call".split()
)
"""Words of a request for a person: without others, the message asks for someone, not about something."""
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?\b[\s,!.:;-]*", re.IGNORECASE
)
_SENTENCE = re.compile(r"(?<=[.?!])\s+")
_NOT_RESOLVED = {
    "waiting": "is still waiting for a person",
    "assigned": "is still being handled",
    "returned": "was handed back to the assistant without being resolved",
}


class GapError(ValueError):
    """A ticket cannot become a draft article; the message says why."""


@dataclass(frozen=True)
class GapQuestion:
    message_id: int
    conversation_id: str
    text: str
    """The customer's message, redacted."""
    at: datetime
    """When the customer sent it."""
    outcome: str
    """unknown | low_confidence | handoff:<reason>"""
    confidence: float | None
    handoff_reason: str | None
    ticket_id: int | None
    """The ticket created for the conversation at or after this question, if any."""


@dataclass(frozen=True)
class GapGroup:
    label: str
    """The most representative question of the group (redacted)."""
    count: int
    questions: tuple[GapQuestion, ...]
    """Newest first."""
    outcomes: dict[str, int]
    """How many questions ended each way: "unknown", "low_confidence", "handoff:low_confidence"..."""
    first_seen: datetime
    last_seen: datetime
    ticket_ids: tuple[int, ...]
    resolved_ticket_ids: tuple[int, ...]
    """Tickets a person resolved: their answers can become a draft (see `draft_from_ticket`)."""


@dataclass(frozen=True)
class DraftSuggestion:
    slug: str
    title: str
    body: str
    """Markdown with "## Question" and "## Answer" sections, redacted."""
    provenance: dict[str, Any]
    """ticket_id, conversation_id, agent (display names of who answered), assignee, outcome,
    resolved_at (ISO), messages (the ids quoted)."""


# the gap questions -------------------------------------------------------------------------------------


def _gap_kind(
    outcome: str, confidence: float | None, reason: str | None, min_confidence: float
) -> str | None:
    """How a turn missed, or None when it is not a gap."""
    if outcome == "unknown":
        return "unknown"
    if outcome == "answered" and confidence is not None and confidence < min_confidence:
        return "low_confidence"
    if outcome == "handoff" and reason in MISSING_KNOWLEDGE:
        return f"handoff:{reason}"
    return None


def _batches(values: Sequence[Any], size: int = _IN_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _tickets_by_conversation(
    session: Session, conversation_ids: Sequence[str], since: datetime
) -> dict[str, list[tuple[datetime, int, str]]]:
    """(created_at, id, status) of the tickets created since `since`, per conversation, oldest first."""
    found: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    for batch in _batches(conversation_ids):
        rows = session.execute(
            select(Ticket.conversation_id, Ticket.created_at, Ticket.id, Ticket.status).where(
                Ticket.conversation_id.in_(batch), Ticket.created_at >= since
            )
        )
        for conversation_id, created_at, ticket_id, status in rows:
            found[conversation_id].append((created_at, ticket_id, status))
    for tickets in found.values():
        tickets.sort()
    return found


def _gap_rows(
    session: Session, *, since: datetime | None, until: datetime | None, min_confidence: float
) -> list[tuple[int, str, str, datetime, str, float | None, str | None]]:
    """The gap turns' customer messages and outcomes, oldest first, one row per message."""
    stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Message.content,
            Message.created_at,
            TurnRecord.outcome,
            TurnRecord.confidence,
            TurnRecord.handoff_reason,
        )
        .join(Message, Message.id == TurnRecord.message_id)
        .where(
            or_(
                TurnRecord.outcome == "unknown",
                and_(TurnRecord.outcome == "answered", TurnRecord.confidence < min_confidence),
                and_(TurnRecord.outcome == "handoff", TurnRecord.handoff_reason.in_(MISSING_KNOWLEDGE)),
            )
        )
        .order_by(Message.created_at, Message.id, TurnRecord.id)
    )
    if since is not None:
        stmt = stmt.where(Message.created_at >= since)
    if until is not None:
        stmt = stmt.where(Message.created_at < until)
    rows: list[tuple[int, str, str, datetime, str, float | None, str | None]] = []
    seen: set[int] = set()
    for row in session.execute(stmt).tuples():
        if row[0] not in seen:  # one turn record per message is the rule; a question never counts twice
            seen.add(row[0])
            rows.append(row)
    return rows


def _questions(
    session: Session, *, since: datetime | None, until: datetime | None, min_confidence: float
) -> tuple[list[GapQuestion], dict[int, str]]:
    """The gap questions, and the status of each ticket they link to."""
    rows = _gap_rows(session, since=since, until=until, min_confidence=min_confidence)
    if not rows:
        return [], {}
    earliest = rows[0][3]
    tickets = _tickets_by_conversation(session, sorted({r[1] for r in rows}), earliest)
    questions, statuses = [], {}
    for message_id, conversation_id, content, at, outcome, confidence, reason in rows:
        kind = _gap_kind(outcome, confidence, reason, min_confidence)
        if kind is None:
            continue
        ticket_id = None
        later = tickets.get(conversation_id, [])
        i = bisect_left(later, (at,))
        if i < len(later):
            _, ticket_id, statuses[ticket_id] = later[i]
        questions.append(
            GapQuestion(
                message_id=message_id,
                conversation_id=conversation_id,
                text=redact(content),
                at=at,
                outcome=kind,
                confidence=confidence,
                handoff_reason=reason,
                ticket_id=ticket_id,
            )
        )
    return questions, statuses


def gap_questions(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float,
) -> list[GapQuestion]:
    """The customer questions the help center could not answer, sent in [since, until), oldest first.

    `min_confidence` is the answer floor (Settings.answer_min_confidence): answers below it count as gaps.
    """
    return _questions(session, since=since, until=until, min_confidence=min_confidence)[0]


# grouping ----------------------------------------------------------------------------------------------


def _pick_label(members: Sequence[GapQuestion], scores: Sequence[float]) -> str:
    """The member closest to the centroid; ties: the most frequent text, then the shortest."""
    freq = Counter(q.text for q in members)
    best = min(
        range(len(members)),
        key=lambda i: (-round(scores[i], 6), -freq[members[i].text], len(members[i].text), members[i].text),
    )
    return members[best].text


def _cluster_dense(
    questions: Sequence[GapQuestion], embedder: Embedder, similarity: float
) -> list[tuple[list[int], str]]:
    """Greedy: each question in turn joins the group whose centroid is most similar, if similar enough."""
    texts = sorted({_words_only(q.text) for q in questions})
    vectors = embedder.embed(texts)
    row = {text: i for i, text in enumerate(texts)}
    vecs = np.asarray([vectors[row[_words_only(q.text)]] for q in questions], dtype=np.float32)
    sums = np.zeros_like(vecs)
    norms = np.ones(len(vecs), dtype=np.float32)
    members: list[list[int]] = []
    for i, v in enumerate(vecs):
        g = len(members)
        if g:
            sims = (sums[:g] @ v) / norms[:g]
            best = int(np.argmax(sims))
            if sims[best] >= similarity:
                members[best].append(i)
                sums[best] += v
                norms[best] = max(float(np.linalg.norm(sums[best])), 1e-12)
                continue
        members.append([i])
        sums[g] = v
        norms[g] = max(float(np.linalg.norm(v)), 1e-12)
    groups = []
    for g, idx in enumerate(members):
        centroid = sums[g] / norms[g]
        scores = [float(vecs[i] @ centroid) for i in idx]
        groups.append((idx, _pick_label([questions[i] for i in idx], scores)))
    return groups


def _words_only(text: str) -> str:
    """The question without its redaction tokens: "[EMAIL_1]" says nothing about the topic."""
    return " ".join(TOKEN_RE.sub(" ", text).split()) or text


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if a == b:
        return 1.0
    return len(a & b) / len(a | b)


def _centroid(counts: Counter[str], size: int) -> frozenset[str]:
    """The words at least half the group's questions use."""
    return frozenset(t for t, n in counts.items() if 2 * n >= size)


def _cluster_lexical(questions: Sequence[GapQuestion]) -> list[tuple[list[int], str]]:
    """Greedy as `_cluster_dense`, on word sets: a group's centroid is the words most of its members share."""
    words = []
    for q in questions:
        text = _words_only(q.text)
        words.append(frozenset(tokenize(text) or tokenize(text, keep_stopwords=True)))
    members: list[list[int]] = []
    counts: list[Counter[str]] = []
    centroids: list[frozenset[str]] = []
    for i, w in enumerate(words):
        sims = [_jaccard(w, c) for c in centroids]
        best = max(range(len(sims)), key=sims.__getitem__, default=-1)
        if best >= 0 and sims[best] >= _JACCARD:
            members[best].append(i)
            counts[best].update(w)
            centroids[best] = _centroid(counts[best], len(members[best]))
        else:
            members.append([i])
            counts.append(Counter(w))
            centroids.append(w)
    return [
        (idx, _pick_label([questions[i] for i in idx], [_jaccard(words[i], centroids[g]) for i in idx]))
        for g, idx in enumerate(members)
    ]


def _group(members: Sequence[GapQuestion], label: str, statuses: dict[int, str]) -> GapGroup:
    newest = sorted(members, key=lambda q: (q.at, q.message_id), reverse=True)
    tickets = sorted({q.ticket_id for q in members if q.ticket_id is not None})
    return GapGroup(
        label=label,
        count=len(members),
        questions=tuple(newest),
        outcomes=dict(sorted(Counter(q.outcome for q in members).items())),
        first_seen=newest[-1].at,
        last_seen=newest[0].at,
        ticket_ids=tuple(tickets),
        resolved_ticket_ids=tuple(t for t in tickets if statuses.get(t) == "resolved"),
    )


def gap_report(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float,
    embedder: Embedder | None = None,
    similarity: float = 0.7,
    limit: int = 50,
) -> list[GapGroup]:
    """Gap questions grouped by meaning: the largest groups first, then the most recently asked.

    With an embedder, questions whose cosine similarity to a group's centroid is at least `similarity` join
    it; without one, questions sharing at least half their words (Jaccard) do.
    """
    questions, statuses = _questions(session, since=since, until=until, min_confidence=min_confidence)
    if not questions:
        return []
    clusters = (
        _cluster_dense(questions, embedder, similarity)
        if embedder is not None
        else _cluster_lexical(questions)
    )
    groups = [_group([questions[i] for i in idx], label, statuses) for idx, label in clusters]
    groups.sort(key=lambda g: g.label)
    groups.sort(key=lambda g: (g.count, g.last_seen), reverse=True)
    return groups[:limit]


# a draft from a resolved ticket ------------------------------------------------------------------------


def _substantive(text: str) -> bool:
    """More than a greeting, a thank-you or a bare request for a person."""
    return sum(1 for w in tokenize(text) if w not in _FILLER) >= 2


def _paragraph(text: str) -> str:
    """Redacted text as Markdown paragraphs that cannot open a heading of their own."""
    lines = [line.rstrip() for line in redact(text).strip().splitlines()]
    return "\n".join("\\" + line if line.lstrip().startswith("#") else line for line in lines)


def _title(question: str) -> str:
    """A help-center style title: the question's first asking sentence, without a greeting, ≤ 120 chars."""
    text = " ".join(redact(question).split())
    text = _GREETING.sub("", text) or text
    sentences = [s for s in _SENTENCE.split(text) if s]
    title = next((s for s in sentences if s.endswith("?")), sentences[0] if sentences else text)
    if len(title) > _TITLE_CHARS:
        cut = title[: _TITLE_CHARS - 1]
        title = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:-") + "…"
    return title[:1].upper() + title[1:]


def _window_start(session: Session, ticket: Ticket) -> datetime | None:
    """When the conversation's previous ticket closed: earlier messages belong to that one."""
    return session.scalar(
        select(func.max(Ticket.closed_at)).where(
            Ticket.conversation_id == ticket.conversation_id, Ticket.id < ticket.id
        )
    )


def draft_from_ticket(session: Session, ticket_id: int) -> DraftSuggestion:
    """A draft article from a resolved ticket: the customer's question and the person's answer.

    Only a suggestion (the caller saves it as a draft for review). Raises GapError when the ticket does not
    exist, is not resolved, or has no reply from a person.
    """
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise GapError(f"Ticket {ticket_id} does not exist.")
    if ticket.status != "resolved":
        why = _NOT_RESOLVED.get(ticket.status, f"is {ticket.status}")
        raise GapError(f"Ticket {ticket_id} {why}: only a resolved ticket can become a draft article.")
    stmt = (
        select(Message.id, Message.role, Message.content, Message.author)
        .where(Message.conversation_id == ticket.conversation_id, Message.role.in_(("customer", "agent")))
        .order_by(Message.id)
    )
    start = _window_start(session, ticket)
    if start is not None:
        stmt = stmt.where(Message.created_at > start)
    if ticket.closed_at is not None:
        stmt = stmt.where(Message.created_at <= ticket.closed_at)
    rows = session.execute(stmt).all()
    answers = [r for r in rows if r.role == "agent" and r.content.strip()]
    if not answers:
        raise GapError(f"Ticket {ticket_id} has no reply from a person to turn into an answer.")
    first_reply = answers[0].id
    asked = [r for r in rows if r.role == "customer" and r.id < first_reply and _substantive(r.content)]
    asked = asked[-_MAX_QUESTIONS:]
    packet = ticket.packet or {}
    handoff_at = packet.get("message_id")
    if asked:
        led = [r for r in asked if not isinstance(handoff_at, int) or r.id <= handoff_at] or asked
        question_texts = [r.content for r in asked]
        title = _title(led[-1].content)
    else:
        intent = str((packet.get("intent") or {}).get("question") or "").strip()
        if not intent:
            raise GapError(f"Ticket {ticket_id} has no customer question to draft an article from.")
        question_texts, title = [intent], _title(intent)
    body = "\n\n".join(
        [
            "## Question",
            *(_paragraph(t) for t in question_texts),
            "## Answer",
            *(_paragraph(r.content) for r in answers),
            f"Drafted from support ticket {ticket_id} — review before publishing.",
        ]
    )
    suffix = f"-ticket-{ticket_id}"
    return DraftSuggestion(
        slug=slugify(title, max_chars=MAX_SLUG_CHARS - len(suffix)) + suffix,
        title=title,
        body=body + "\n",
        provenance={
            "ticket_id": ticket_id,
            "conversation_id": ticket.conversation_id,
            "agent": list(dict.fromkeys(r.author for r in answers if r.author)) or [ticket.assignee],
            "assignee": ticket.assignee,
            "outcome": ticket.outcome,
            "resolved_at": ticket.closed_at.isoformat() if ticket.closed_at else None,
            "messages": [r.id for r in asked] + [r.id for r in answers],
        },
    )
