"""The agents' workspace: log in, the live queue with SLA countdowns, claim, the handoff packet and the
transcript with citations, live replies with templates, notes, reassign, resolve, hand back.

Roles are checked by the service on every action (agent/desk.py); this page only decides what to draw.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from agent.desk import REPLY_TEMPLATES, STAFF
from app.ui.common import (
    act,
    logout_button,
    no_pictures,
    ok,
    plain,
    require_login,
    service,
    sources_caption,
)
from core.users import PermissionDenied, Role
from handoff.packet import REASON_LABEL
from handoff.queue import OUTCOMES, QueueError

svc = service()


user = require_login(svc, *STAFF, title="Agent workspace", refusal="This workspace is for support agents.")
with st.sidebar:
    logout_button("ticket")


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


def _sla(remaining: float | None) -> str:
    if remaining is None:
        return ""
    if remaining < 0:
        return f":red[SLA breached {_ago(-remaining)} ago]"
    minutes, seconds = divmod(int(remaining), 60)
    colour = "orange" if remaining < 120 else "green"
    return f":{colour}[first reply due in {minutes}:{seconds:02d}]"


def _act(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an action as the logged-in user; errors they can act on are shown, not raised."""
    return act(user, (QueueError, PermissionDenied, ValueError), action, *args, **kwargs)


def _open(ticket_id: int) -> None:
    st.session_state["ticket"] = ticket_id
    st.rerun()


def _queue() -> None:
    st.subheader("Queue")
    c1, c2, c3 = st.columns([2, 2, 1])
    statuses = c1.multiselect(
        "Status",
        ["waiting", "assigned", "resolved", "returned"],
        default=["waiting", "assigned"],
        key="f_status",
    )
    reasons = ["any", *REASON_LABEL]
    reason = c2.selectbox("Reason", reasons, key="f_reason", format_func=lambda r: REASON_LABEL.get(r, r))
    mine = c3.toggle("Mine", key="f_mine")
    items = _act(
        svc.desk.queue, statuses=tuple(statuses), reason=None if reason == "any" else reason, mine=mine
    )
    if not ok(items):
        return
    if not items:
        st.caption("No tickets match.")
        return
    if st.button("Claim next", key="claim_next", icon=":material/bolt:"):
        ticket_id = _act(svc.desk.claim_next)
        if ticket_id is None:
            st.info("Nothing is waiting.")
        elif ok(ticket_id):
            _open(ticket_id)
    for item in items:
        with st.container(border=True):
            head = (
                f"**#{item.id}** · {REASON_LABEL.get(item.reason, item.reason)} · "
                f"priority {item.effective_priority} · {item.status}"
            )
            if item.status == "waiting":
                head += f" · waiting {_ago(item.waiting_s)} · {_sla(item.sla_remaining_s)}"
            elif item.assignee:
                head += f" · {item.assignee}"
            st.markdown(head)
            if item.summary:
                st.caption(plain(item.summary))
            b1, b2 = st.columns(2)
            claimed = item.status == "waiting" and b1.button("Claim", key=f"claim-{item.id}")
            if claimed and ok(_act(svc.desk.claim, item.id)):
                _open(item.id)
            if b2.button("Open", key=f"open-{item.id}"):
                _open(item.id)


def _packet(view: Any) -> None:
    packet = view.packet
    st.markdown(
        f"**Summary** ({packet.get('summary_source', 'template')}): {plain(packet.get('summary', ''))}"
    )
    for t in packet.get("triggers", []):
        st.markdown(f"- {REASON_LABEL.get(t['reason'], t['reason'])}: {plain(t['evidence'])}")
    intent = packet.get("intent") or {}
    if intent:
        st.markdown(
            f"**Intent:** {plain(intent.get('question', ''))}"
            + (f" — topic: {plain(intent['topic'])}" if intent.get("topic") else "")
        )
    sentiment = packet.get("sentiment") or {}
    if sentiment.get("scores"):
        scores = ", ".join(f"{s:+.2f}" for s in sentiment["scores"])
        st.markdown(f"**Sentiment:** {sentiment.get('trend')} ({scores})")
    if packet.get("confidence") is not None:
        st.markdown(f"**Retrieval confidence:** {packet['confidence']:.2f}")
    details = [f"{k}: {', '.join(v)}" for k, v in (packet.get("details") or {}).items()]
    if view.contact:
        details.insert(0, f"contact: {view.contact}")
    if details:
        st.markdown("**Details given:** " + plain("; ".join(details)))
    if view.note:
        st.markdown("**Customer's note:**")
        st.text(view.note)
    if packet.get("guard_events"):
        with st.expander("Guard events"):
            st.json(packet["guard_events"])
    for turn in packet.get("bot_turns", []):
        with st.expander(f"Bot turn ({turn.get('outcome')}): {plain(turn.get('question', '')[:80])}"):
            st.markdown(no_pictures(turn.get("answer", "")))
            if turn.get("citations"):
                st.caption("Cited: " + plain("; ".join(turn["citations"])))


def _revealed(ticket_id: int) -> bool:
    return bool(st.session_state.get(f"reveal-{ticket_id}"))


def _reveal(ticket_id: int) -> None:
    if ok(_act(svc.desk.reveal, ticket_id)):
        st.session_state[f"reveal-{ticket_id}"] = True


