"""The agents' side of a handoff: the queue, the ticket with its packet and transcript, live replies.

Every method takes the logged-in user and checks the role here, on the server side (the workspace page
also hides itself, but that is not the check). Handing back or resolving resumes the conversation's
LangGraph thread, so the bot continues with what the person and the customer said meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from langgraph.types import Command
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from agent.nodes.handoff import thread_messages
from core import conversations as conv_store
from core import pii, pii_vault
from core.db import DatabaseUnavailable, utcnow
from core.faults import DependencyFault
from core.models import Conversation, Message, User
from core.users import (
    AuthenticatedUser,
    LoginEnded,
    PermissionDenied,
    Role,
    require_role,
    still_current,
)
from handoff import queue, tickets
from handoff.models import Ticket
from handoff.tickets import holding_ticket

if TYPE_CHECKING:
    from agent.service import ChatService

logger = logging.getLogger(__name__)

STAFF = (Role.AGENT, Role.ADMIN)
"""The roles that may use the desk (an admin can do whatever an agent can)."""
_STAFF_ROLES = tuple(r.value for r in STAFF)


@dataclass(frozen=True)
class TicketView:
    id: int
    conversation_id: str
    reason: str
    status: str
    priority: int
    assignee: str | None
    outcome: str | None
    summary: str | None
    packet: dict[str, Any]
    contact: str | None
    """Offline follow-ups: the email or phone number the customer left, and what they wrote with it."""
    note: str | None
    sla_due_at: Any
    created_at: Any
    transcript: list[conv_store.MessageView]
    events: list[dict[str, Any]]
    revealed: bool = False
    """False: personal data shows as tokens ("[EMAIL_1]"); True: as given (an audited reveal)."""


@dataclass(frozen=True)
class HandoffStatus:
    """What the customer's page shows while a person is coming or is there."""

    state: str
    """waiting | assigned"""
    position: int | None
    wait_s: float | None
    agent: str | None
    """The display name of the person who joined."""


REPLY_TEMPLATES: dict[str, str] = {
    "Greeting": "Hi, I'm {agent} from the support team. I've read your conversation; let me look into this.",
    "Need order number": "Could you give me your order number (it starts with BW-) so I can check it?",
    "Checking": "Thanks, I'm checking this now. It may take a couple of minutes.",
    "Refund started": "I've started your refund. You'll get a confirmation email, and the money "
    "usually shows on your statement within 5–10 business days.",
    "Back to assistant": "I'm handing you back to our assistant now. Ask for a person again any time.",
}
"""Canned replies agents can insert and edit before sending ({agent} is their display name)."""


@lru_cache(maxsize=256)
def _masked(text: str, known: tuple[tuple[str, str], ...]) -> str:
    """A transcript line as agents see it, remembered: the workspace re-reads the transcript every two
    seconds, and masking a long message takes a second (it is the same until the conversation's tokens
    change, which is part of the key)."""
    return pii.mask(pii_vault.normalised(text), known=dict(known)).text


def _lines(s: Any, conversation_id: str, rows: Any) -> list[dict[str, Any]]:
    """Messages said while a person held the chat, as the thread takes them (`thread_messages`), masked."""
    return [
        {
            "id": m.id,
            "role": m.role,
            "content": pii_vault.mask_turn(s, conversation_id=conversation_id, text=m.content).text,
            "author": m.author,
        }
        for m in list(rows)
    ]


_BACK_TO_BOT = frozenset({"withdrawn"})
"""Resume statuses after which the assistant answers the customer's held question: the customer went back to
it before any person read the chat. A person who hands back or resolves had the message and chose so (they
answer before handing back; the customer may ask again)."""


