"""The customer's chat: streamed cited answers, the mode and why, the Offline contact form, and a person's
live replies after a handoff (queue position, estimated wait, "Alex joined")."""

from __future__ import annotations

import uuid

import streamlit as st

from agent.desk import HandoffStatus
from app.ui.common import (
    MODE_BADGE,
    chaos_panel,
    health_panel,
    mode_badge,
    no_pictures,
    plain,
    service,
    sources_caption,
)
from core.conversations import InvalidFeedback, MessageView, NotYourConversation
from handoff.queue import QueueError
from handoff.tickets import InvalidContact

svc = service()
params = st.query_params
technical = svc.settings.env != "prod"

# The customer is identified by an opaque id kept in the URL (login arrives with user accounts).
if "customer" not in params:
    params["customer"] = uuid.uuid4().hex
customer_id = params["customer"]


def _new_conversation() -> None:
    params["conversation"] = svc.start_conversation(customer_id=customer_id)


with st.sidebar:
    st.header("Your conversations")
    if st.button("New conversation", icon=":material/add:", use_container_width=True, key="new_conversation"):
        _new_conversation()
    for conv in svc.conversations(customer_id=customer_id):
        current = conv["id"] == params.get("conversation")
        if st.button(
            ("▶ " if current else "") + conv["title"],
            key=f"conv-{conv['id']}",
            use_container_width=True,
            disabled=current,
        ):
            params["conversation"] = conv["id"]
            st.rerun()
    if technical:
        health_panel(svc)
        chaos_panel(svc)

if "conversation" not in params:
    _new_conversation()
conversation_id = params["conversation"]

st.title("How can we help?")
status = svc.status()
mode_badge(status, technical=technical)

try:
    messages = svc.transcript(conversation_id=conversation_id, customer_id=customer_id)
except NotYourConversation:
    st.error("That conversation was not found. A new one has been started.")
    _new_conversation()
    conversation_id = params["conversation"]
    messages = []


def _feedback(msg: MessageView, rated: int | None) -> None:
    """Thumbs on a bot answer; a thumbs down asks what was missing (both stored, the comment optional)."""
    choice = st.feedback("thumbs", key=f"fb-{msg.id}", default={1: 1, -1: 0}.get(rated or 0))
    if choice is None:
        return
    rating = 1 if choice == 1 else -1
    try:
        if rating != rated:
            svc.feedback(
                conversation_id=conversation_id, customer_id=customer_id, message_id=msg.id, rating=rating
            )
        if rating == -1:
            with st.form(f"fb-form-{msg.id}", clear_on_submit=True, border=False):
                comment = st.text_input("What was missing or wrong? (optional)", key=f"fb-text-{msg.id}")
                if st.form_submit_button("Send") and comment.strip():
                    svc.feedback(
                        conversation_id=conversation_id,
                        customer_id=customer_id,
                        message_id=msg.id,
                        rating=-1,
                        comment=comment,
                    )
                    st.toast("Thank you, that helps us improve our answers.")
    except InvalidFeedback as exc:
        st.error(str(exc))
    except Exception:  # the database is down: a rating is not worth an error page
        st.caption("Your rating could not be saved right now.")


def _render(msg: MessageView, rated: int | None = None) -> None:
    if msg.role == "system":  # "Alex joined the chat", "… handed the conversation back"
        st.caption(f":material/support_agent: {msg.content}")
        return
    if msg.role == "agent":
        with st.chat_message("agent", avatar=":material/support_agent:"):
            st.caption(f"**{msg.author or 'Support team'}** · support team")
            st.markdown(no_pictures(msg.content))
        return
    role = "user" if msg.role == "customer" else "assistant"
    with st.chat_message(role):
        if msg.role == "customer":
            st.text(msg.content if msg.content.strip() else "(empty message)")
        else:
            st.markdown(no_pictures(msg.content))
            if msg.mode and msg.mode != "full":
                st.caption(f"Answered in {MODE_BADGE.get(msg.mode, (msg.mode,))[0]} mode")
        if msg.citations:
            st.caption(sources_caption(msg.citations))
            for c in msg.citations:
                with st.expander(f"[{c['n']}] {plain(c['title'])} › {plain(c['section'])}"):
                    st.markdown(no_pictures(c["quote"]))
                    st.caption(f"Article “{plain(c['title'])}”, version {c['version']}")
    if msg.role == "assistant" and msg.id > 0:
        _feedback(msg, rated)


