"""Human agents' endpoints: the queue by priority, a ticket with its packet, claim, live replies, notes,
resolve, hand back, reassign and release. Every action checks the account again in the service (role,
still active)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, status

from app.api import schemas
from app.api.deps import Agent, Service

TicketId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
VersionId = Annotated[int, Path(ge=1, le=schemas.MAX_ID)]
router = APIRouter(prefix="/v1", tags=["handoff queue"])

Status = Literal["waiting", "assigned", "returned", "resolved", "withdrawn"]
_ERRORS = {403: {"model": schemas.Problem}, 404: {"model": schemas.Problem}, 409: {"model": schemas.Problem}}


@router.get("/queue", response_model=list[schemas.QueueItemOut], responses=_ERRORS)
def queue(
    user: Agent,
    svc: Service,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    mine: bool = False,
) -> list[schemas.QueueItemOut]:
    """Open tickets, highest effective priority (reason, sentiment, waiting time) first."""
    items = svc.desk.queue(user, statuses=tuple(status_ or ("waiting", "assigned")), reason=reason, mine=mine)
    return [schemas.QueueItemOut(**asdict(i)) for i in items]


@router.post("/queue/claim-next", response_model=schemas.TicketRef, responses=_ERRORS)
def claim_next(user: Agent, svc: Service) -> schemas.TicketRef:
    """Claim the ticket at the top of the queue (atomic: two agents never get the same one)."""
    return schemas.TicketRef(ticket_id=svc.desk.claim_next(user))


@router.get("/tickets/{ticket_id}", response_model=schemas.TicketOut, responses=_ERRORS)
def ticket(ticket_id: TicketId, user: Agent, svc: Service) -> schemas.TicketOut:
    """The ticket, its handoff packet and the live transcript; personal data stays masked here."""
    view = svc.desk.ticket(user, ticket_id)
    data = asdict(view)
    data["transcript"] = [schemas.MessageOut(**m) for m in data["transcript"]]
    return schemas.TicketOut(**data)


@router.post("/tickets/{ticket_id}/claim", response_model=schemas.TicketRef, responses=_ERRORS)
def claim(ticket_id: TicketId, user: Agent, svc: Service) -> schemas.TicketRef:
    """Own this ticket; 409 when someone else was first."""
    return schemas.TicketRef(ticket_id=svc.desk.claim(user, ticket_id))


@router.post(
    "/tickets/{ticket_id}/replies",
    response_model=schemas.MessageOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def reply(
    ticket_id: TicketId,
    body: schemas.ReplyIn,
    user: Agent,
    svc: Service,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> schemas.MessageOut:
    """A live reply to the customer from the agent who owns the ticket. With an `Idempotency-Key` a retry
    (a timeout, a double submit) returns the reply already sent; the same key with another text is a 409."""
    return schemas.MessageOut(**asdict(svc.desk.reply(user, ticket_id, body.text, key=idempotency_key)))


@router.post(
    "/tickets/{ticket_id}/notes",
    response_model=schemas.Ack,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def note(ticket_id: TicketId, body: schemas.NoteIn, user: Agent, svc: Service) -> schemas.Ack:
    """An internal note (never shown to the customer)."""
    svc.desk.note(user, ticket_id, body.body)
    return schemas.Ack()


@router.post("/tickets/{ticket_id}/resolve", response_model=schemas.ResumeOut, responses=_ERRORS)
def resolve(ticket_id: TicketId, body: schemas.ResolveIn, user: Agent, svc: Service) -> schemas.ResumeOut:
    return schemas.ResumeOut(resumed=svc.desk.resolve(user, ticket_id, outcome=body.outcome, note=body.note))


@router.post("/tickets/{ticket_id}/hand-back", response_model=schemas.ResumeOut, responses=_ERRORS)
def hand_back(ticket_id: TicketId, body: schemas.HandBackIn, user: Agent, svc: Service) -> schemas.ResumeOut:
    """Return the conversation to the bot with what was said meanwhile."""
    return schemas.ResumeOut(resumed=svc.desk.hand_back(user, ticket_id, note=body.note))


@router.post("/tickets/{ticket_id}/reassign", response_model=schemas.Ack, responses=_ERRORS)
def reassign(ticket_id: TicketId, body: schemas.ReassignIn, user: Agent, svc: Service) -> schemas.Ack:
    """Pass an assigned ticket to another agent: its assignee may, or an admin for anyone's."""
    svc.desk.reassign(user, ticket_id, body.to)
    return schemas.Ack()


@router.post("/tickets/{ticket_id}/release", response_model=schemas.Ack, responses=_ERRORS)
def release(ticket_id: TicketId, body: schemas.ReleaseIn, user: Agent, svc: Service) -> schemas.Ack:
    """Put an assigned ticket back in the queue (the customer is told): its assignee may, or an admin for
    anyone's, e.g. when the agent who had it left."""
    svc.desk.release(user, ticket_id, note=body.note)
    return schemas.Ack()