class HandoffDesk:
    def __init__(self, service: ChatService) -> None:
        self._svc = service

    @property
    def settings(self) -> Any:
        return self._svc.settings

    def _agents_online(self, s: Any) -> int:
        since = utcnow() - timedelta(hours=12)
        n = s.scalar(
            select(func.count(User.id)).where(
                User.role.in_(_STAFF_ROLES), User.active.is_(True), User.last_login_at >= since
            )
        )
        return max(1, int(n or 0))

    def _staff(self, user: AuthenticatedUser | None) -> AuthenticatedUser:
        """The user as the database has them now: a deactivated or demoted account loses the desk at once,
        whatever its page session still holds."""
        me = require_role(user, *STAFF)
        with self._svc._session() as s:
            row = s.get(User, me.id)
            if row is None or not still_current(row, me):
                raise LoginEnded("Your login has ended (the account changed or was closed); log in again.")
            if row.role not in _STAFF_ROLES:
                raise PermissionDenied("Your account can no longer use the agent workspace.")
            return replace(me, display_name=row.display_name, role=Role(row.role))

    # the queue -----------------------------------------------------------------------------------
    def queue(
        self,
        user: AuthenticatedUser | None,
        *,
        statuses: tuple[str, ...] = ("waiting", "assigned"),
        reason: str | None = None,
        mine: bool = False,
    ) -> list[queue.QueueItem]:
        me = self._staff(user)
        with self._svc._session() as s:
            return queue.list_queue(
                s,
                settings=self.settings,
                statuses=statuses,
                reason=reason,
                assignee=me.username if mine else None,
            )

    def may_reveal(self, user: AuthenticatedUser | None) -> bool:
        """Whether this person's role may see the personal data behind the tokens (PII_REVEAL_ROLES)."""
        return self._staff(user).role.value in self.settings.pii_reveal_roles

    def _revealer(self, user: AuthenticatedUser | None) -> AuthenticatedUser:
        me = self._staff(user)
        if me.role.value not in self.settings.pii_reveal_roles:
            raise PermissionDenied("Your role cannot see customers' personal data; it stays masked.")
        return me

    def reveal(self, user: AuthenticatedUser | None, ticket_id: int) -> None:
        """Record that this person is about to see the ticket's personal data; PermissionDenied if their
        role may not. The ticket's history shows every reveal."""
        me = self._revealer(user)
        with self._svc._session() as s:
            queue.record_event(s, ticket_id=ticket_id, kind="pii_revealed", actor=me.username)

    def ticket(self, user: AuthenticatedUser | None, ticket_id: int, *, reveal: bool = False) -> TicketView:
        """The ticket with its packet and live transcript; personal data masked unless `reveal` (for a
        role allowed to, after `reveal()` recorded it)."""
        me = self._revealer(user) if reveal else self._staff(user)
        with self._svc._session() as s:
            t = queue.get_ticket(s, ticket_id=ticket_id)
            tokens = pii_vault.tokens_for(s, conversation_id=t.conversation_id)
            transcript = conv_store.transcript(s, conversation_id=t.conversation_id)
            if reveal:
                if not any(
                    e.kind == "pii_revealed" and e.actor == me.username
                    for e in queue.events(s, ticket_id=t.id)
                ):
                    raise PermissionDenied("Use 'Show personal details' first: every reveal is recorded.")
                packet = pii_vault.unmask_data(dict(t.packet or {}), tokens)
                summary, contact, note = pii.unmask(t.summary or "", tokens), t.contact, t.note
            else:
                known = tuple(sorted(tokens.items()))

                def hide(text: str) -> str:
                    return _masked(text, known)

                transcript = [replace(m, content=hide(m.content)) for m in transcript]
                packet, summary = dict(t.packet or {}), t.summary or ""
                contact = hide(t.contact) if t.contact else None
                note = hide(t.note) if t.note else None
            return TicketView(
                id=t.id,
                conversation_id=t.conversation_id,
                reason=t.reason,
                status=t.status,
                priority=t.priority,
                assignee=t.assignee,
                outcome=t.outcome,
                summary=summary or None,
                packet=packet,
                contact=contact,
                note=note,
                sla_due_at=t.sla_due_at,
                created_at=t.created_at,
                transcript=transcript,
                revealed=reveal,
                events=[
                    {"kind": e.kind, "actor": e.actor, "body": e.body, "at": e.created_at}
                    for e in queue.events(s, ticket_id=t.id)
                ],
            )

    # actions -------------------------------------------------------------------------------------
    def claim(self, user: AuthenticatedUser | None, ticket_id: int) -> int:
        me = self._staff(user)
        with self._svc._session() as s:
            return queue.claim(s, ticket_id=ticket_id, agent=me.username, display_name=me.display_name).id

    def claim_next(self, user: AuthenticatedUser | None) -> int | None:
        me = self._staff(user)
        with self._svc._session() as s:
            t = queue.claim_next(s, agent=me.username, display_name=me.display_name, settings=self.settings)
            return t.id if t is not None else None

    def reply(
        self, user: AuthenticatedUser | None, ticket_id: int, text: str, *, key: str | None = None
    ) -> conv_store.MessageView:
        """A live reply; `key` makes a retry return the reply already sent (see `queue.agent_reply`)."""
        me = self._staff(user)
        with self._svc._session() as s:
            msg = queue.agent_reply(
                s, ticket_id=ticket_id, agent=me.username, display_name=me.display_name, text=text, key=key
            )
            return conv_store.view(msg)

    def note(self, user: AuthenticatedUser | None, ticket_id: int, body: str) -> None:
        me = self._staff(user)
        with self._svc._session() as s:
            queue.add_note(s, ticket_id=ticket_id, author=me.username, body=body)

    def reassign(self, user: AuthenticatedUser | None, ticket_id: int, to_username: str) -> None:
        me = self._staff(user)
        with self._svc._session() as s:
            target = s.scalar(select(User).where(User.username == to_username, User.active.is_(True)))
            if target is None or target.role not in _STAFF_ROLES:
                raise queue.QueueError(f"{to_username!r} is not an active agent.")
            queue.reassign(
                s,
                ticket_id=ticket_id,
                by=me.username,
                to=target.username,
                to_display_name=target.display_name,
                force=me.role == Role.ADMIN,
            )

    def release(self, user: AuthenticatedUser | None, ticket_id: int, *, note: str | None = None) -> None:
        """Put an assigned ticket back in the queue: its assignee, or an admin for anyone's."""
        me = self._staff(user)
        with self._svc._session() as s:
            queue.release(s, ticket_id=ticket_id, by=me.username, force=me.role == Role.ADMIN, note=note)

    def agents(self, user: AuthenticatedUser | None) -> list[tuple[str, str]]:
        """(username, display name) of the active agents, for reassigning."""
        self._staff(user)
        with self._svc._session() as s:
            rows = s.execute(
                select(User.username, User.display_name)
                .where(User.role.in_(_STAFF_ROLES), User.active.is_(True))
                .order_by(User.display_name)
            )
            return [(u, d) for u, d in rows]

    def resolve(
        self, user: AuthenticatedUser | None, ticket_id: int, *, outcome: str, note: str | None = None
    ) -> bool:
        """Close with an outcome; True when the bot has the thread back (False: it takes it on the
        customer's next message)."""
        me = self._staff(user)
        with self._svc._session() as s:
            t = queue.resolve(
                s,
                ticket_id=ticket_id,
                agent=me.username,
                outcome=outcome,
                note=note,
                display_name=me.display_name,
            )
            conversation_id = t.conversation_id
        self._svc.tracer.resolution(conversation_id=conversation_id, outcome=outcome)
        return self.resume(conversation_id, status="resolved", by=me.display_name)

    def hand_back(self, user: AuthenticatedUser | None, ticket_id: int, *, note: str | None = None) -> bool:
        """Return the conversation to the bot; True when the thread was resumed (see `resolve`)."""
        me = self._staff(user)
        with self._svc._session() as s:
            t = queue.hand_back(
                s, ticket_id=ticket_id, agent=me.username, display_name=me.display_name, note=note
            )
            conversation_id = t.conversation_id
        return self.resume(conversation_id, status="returned", by=me.display_name)

    # the customer's view ---------------------------------------------------------------------------
    def status(self, *, conversation_id: str, customer_id: str) -> HandoffStatus | None:
        """Position and estimated wait while waiting, or who joined; None when no person holds the chat."""
        try:
            return self._status(conversation_id=conversation_id, customer_id=customer_id)
        except (SQLAlchemyError, DatabaseUnavailable, DependencyFault):  # the page still works Offline
            logger.warning("handoff status unavailable: database down")
            return None

    def withdraw(self, *, conversation_id: str, customer_id: str) -> bool:
        """The customer stops waiting for a person and goes back to the assistant (before anyone claims).

        Raises NotYourConversation for someone else's thread, InvalidTransition once a person has joined.
        """
        with self._svc._session() as s:
            conv_store.get_conversation(s, conversation_id=conversation_id, customer_id=customer_id)
            t = holding_ticket(s, conversation_id=conversation_id)
            if t is None:
                return True
            queue.withdraw(s, ticket_id=t.id)
        return self.resume(conversation_id, status="withdrawn", by="customer")

    def _status(self, *, conversation_id: str, customer_id: str) -> HandoffStatus | None:
        with self._svc._session() as s:
            conv_store.get_conversation(s, conversation_id=conversation_id, customer_id=customer_id)
            t = holding_ticket(s, conversation_id=conversation_id)
            if t is None:
                return None
            if t.status == "assigned":
                return HandoffStatus("assigned", None, None, queue.name_of(s, t.assignee or ""))
            place = queue.position(s, ticket_id=t.id, settings=self.settings)
            wait = queue.estimated_wait_s(
                s, ticket_id=t.id, settings=self.settings, agents_online=self._agents_online(s), place=place
            )
            return HandoffStatus("waiting", place, wait if place else None, None)

    # the thread --------------------------------------------------------------------------------------
    def resume(self, conversation_id: str, *, status: str, by: str) -> bool:
        """Resume the thread waiting for a person with what was said since the handoff; then, when the
        customer went back to the assistant (withdrawn) with a question still unanswered, it answers that.

        Returns False when it could not (the ticket is closed either way: the customer's next message
        resumes it then, see ChatService._hold_for_person). A thread not waiting is left as it is, but its
        unanswered question is answered all the same.
        """
        svc = self._svc
        config: Any = {"configurable": {"thread_id": conversation_id}}
        with svc.conversation_lock(conversation_id):
            try:
                waiting = svc.interrupted_state(conversation_id)
                if waiting is None:  # held without a pause (an Offline or contact ticket a person claimed)
                    self._add_to_thread(conversation_id)
                    if status in _BACK_TO_BOT:
                        self._answer_pending(conversation_id, since=0)
                    return True
                since = int(waiting.get("message_id") or 0)
                pending = self._pending(conversation_id, since) if status in _BACK_TO_BOT else None
                with svc._session() as s:
                    conversation = s.get(Conversation, conversation_id)
                    customer = conversation.customer_id if conversation is not None else ""
                    rows = s.scalars(
                        select(Message)
                        .where(
                            Message.conversation_id == conversation_id,
                            Message.id > since,
                            Message.id != (pending.id if pending is not None else 0),
                            Message.role.in_(("customer", "agent")),
                        )
                        .order_by(Message.id)
                    )
                    transcript = _lines(s, conversation_id, rows)
                last = int(transcript[-1]["id"] or since) if transcript else since
                with svc.tracer.turn(
                    conversation_id=conversation_id,
                    customer_id=customer,
                    message_id=last,
                    name="handoff-resume",
                ) as trace:
                    trace.set_input(f"{status} by {by}")
                    try:
                        final = svc.graph.invoke(
                            Command(resume={"status": status, "by": by, "transcript": transcript}),
                            config={**config, "callbacks": trace.callbacks},
                            context=svc.turn_context(),
                        )
                    finally:  # its checkpoints are written: the ones they superseded go at the next sweep
                        svc.checkpoints.touched(conversation_id)
                    trace.finish({"outcome": status, "mode": (final or {}).get("mode"), "reply": None})
            except Exception:
                logger.exception("could not resume the thread of conversation=%s", conversation_id)
                return False
            if pending is not None:
                self._answer(pending)
            return True

    def _add_to_thread(self, conversation_id: str) -> None:
        """A thread that never paused for the person (they claimed an Offline or contact ticket) still gets
        what they and the customer said while they held the chat, as a resume would give it, so the assistant
        knows what the person told the customer. The lines of the latest closed ticket, from its start (a
        ticket put back in the queue and claimed again had more than one person)."""
        svc = self._svc
        with svc._session() as s:
            ticket = s.scalar(
                select(Ticket)
                .where(Ticket.conversation_id == conversation_id)
                .where(Ticket.status.not_in(tickets.OPEN_STATUSES))
                .order_by(Ticket.closed_at.desc(), Ticket.id.desc())
                .limit(1)
            )
            if ticket is None:
                return
            rows = s.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.created_at >= ticket.created_at)
                .where(
                    (Message.role == "agent")
                    | ((Message.role == "customer") & (Message.status == "for_agent"))
                )
                .order_by(Message.id)
            )
            transcript = _lines(s, conversation_id, rows)
        if transcript:
            config: Any = {"configurable": {"thread_id": conversation_id}}
            said = thread_messages(transcript, svc.turn_context())
            svc.graph.update_state(config, {"messages": said}, as_node="await_human")
            svc.checkpoints.touched(conversation_id)

    def _pending(self, conversation_id: str, since: int) -> Message | None:
        """The customer's last message after `since`, held for the person (`for_agent`) and with no word from
        a person or the assistant after it: the question the chat goes back to the assistant with."""
        with self._svc._session() as s:
            last = s.scalar(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > since)
                .where(Message.role.in_(("customer", "agent", "assistant")))
                .order_by(Message.id.desc())
                .limit(1)
            )
            if (
                last is None
                or last.role != "customer"
                or last.status != "for_agent"
                or not last.idempotency_key
            ):
                return None
            s.expunge(last)
            return last

    def _answer_pending(self, conversation_id: str, *, since: int) -> None:
        pending = self._pending(conversation_id, since)
        if pending is not None:
            self._answer(pending)

    def _answer(self, pending: Message) -> None:
        """Answer a held message as a retry of its own key would be (its status back to stored first: a held
        message is never the bot's). A failure leaves it stored, for the stuck-turn sweep."""
        svc = self._svc
        try:
            with svc._session() as s:
                message = s.get(Message, pending.id)
                conversation = s.get(Conversation, pending.conversation_id)
                if message is None or conversation is None or message.status != "for_agent":
                    return
                message.status = "stored"
                customer = conversation.customer_id
            svc.send(
                conversation_id=pending.conversation_id,
                customer_id=customer,
                text=pending.content,
                idempotency_key=pending.idempotency_key,
            )
        except Exception:
            logger.exception("held question not answered: conversation=%s", pending.conversation_id)
