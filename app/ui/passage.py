"""A cited passage, opened from a numbered source link: article title, section, version and the text."""

from __future__ import annotations

import streamlit as st

from app.ui.common import no_pictures, plain, service
from core.db import session_scope
from knowledge.store import get_passage

svc = service()
chunk_id = st.query_params.get("chunk", "")
version_raw = st.query_params.get("version", "")
version_id = int(version_raw) if version_raw.isdigit() else None

with session_scope(svc.settings.database_url) as session:
    passage = get_passage(session, chunk_id=chunk_id, version_id=version_id) if chunk_id else None

if passage is None:
    st.error("That source could not be found. It may have been removed from the help center.")
    st.stop()

st.title(plain(passage.title))
st.caption(f"Section: {passage.section} · version {passage.version} · updated {passage.updated or 'n/a'}")
if passage.status != "published":
    st.warning("This is the version the assistant quoted; the help center has been updated since.")
st.subheader("Quoted passage")
st.info(no_pictures(passage.text))
with st.expander("The whole article", expanded=False):
    st.markdown(no_pictures(passage.body))