def _handoff_banner(handoff: HandoffStatus | None) -> None:
    if handoff is None:
        return
    if handoff.state == "assigned":
        st.success(f"{handoff.agent} from our support team is with you.", icon=":material/support_agent:")
        return
    place = f"You are number {handoff.position} in the queue" if handoff.position else "You are in the queue"
    wait = f", estimated wait about {max(1, round(handoff.wait_s / 60))} min" if handoff.wait_s else ""
    st.info(f"Connecting you to a person… {place}{wait}.", icon=":material/hourglass_top:")
    if st.button("Back to the assistant instead", key="withdraw", icon=":material/smart_toy:"):
        try:
            svc.desk.withdraw(conversation_id=conversation_id, customer_id=customer_id)
        except QueueError as exc:  # a person joined a moment ago
            st.warning(str(exc))
        st.rerun()


def _live() -> None:
    """The transcript and the handoff status; refreshed every 2 s while a person holds the chat."""
    current = svc.transcript(conversation_id=conversation_id, customer_id=customer_id)
    handoff = svc.desk.status(conversation_id=conversation_id, customer_id=customer_id)
    rated = svc.ratings(conversation_id=conversation_id, customer_id=customer_id)
    for msg in current:
        _render(msg, rated.get(msg.id))
    _handoff_banner(handoff)
    if (handoff is None) != (st.session_state.get("held_view") is None):
        st.session_state["held_view"] = handoff
        st.rerun()  # the person joined or left: the whole page changes (polling, input hint)


held = svc.desk.status(conversation_id=conversation_id, customer_id=customer_id)
st.session_state["held_view"] = held
st.fragment(_live, run_every=2 if held is not None else None)()


def _contact_form() -> None:
    """Offline: let the customer leave an email or phone number; it becomes a ticket (spooled if need be)."""
    with st.form("contact_form", clear_on_submit=False):
        st.markdown("**Leave your details and a person will get back to you**")
        contact = st.text_input("Email or phone number", key="contact_value")
        note = st.text_area("Anything else we should know? (optional)", key="contact_note", max_chars=2000)
        if st.form_submit_button("Send my details"):
            try:
                done = svc.leave_contact(
                    conversation_id=conversation_id, customer_id=customer_id, contact=contact, note=note
                )
            except InvalidContact as exc:
                st.error(str(exc))
            else:
                st.success(done)


offline_reply = bool(messages) and messages[-1].mode == "offline"
if status.mode == "offline" or offline_reply:
    _contact_form()

hint = "Write to our support team…" if held else "Ask about orders, shipping, returns, billing…"
if prompt := st.chat_input(hint, max_chars=50_000):
    with st.chat_message("user"):
        st.text(prompt if prompt.strip() else "(empty message)")
    if held is not None:  # a person owns the chat: store the message for them, the bot stays silent
        svc.send(conversation_id=conversation_id, customer_id=customer_id, text=prompt)
        st.rerun()
    with st.chat_message("assistant"):
        placeholder = st.empty()
        streamed: list[str] = []

        def _token(delta: str) -> None:
            streamed.append(delta)
            placeholder.markdown(no_pictures("".join(streamed)) + " ▌")

        def _reset() -> None:
            streamed.clear()
            placeholder.markdown("…")

        svc.send(
            conversation_id=conversation_id,
            customer_id=customer_id,
            text=prompt,
            on_token=_token,
            on_reset=_reset,
        )
    st.rerun()
