"""The knowledge base studio (role editor): articles, the Markdown editor with preview, publish, history with
diff and rollback, archive and delete, import, quarantine review, "try a question", gaps and the audit log.

Roles are checked by the service on every action (knowledge/studio.py); this page only decides what to draw.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import streamlit as st

from app.kb_gate import kb_eval_check
from app.ui.common import act, import_summary, logout_button, ok, plain, require_login, service
from core.users import PermissionDenied, Role
from knowledge.chunking import ArticleFormatError
from knowledge.importers import MAX_UPLOAD_BYTES, SUPPORTED_SUFFIXES
from knowledge.studio import StudioError

svc = service()
studio = svc.studio
user = require_login(
    svc, Role.EDITOR, title="Knowledge base studio", refusal="The studio is for the help center's editors."
)


STATUS_ICON = {
    "published": "🟢",
    "draft": "📝",
    "archived": "📦",
    "quarantined": "⚠️",
    "deleted": "🗑️",
    "rejected": "⛔",
}
VIEWS = ["Articles", "Import", "Quarantine", "Try a question", "Gaps", "Audit log"]


def _act(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an action as the logged-in user; errors they can act on are shown, not raised."""
    return act(user, (StudioError, PermissionDenied, ArticleFormatError), action, *args, **kwargs)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else ""


def _eval_check(version_id: int) -> dict[str, Any]:
    return kb_eval_check(svc.settings, version_id)


def _eval_summary(report: dict[str, Any]) -> str:
    if report.get("off"):
        return "(The eval check is off: KB_EVAL_CHECK=false.)"
    if "error" in report:
        return f"The eval check could not run: {report['error']}."
    return (
        f"Eval check: {len(report['affected'])} affected case(s), "
        f"{len(report['newly_failing'])} newly failing, {len(report['newly_passing'])} newly passing."
    )


def _eval_diff(report: dict[str, Any]) -> None:
    """What the draft would break, case by case, with the reply it would give."""
    st.warning(_eval_summary(report) + " Nothing was published.")
    for d in report.get("newly_failing", []):
        with st.container(border=True):
            st.markdown(f"**{plain(d['case'])}** ({d['config']}): {d['before_actual']} → {d['after_actual']}")
            st.caption(plain(d["why"]))
            if d.get("reply"):
                st.text(d["reply"][:500])
    for d in report.get("newly_passing", []):
        st.caption(f"passes now: {plain(d['case'])} ({d['config']})")


def _flash(text: str, *, failed: str = "") -> None:
    """Shown at the top of the next run: `text` as a success, `failed` (what did not happen) as an error."""
    st.session_state["studio_flash"] = (text, failed)


def _open(slug: str | None) -> None:
    """Show this article in the editor (None: a new one); forgets any unsaved edit form."""
    for key in [k for k in st.session_state if str(k).startswith("ed_")]:
        del st.session_state[key]
    st.session_state["studio_article"] = slug
    st.session_state["studio_goto"] = "Articles"  # the view radio is set before it is drawn, next run


if goto := st.session_state.pop("studio_goto", None):
    st.session_state["studio_view"] = goto
with st.sidebar:
    logout_button("studio_article", "studio_view")
    waiting = _act(studio.quarantined)
    waiting = waiting if ok(waiting) else []
    labels = {v: f"{v} ({len(waiting)})" if v == "Quarantine" and waiting else v for v in VIEWS}
    view = st.radio("Studio", VIEWS, key="studio_view", format_func=labels.get)

st.title("Knowledge base studio")
if flash := st.session_state.pop("studio_flash", None):
    done_text, failed_text = flash
    if failed_text:
        st.error(failed_text)
    if done_text:
        st.success(done_text)


# Articles ------------------------------------------------------------------------------------------------