def _transcript(ticket_id: int) -> None:
    view = _act(svc.desk.ticket, ticket_id, reveal=_revealed(ticket_id))
    if not ok(view):
        return
    for msg in view.transcript:
        if msg.role == "system":
            st.caption(f":material/support_agent: {plain(msg.content)}")
            continue
        name = {"customer": "user", "assistant": "assistant"}.get(msg.role, "agent")
        with st.chat_message(name, avatar=":material/support_agent:" if msg.role == "agent" else None):
            if msg.role == "agent":
                st.caption(f"**{plain(msg.author)}**")
            if msg.role == "customer":
                st.text(msg.content)
            else:
                st.markdown(no_pictures(msg.content))
            if msg.citations:
                st.caption(sources_caption(msg.citations))


def _use_template() -> None:
    name = st.session_state.get("template")
    if name and name in REPLY_TEMPLATES:
        st.session_state["reply_text"] = REPLY_TEMPLATES[name].format(agent=user.display_name)


def _history(view: Any) -> None:
    with st.expander("Ticket history and internal notes"):
        for e in view.events:
            st.markdown(
                f"- {e['at']:%H:%M:%S} **{e['kind']}** by {plain(e['actor'])}"
                + (f": {plain(e['body'])}" if e["body"] else "")
            )


def _back_to_queue(resumed: Any) -> None:
    if resumed is False:  # the ticket is closed; the bot takes the thread on the customer's next message
        st.session_state["flash"] = "Closed. The assistant will pick the conversation up on the next message."
    st.session_state.pop("ticket", None)
    st.rerun()


def _ticket(ticket_id: int) -> None:
    view = _act(svc.desk.ticket, ticket_id, reveal=_revealed(ticket_id))
    if not ok(view):
        if st.button("Back to the queue", key="back-error"):
            st.session_state.pop("ticket", None)
            st.rerun()
        return
    st.subheader(f"Ticket #{view.id} · {view.status}" + (f" · {view.assignee}" if view.assignee else ""))
    if st.button("Back to the queue", key="back"):
        st.session_state.pop("ticket", None)
        st.rerun()
    _packet(view)
    if view.revealed:
        st.caption(":material/visibility: Personal details shown; this was recorded in the ticket history.")
    elif svc.desk.may_reveal(user):
        st.caption("Personal details (emails, phone and card numbers…) show as tokens such as [EMAIL_1].")
        st.button("Show personal details", key=f"reveal-btn-{ticket_id}", on_click=_reveal, args=(ticket_id,))
    st.divider()
    st.fragment(_transcript, run_every=2 if view.status in ("waiting", "assigned") else None)(ticket_id)
    mine = view.status == "assigned" and view.assignee == user.username
    if (
        view.status == "waiting"
        and st.button("Claim", key="claim-open")
        and ok(_act(svc.desk.claim, ticket_id))
    ):
        st.rerun()
    if view.status == "assigned" and not mine:
        st.info(f"{view.assignee} is handling this conversation.")
        if user.role == Role.ADMIN:  # the agent left or was deactivated: the customer must not wait forever
            c1, c2 = st.columns(2)
            _pass_on(ticket_id, view.assignee or "", c1, c2)
    if mine:
        if st.session_state.pop("clear_reply", False):
            st.session_state["reply_text"] = ""
        st.selectbox("Template", ["", *REPLY_TEMPLATES], key="template", on_change=_use_template)
        with st.form("reply"):
            text = st.text_area("Reply to the customer", key="reply_text")
            if st.form_submit_button("Send reply", icon=":material/send:") and ok(
                _act(svc.desk.reply, ticket_id, text)
            ):
                st.session_state["clear_reply"] = True  # cleared only once sent: a failure keeps the text
                st.rerun()
    if view.status in ("waiting", "assigned"):
        with st.form("note", clear_on_submit=True):
            body = st.text_input("Internal note (never shown to the customer)", key="note_text")
            if st.form_submit_button("Add note") and ok(_act(svc.desk.note, ticket_id, body)):
                st.rerun()
    if mine:
        c1, c2, c3 = st.columns(3)
        if c1.button("Hand back to assistant", key="hand_back", icon=":material/smart_toy:"):
            resumed = _act(svc.desk.hand_back, ticket_id)
            if ok(resumed):
                _back_to_queue(resumed)
        outcome = c2.selectbox("Outcome", OUTCOMES, key="outcome")
        if c2.button("Resolve", key="resolve"):
            resumed = _act(svc.desk.resolve, ticket_id, outcome=outcome)
            if ok(resumed):
                _back_to_queue(resumed)
        _pass_on(ticket_id, user.username, c3, c3)
    _history(view)


def _pass_on(ticket_id: int, assignee: str, reassign_col: Any, release_col: Any) -> None:
    """Reassign to another agent, or put the ticket back in the queue (its assignee, or an admin)."""
    agents = _act(svc.desk.agents)
    others = [a for a in agents if a[0] != assignee] if ok(agents) else []
    if others:
        to = reassign_col.selectbox("Reassign to", [a[0] for a in others], key="reassign_to")
        if reassign_col.button("Reassign", key="reassign") and ok(_act(svc.desk.reassign, ticket_id, to)):
            st.rerun()
    if release_col.button("Put back in the queue", key="release") and ok(_act(svc.desk.release, ticket_id)):
        _back_to_queue(None)


st.title("Agent workspace")
if flash := st.session_state.pop("flash", None):
    st.warning(flash)
if "ticket" in st.session_state:
    _ticket(st.session_state["ticket"])
else:
    st.fragment(_queue, run_every=3)()
