"""Shared bits of the pages: the cached service, the mode badge, the health panel and the chaos switches."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from agent.runtime import get_service
from agent.service import ChatService
from core.breakers import ModeDecision
from core.chaos import FaultSpec

MODE_BADGE = {
    "full": ("Full", "green", "The assistant is answering normally."),
    "degraded": ("Degraded", "orange", "The assistant is running on a backup; answers may be shorter."),
    "minimal": (
        "Minimal",
        "blue",
        "Answers quote our help center directly, without the AI assistant.",
    ),
    "offline": ("Offline", "red", "The help center can't be searched right now; your messages are saved."),
}
STATE_ICON = {"closed": "🟢", "half_open": "🟡", "open": "🔴"}


@st.cache_resource(show_spinner="Starting the assistant…")
def service() -> ChatService:
    return get_service()


def mode_badge(decision: ModeDecision, *, technical: bool) -> None:
    """The rung, a sentence for the customer, and (outside prod) the operator's reason."""
    label, color, customer_text = MODE_BADGE.get(decision.mode, (decision.mode, "gray", ""))
    st.badge(f"{label} mode", color=color, icon=":material/bolt:")
    st.caption(f"{customer_text} ({decision.reason})" if technical else customer_text)


def health_panel(svc: ChatService) -> None:
    """Each dependency's breaker: closed, open (and when it will probe again), or half-open."""
    with st.expander("Service health", icon=":material/monitor_heart:"):
        last = svc.health.last_mode
        if last is not None:
            st.markdown(f"**Mode:** {last.mode} — {last.reason}")
        for snap in svc.health.snapshot():
            line = f"{STATE_ICON[snap.state]} `{snap.name}` {snap.state.replace('_', '-')}"
            if snap.retry_in_s is not None:
                line += f", probe in {snap.retry_in_s:.0f} s"
            if snap.last_error:
                line += f" · last error: {snap.last_error}"
            st.markdown(line)
        pending = len(svc.spool)
        if pending:
            st.markdown(f"**Spooled:** {pending} entries wait for the database")


def chaos_panel(svc: ChatService) -> None:
    """Dev only: inject faults into one dependency and watch the mode change."""
    chaos = svc.health.chaos
    if chaos is None:
        return
    with st.expander("Fault injection (dev)", icon=":material/science:"):
        names = [s.name for s in svc.health.snapshot()]
        target = st.selectbox("Dependency", names, key="chaos_target")
        current = chaos.specs().get(target, FaultSpec())
        with st.form("chaos_form"):
            error = st.slider("Server errors (500)", 0.0, 1.0, current.error_rate, 0.1)
            limited = st.slider("Rate limited (429)", 0.0, 1.0, current.rate_limit_rate, 0.1)
            retry_after = st.number_input("Retry-After (s)", 0.0, 60.0, current.retry_after_s)
            hang = st.slider("Hangs (timeouts)", 0.0, 1.0, current.hang_rate, 0.1)
            malformed = st.slider("Malformed JSON", 0.0, 1.0, current.malformed_rate, 0.1)
            truncated = st.slider("Truncated output", 0.0, 1.0, current.truncated_rate, 0.1)
            empty = st.slider("Empty output", 0.0, 1.0, current.empty_rate, 0.1)
            latency = st.number_input("Added latency (s)", 0.0, 30.0, current.latency_s)
            if st.form_submit_button("Apply"):
                chaos.set(
                    target,
                    FaultSpec(
                        error_rate=error,
                        rate_limit_rate=limited,
                        retry_after_s=retry_after,
                        hang_rate=hang,
                        malformed_rate=malformed,
                        truncated_rate=truncated,
                        empty_rate=empty,
                        latency_s=latency,
                    ),
                )
        active = chaos.specs()
        if active:
            st.caption("Active: " + ", ".join(sorted(active)))
        if st.button("Clear all faults", key="chaos_clear"):
            chaos.clear()
            st.rerun()


def source_link(citation: dict) -> str:
    """Relative link to the source page; chunk ids hold '#', so the query is URL-encoded."""
    return "source?" + urlencode({"chunk": citation["chunk_id"], "version": citation["version_id"]})