def _article_list() -> None:
    c1, c2, c3 = st.columns([3, 2, 2])
    search = c1.text_input("Search", key="f_search", placeholder="title, text or tag")
    categories = _act(studio.categories)
    category = c2.selectbox("Category", ["any", *(categories if ok(categories) else [])], key="f_category")
    status = c3.selectbox("Status", ["any", "published", "draft", "quarantined", "archived"], key="f_status")
    items = _act(
        studio.articles,
        search=search,
        category=None if category == "any" else category,
        status=None if status == "any" else status,
    )
    if not ok(items):
        return
    counts = _act(studio.usage_counts)
    counts = counts if ok(counts) else {}
    if st.button("New article", icon=":material/add:", key="new_article"):
        _open(None)
        st.rerun()
    if not items:
        st.info(
            "No articles match." if search or category != "any" or status != "any" else "No articles yet."
        )
        return
    st.caption(f"{len(items)} articles")
    for a in items:
        answered, up, down = counts.get(a.slug, (0, 0, 0))
        c1, c2, c3 = st.columns([5, 3, 1])
        pending = f" · {STATUS_ICON.get(a.pending, '')} {a.pending} v{a.latest_version}" if a.pending else ""
        version = f"v{a.published_version}" if a.published_version else ""
        c1.markdown(f"{STATUS_ICON.get(a.status, '')} **{plain(a.title)}**  \n`{a.slug}` · {a.category}")
        c2.caption(f"{a.status} {version}{pending}  \n{answered} answers · 👍 {up} · 👎 {down}")
        if c3.button("Open", key=f"open-{a.slug}"):
            _open(a.slug)
            st.rerun()


def _editor(slug: str | None) -> None:
    if st.button("← All articles", key="back"):
        st.session_state.pop("studio_article", None)
        st.rerun()
    history = _act(studio.history, slug) if slug else []
    if not ok(history):
        return
    latest = history[0] if history else None
    served = next((v for v in history if v.status == "published"), None)
    if latest is None:
        st.subheader("New article")
    else:
        st.subheader(plain(latest.title))
        state = f"serving v{served.version}" if served else "not served to customers"
        st.caption(f"`{slug}` · {state} · newest v{latest.version} ({latest.status}) by {latest.created_by}")
    tabs = st.tabs(["Edit", "History", "Usage", "Try a question"] if latest else ["Edit"])
    with tabs[0]:
        _edit_form(slug, latest, served=served is not None)
    if latest is None or slug is None:
        return
    with tabs[1]:
        _history(slug, history)
    with tabs[2]:
        _usage(slug)
    with tabs[3]:
        _try(default_version=latest.id if latest.status in ("draft", "quarantined") else None, key="art")


def _publish(draft: Any, note: str, report: dict[str, Any]) -> bool:
    """Publish; False (the error shown on this run, not wiped by a rerun) when it failed."""
    st.session_state.pop("studio_eval", None)
    result = _act(studio.publish, draft.id, note=note)
    if not ok(result):
        return False
    if result.status == "quarantined":
        _flash(f"Version {draft.version} was quarantined by the ingestion scan: review it in Quarantine.")
    else:
        took = result.timings_s.get("total", 0.0)
        _flash(
            f"Published version {draft.version}: customers get it now ({took:.1f} s). {_eval_summary(report)}"
        )
    return True


