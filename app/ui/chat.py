"""The customer's chat: conversations, cited answers, the mode badge, "new conversation"."""

from __future__ import annotations

import uuid

import streamlit as st

from app.ui.common import mode_badge, service, source_link
from core.conversations import MessageView, NotYourConversation

svc = service()
params = st.query_params

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

if "conversation" not in params:
    _new_conversation()
conversation_id = params["conversation"]

st.title("How can we help?")
mode_badge(svc.mode())

try:
    messages = svc.transcript(conversation_id=conversation_id, customer_id=customer_id)
except NotYourConversation:
    st.error("That conversation was not found. A new one has been started.")
    _new_conversation()
    conversation_id = params["conversation"]
    messages = []


def _render(msg: MessageView) -> None:
    role = "user" if msg.role == "customer" else "assistant"
    with st.chat_message(role):
        if msg.role == "customer":
            st.text(msg.content if msg.content.strip() else "(empty message)")
        else:
            st.markdown(msg.content)
        if msg.citations:
            links = " · ".join(
                f"[[{c['n']}] {c['title']} › {c['section']}]({source_link(c)})" for c in msg.citations
            )
            st.caption(f"Sources: {links}")
            for c in msg.citations:
                with st.expander(f"[{c['n']}] {c['title']} › {c['section']}"):
                    st.markdown(c["quote"])
                    st.caption(f"Article “{c['title']}”, version {c['version']}")


for msg in messages:
    _render(msg)

if prompt := st.chat_input("Ask about orders, shipping, returns, billing…", max_chars=50_000):
    svc.send(conversation_id=conversation_id, customer_id=customer_id, text=prompt)
    st.rerun()
