"""Entry point: `streamlit run app/ui/main.py`. Declares the pages; each page is its own script."""

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).parent

st.set_page_config(page_title="Help center chat", page_icon="💬", layout="centered")
page = st.navigation(
    [
        st.Page(str(_HERE / "chat.py"), title="Chat", icon="💬", default=True),
        st.Page(str(_HERE / "passage.py"), title="Source", icon="📄", url_path="source"),
        st.Page(str(_HERE / "workspace.py"), title="Agent workspace", icon="🎧", url_path="agent"),
        st.Page(str(_HERE / "studio.py"), title="Knowledge base studio", icon="📚", url_path="studio"),
        st.Page(str(_HERE / "ops.py"), title="Operations", icon="📈", url_path="ops"),
    ],
    position="hidden",
)
page.run()