def _edit_form(slug: str | None, latest: Any, *, served: bool) -> None:
    if latest is not None and latest.findings:
        with st.container(border=True):
            st.warning("The ingestion scan found content that will be quarantined on publish:")
            for f in latest.findings:
                kind = f["kind"].replace("_", " ")
                st.markdown(f"- **{kind}** in “{plain(f['section'])}”: {plain(f['evidence'])}")
    c1, c2 = st.columns(2)
    with c1:
        title = st.text_input("Title", value=latest.title if latest else "", key="ed_title")
        a, b = st.columns(2)
        category = a.text_input("Category", value=latest.category if latest else "general", key="ed_category")
        tags = b.text_input(
            "Tags (comma separated)", value=", ".join(latest.tags) if latest else "", key="ed_tags"
        )
        body = st.text_area(
            "Text (Markdown; `## Heading` starts a section customers can be cited)",
            value=latest.body if latest else "",
            height=420,
            key="ed_body",
        )
        note = st.text_input("What changed (for the history)", key="ed_note")
    with c2:
        st.caption("Preview")
        with st.container(border=True, height=560):
            st.markdown(f"# {title}\n\n{body}" if title or body else "*Nothing to preview yet.*")
    # The version the editor opened: a save is checked against it, so one saved meanwhile by someone else is
    # never overwritten by this form (it keeps its values under its keys while `latest` moves on).
    opened = st.session_state.get("ed_opened")
    if opened is None or opened[0] != slug:
        opened = (slug, latest.version if latest else None)
        st.session_state["ed_opened"] = opened
    base = opened[1]
    overtaken = latest is not None and latest.version != base
    if overtaken:
        st.warning(
            f"Version {latest.version} was saved by {latest.created_by} after you opened this article. "
            "Your edits here cannot be saved over it: copy them, then open the article again."
        )
    changed = latest is None or (title, body, category, tags) != (
        latest.title,
        latest.body,
        latest.category,
        ", ".join(latest.tags),
    )
    c1, c2, c3, c4 = st.columns(4)
    save = c1.button("Save draft", key="ed_save", icon=":material/save:")
    go = c2.button("Publish", key="ed_publish", type="primary", icon=":material/publish:")
    if (save or go) and overtaken:
        st.error(f"Not saved: version {latest.version} is newer than the one you opened (v{base}).")
    elif save and not changed:
        st.info("Nothing changed since the last save.")
    elif go and not changed and latest.status != "draft":
        st.info(
            f"Version {latest.version} is {latest.status}; edit the text to make a new version to publish."
        )
    elif save or go:
        draft = latest
        if changed:
            draft = _act(
                studio.save_draft,
                title=title,
                body=body,
                slug=slug,
                category=category,
                tags=tags,
                change_note=note,
                base_version=base,
            )
            if not ok(draft):
                return
        if go:
            report: dict[str, Any] = {"passed": True, "off": True}
            if svc.settings.kb_eval_check:
                with st.spinner("Running the eval cases this change affects…"):
                    report = _eval_check(draft.id)
            if not report.get("passed"):
                st.session_state["studio_eval"] = {"version_id": draft.id, "report": report}
                _open(draft.slug)
                st.rerun()
            if not _publish(draft, note, report):
                if changed:
                    st.info(
                        f"Your text is saved as draft version {draft.version}; publish it again when ready."
                    )
                return
        else:
            _flash(f"Saved draft version {draft.version}. Customers still get the published version.")
        _open(draft.slug)
        st.rerun()
    checked = st.session_state.get("studio_eval")
    if latest is not None and checked and checked["version_id"] == latest.id and latest.status == "draft":
        _eval_diff(checked["report"])
        reason = st.text_input(
            "Why publish anyway (kept in the history and the audit log)", key="ed_override"
        )
        if st.button("Publish anyway", key="ed_publish_anyway", disabled=not reason.strip()):
            failing = (
                ", ".join(d["case"] for d in checked["report"].get("newly_failing", [])) or "check not run"
            )
            _publish(
                latest, f"{reason.strip()} [published over the eval check: {failing}]", checked["report"]
            )
            _open(latest.slug)
            st.rerun()
    if latest is None:
        return
    if c3.button("Archive", key="ed_archive", disabled=not served) and ok(_act(studio.archive, slug)):
        _flash(f"Archived {slug}: customers no longer get it. A rollback serves it again.")
        st.rerun()
    with c4.popover("Delete", icon=":material/delete:"):
        st.write(f"Deleting removes **{latest.title}** from customers and from this list. Type `{slug}`:")
        confirm = st.text_input("Article id", key="ed_delete_confirm", label_visibility="collapsed")
        if st.button("Delete for good", key="ed_delete", type="primary") and ok(
            _act(studio.delete, slug, confirm=confirm)
        ):
            st.session_state.pop("studio_article", None)
            _flash(f"Deleted {slug}.")
            st.rerun()


def _history(slug: str, history: list[Any]) -> None:
    for v in history:
        with st.container(border=True):
            c1, c2 = st.columns([5, 2])
            origin = f" · from v{v.based_on}" if v.based_on else ""
            c1.markdown(
                f"{STATUS_ICON.get(v.status, '')} **v{v.version}** {v.status}{origin}  \n"
                f"{v.created_by} · {_when(v.created_at)}"
                + (f" · published {_when(v.published_at)}" if v.published_at else "")
            )
            if v.change_note:
                c1.caption(plain(v.change_note))
            if v.provenance:
                source = ", ".join(f"{k}: {val}" for k, val in v.provenance.items() if val)
                c1.caption("Source: " + plain(source))
            if (
                v.published_at
                and v.status != "published"
                and c2.button(f"Roll back to v{v.version}", key=f"rollback-{v.version}")
            ):
                result = _act(studio.rollback, slug, v.version)
                if ok(result):
                    _flash(f"Rolled back: version {result.version.version} serves the text of v{v.version}.")
                    _open(slug)
                    st.rerun()
    if len(history) > 1:
        numbers = [v.version for v in history]
        c1, c2 = st.columns(2)
        old = c1.selectbox("Compare", numbers, index=1, key="diff_old", format_func=lambda n: f"v{n}")
        new = c2.selectbox("with", numbers, index=0, key="diff_new", format_func=lambda n: f"v{n}")
        diff = _act(studio.diff, slug, old, new)
        if ok(diff):
            st.code(diff or "(no differences)", language="diff")


