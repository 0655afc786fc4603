"""Shared bits of the pages: the cached service and the mode badge."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from agent.runtime import get_service
from agent.service import ChatService

MODE_BADGE = {
    "full": ("Full", "green"),
    "degraded": ("Degraded", "orange"),
    "minimal": ("Minimal mode: answers quote the help center", "blue"),
    "offline": ("Offline", "red"),
}


@st.cache_resource(show_spinner="Starting the assistant…")
def service() -> ChatService:
    return get_service()


def mode_badge(mode: str) -> None:
    label, color = MODE_BADGE.get(mode, (mode, "gray"))
    st.badge(label, color=color, icon=":material/bolt:")


def source_link(citation: dict) -> str:
    """Relative link to the source page; chunk ids hold '#', so the query is URL-encoded."""
    return "source?" + urlencode({"chunk": citation["chunk_id"], "version": citation["version_id"]})
