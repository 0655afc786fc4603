"""Shared bits of the pages: the cached service, the mode badge, the health panel and the chaos switches."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from agent.runtime import get_service
from agent.service import ChatService
from core.breakers import ModeDecision
from core.chaos import FaultSpec
from core.db import DatabaseUnavailable
from core.faults import DependencyFault
from core.ratelimit import RateLimited
from core.users import ROLE_GRANTS, AuthenticatedUser, LoginEnded, Role

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


def logged_in(*roles: Role) -> AuthenticatedUser | None:
    """The page's user when their role grants one of `roles` (an admin's grants every staff role)."""
    user: AuthenticatedUser | None = st.session_state.get("user")
    if user is None or not ROLE_GRANTS[user.role] & set(roles):
        return None
    return user


def require_login(svc: ChatService, *roles: Role, title: str, refusal: str) -> AuthenticatedUser:
    """The logged-in user with one of `roles`, or the login form and the end of this page's run.

    The page only decides what to draw: every action behind it checks the role again in the service.
    """
    user = logged_in(*roles)
    if user is not None:
        return user
    st.title(title)
    current: AuthenticatedUser | None = st.session_state.get("user")
    if current is not None:
        st.info(f"You are logged in as {current.display_name} ({current.role}). {refusal}")
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        if st.form_submit_button("Log in"):
            try:
                found = svc.authenticate(username=username, password=password)
            except RateLimited as exc:
                minutes = max(1, round(exc.wait / 60))
                st.error(f"Too many failed logins for this username. Try again in about {minutes} minute(s).")
                st.stop()
            if found is None:
                st.error("Wrong username or password.")
            elif not ROLE_GRANTS[found.role] & set(roles):
                st.error(refusal)
            else:
                st.session_state["user"] = found
                st.rerun()
    if svc.settings.env == "dev":
        st.caption("Demo accounts are printed by `make run` (dev only).")
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the run")


def logout_button(*keys: str) -> None:
    """In the sidebar: who is logged in, and a log-out that forgets the page's state under `keys`."""
    user: AuthenticatedUser | None = st.session_state.get("user")
    if user is None:
        return
    st.markdown(f"Logged in as **{user.display_name}** ({user.role})")
    if st.button("Log out", key="logout"):
        for key in ("user", *keys):
            st.session_state.pop(key, None)
        st.rerun()


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~$:])")


def plain(text: Any) -> str:
    """Text from outside (customers, imported files) inside Markdown, escaped: no planted links, images,
    raw HTML or formatting on a staff member's screen."""
    return _MARKDOWN.sub(r"\\\1", str(text))


_PICTURE = re.compile(r"(\\*)!\[")


def no_pictures(markdown: str) -> str:
    """Markdown whose pictures show as links: a page never asks a server an answer or an article names for
    an image (the request would tell that server who read what, and when). `![alt](url)` becomes `!` and the
    link `[alt](url)`; HTML is never rendered here anyway."""
    return _PICTURE.sub(lambda m: m.group(1) + ("\\" if len(m.group(1)) % 2 == 0 else "") + "![", markdown)


def sources_caption(citations: list[dict[str, Any]]) -> str:
    """`Sources: [[1] Title › Section](source?...) · …`: each a link to its passage page. Titles and
    sections come from articles (imports too), so they are escaped: one cannot plant a link of its own."""
    links = " · ".join(
        f"[[{c['n']}] {plain(c['title'])} › {plain(c['section'])}]({source_link(c)})" for c in citations
    )
    return f"Sources: {links}"


def import_summary(outcomes: list[tuple[str, list[Any] | None]]) -> tuple[str, str]:
    """What an import did, per file (its `UploadResult`s, or None when the action failed): the articles
    imported, and apart, every one that was not, with why. Nothing is left out of either."""
    done, failed = [], []
    for filename, results in outcomes:
        if results is None:
            failed.append(f"{plain(filename)}: not imported (the database did not answer); try it again")
            continue
        for r in results:
            if r.outcome == "error":
                failed.append(
                    f"{plain(r.filename)}" + (f" → `{r.slug}`" if r.slug else "") + f": {plain(r.message)}"
                )
            else:
                done.append(
                    f"{plain(r.filename)} → `{r.slug}`: {r.outcome}"
                    + (f" v{r.version}" if r.version else "")
                    + (f" ({plain(r.message)})" if r.message else "")
                )
    return (
        "Imported:\n\n" + "\n\n".join(f"- {line}" for line in done) if done else "",
        "Not imported:\n\n" + "\n\n".join(f"- {line}" for line in failed) if failed else "",
    )


FAILED = object()
"""What `act` returns when the action failed (its error is on the page): never rerun over it."""


def act(
    user: AuthenticatedUser, expected: tuple[type[Exception], ...], action: Any, *args: Any, **kwargs: Any
) -> Any:
    """Run a staff action as `user`; an `expected` error (one they can act on) and a database that does not
    answer are shown on the page, and the result is FAILED."""
    try:
        return action(user, *args, **kwargs)
    except LoginEnded as exc:  # deactivated, password changed, sessions ended: the next run asks for a login
        st.session_state.pop("user", None)
        st.error(str(exc))
    except expected as exc:
        st.error(str(exc))
    except (SQLAlchemyError, DependencyFault, DatabaseUnavailable):
        st.error("The database is not answering right now. Nothing was changed; try again in a moment.")
    return FAILED


def ok(result: Any) -> bool:
    return result is not FAILED