def _usage(slug: str) -> None:
    usage = _act(studio.usage, slug)
    if not ok(usage):
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Answers citing it", usage.answered)
    c2.metric("Helpful", usage.helpful)
    c3.metric("Not helpful", usage.not_helpful)
    if not usage.questions:
        st.info("No customer answer has cited this article yet.")
        return
    st.dataframe(
        [
            {
                "asked": _when(q.at),
                "question": q.question,
                "version": q.version,
                "rating": {1: "👍", -1: "👎"}.get(q.rating or 0, ""),
                "comment": q.comment or "",
            }
            for q in usage.questions
        ],
        hide_index=True,
        use_container_width=True,
    )


# Import --------------------------------------------------------------------------------------------------


def _import() -> None:
    st.subheader("Import")
    st.caption(
        f"Markdown, HTML, PDF, plain text or FAQ CSV (question, answer[, category]); up to "
        f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB a file. Nothing changes until you import. "
        "A folder: `python -m knowledge.bulk_import DIR --by USERNAME`."
    )
    files = st.file_uploader(
        "Files", type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES], accept_multiple_files=True, key="uploads"
    )
    if not files:
        return
    ready = []
    for f in files:
        previews = _act(studio.preview_upload, f.name, f.getvalue())
        if not ok(previews):
            continue
        for p in previews:
            ready.append(f)
            with st.container(border=True):
                st.markdown(
                    f"**{plain(p.title)}** · `{p.slug}` · {p.format} · {p.change} · {len(p.chunks)} sections"
                )
                for w in p.warnings:
                    st.warning(plain(w))
                for finding in p.findings:
                    kind = finding.kind.replace("_", " ")
                    st.error(f"{kind} in “{plain(finding.section)}”: {plain(finding.evidence)}")
                with st.expander("Sections customers could be cited"):
                    for c in p.chunks:
                        st.markdown(f"**{plain(c.section)}**")
                        st.text(c.text[:1500])
    if not ready:
        return
    c1, c2 = st.columns(2)
    drafts = c1.button("Import as drafts", key="import_drafts")
    publish = c2.button("Import and publish", key="import_publish", type="primary")
    if drafts or publish:
        outcomes = []
        for f in dict.fromkeys(ready):
            results = _act(studio.import_upload, f.name, f.getvalue(), publish_now=publish)
            outcomes.append((f.name, results if ok(results) else None))
        done, failed = import_summary(outcomes)
        _flash(done, failed=failed)
        st.rerun()


# Quarantine ----------------------------------------------------------------------------------------------


def _quarantine() -> None:
    st.subheader("Quarantine")
    items = _act(studio.quarantined)
    if not ok(items):
        return
    if not items:
        st.info("Nothing waits for review.")
        return
    for q in items:
        with st.container(border=True):
            st.markdown(
                f"**{plain(q.title)}** · `{q.article}` v{q.version} · from {plain(q.source or q.created_by)}"
            )
            for f in q.findings:
                kind = f["kind"].replace("_", " ")
                st.markdown(
                    f"- **{kind}** ({f['detail']}) in “{plain(f['section'])}”: {plain(f['evidence'])}"
                )
            with st.expander("Text"):
                full = _act(studio.version, q.version_id)
                if ok(full):
                    st.text(full.body)
            note = st.text_input("Why (required)", key=f"q-note-{q.version_id}")
            c1, c2 = st.columns(2)
            release = c1.button("Release (publish as is)", key=f"q-release-{q.version_id}")
            if release and ok(_act(studio.release, q.version_id, note=note)):
                _flash(f"Released {q.article} v{q.version}: customers get it now.")
                st.rerun()
            reject = c2.button("Reject", key=f"q-reject-{q.version_id}")
            if reject and ok(_act(studio.reject, q.version_id, note=note)):
                _flash(f"Rejected {q.article} v{q.version}.")
                st.rerun()


# Try a question ------------------------------------------------------------------------------------------


def _try(*, default_version: int | None = None, key: str = "try") -> None:
    options: dict[str, int | None] = {"Published content": None}
    if default_version is not None:
        version = _act(studio.version, default_version)
        if ok(version):
            options[f"With draft v{version.version} of {version.slug}"] = default_version
    else:
        pending = _act(studio.articles, status="draft")
        for a in pending if ok(pending) else []:
            if a.pending:
                history = _act(studio.history, a.slug)
                if ok(history):
                    options[f"With {a.pending} v{history[0].version} of {a.slug}"] = history[0].id
    with st.form(f"{key}-form"):
        question = st.text_input("A customer's question", key=f"{key}-question")
        against = st.selectbox("Against", list(options), index=len(options) - 1, key=f"{key}-against")
        asked = st.form_submit_button("Try")
    if not asked:
        return
    result = _act(studio.try_question, question, version_id=options[against])
    if not ok(result):
        return
    verdict = "would answer, citing" if result.would_answer else "would say it does not know"
    st.markdown(
        f"Confidence **{result.confidence:.2f}**: the assistant {verdict}" + (":" if result.cited else ".")
    )
    if result.lexical_only:
        st.caption("Keyword search only: the vector index is not available right now.")
    if result.cited is not None:
        c = result.cited
        with st.container(border=True):
            st.markdown(f"**{plain(c.title)} › {plain(c.section)}** (v{c.metadata.get('version')})")
            st.markdown(c.text)
    st.dataframe(
        [
            {
                "article": p.metadata.get("article"),
                "version": p.metadata.get("version"),
                "section": p.section,
                "fused": round(p.score, 4),
                "dense": None if p.dense is None else round(p.dense, 3),
                "keyword": None if p.lexical is None else round(p.lexical, 2),
                "text": p.text[:160],
            }
            for p in result.passages
        ],
        hide_index=True,
        use_container_width=True,
    )


# Gaps ----------------------------------------------------------------------------------------------------


def _gaps() -> None:
    st.subheader("Knowledge gaps")
    st.caption(
        "Questions that ended in “I don't know”, a low-confidence answer, or a handoff for missing "
        "knowledge, grouped by meaning. Personal details are masked."
    )
    today = date.today()
    picked = st.date_input("Asked between", (today - timedelta(days=30), today), key="gap_range")
    chosen = [d for d in (picked if isinstance(picked, tuple) else (picked,)) if isinstance(d, date)]
    start, end = (chosen[0], chosen[-1]) if chosen else (today - timedelta(days=30), today)
    groups = _act(
        studio.gaps,
        since=datetime.combine(start, time.min),
        until=datetime.combine(end, time.max),
    )
    if not ok(groups):
        return
    if not groups:
        st.info("No unanswered questions in this period.")
        return
    for g in groups:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(g.outcomes.items()))
        with st.expander(f"**{g.count}×** {plain(g.label)}  ·  last {_when(g.last_seen)}"):
            st.caption(outcomes)
            for q in g.questions[:20]:
                st.markdown(f"- {_when(q.at)} · {plain(q.text)}")
            for ticket_id in g.resolved_ticket_ids:
                if st.button(
                    f"Draft an article from resolved ticket {ticket_id}", key=f"gap-ticket-{ticket_id}"
                ):
                    draft = _act(studio.draft_from_ticket, ticket_id)
                    if ok(draft):
                        _flash(f"Drafted {draft.slug} from ticket {ticket_id}: review it before publishing.")
                        _open(draft.slug)
                        st.rerun()


# Audit log -----------------------------------------------------------------------------------------------


def _audit() -> None:
    st.subheader("Audit log")
    target = st.text_input("Article id (empty: all)", key="audit_target").strip() or None
    entries = _act(studio.audit_log, slug=target)
    if not ok(entries):
        return
    st.dataframe(
        [
            {
                "when": _when(e.at),
                "who": e.actor,
                "action": e.action,
                "article": e.target,
                "version": e.version,
                "detail": ", ".join(f"{k}: {v}" for k, v in e.detail.items() if v not in (None, "", [], {})),
            }
            for e in entries
        ],
        hide_index=True,
        use_container_width=True,
    )


if view == "Articles":
    if "studio_article" in st.session_state:
        _editor(st.session_state["studio_article"])
    else:
        _article_list()
elif view == "Import":
    _import()
elif view == "Quarantine":
    _quarantine()
elif view == "Try a question":
    st.subheader("Try a question")
    _try()
elif view == "Gaps":
    _gaps()
else:
    _audit()
