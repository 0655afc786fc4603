"""The customer's chat page and the source page, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow

UI = Path(__file__).resolve().parents[2] / "app" / "ui"


def _chat(demo_service) -> AppTest:
    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _texts(element) -> list[str]:
    return [str(getattr(child, "value", "")) for child in element.children.values()]


def test_page_shows_the_mode_badge_and_starts_a_conversation(demo_service):
    at = _chat(demo_service)
    assert any("Minimal mode" in m.value for m in at.markdown)  # st.badge renders as a markdown badge
    assert at.query_params.get("conversation") and at.query_params.get("customer")


def test_sending_a_question_shows_a_cited_answer_with_links_to_the_sources(demo_service):
    at = _chat(demo_service)
    at.chat_input[0].set_value("How do I return an item?").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    answer = " ".join(_texts(at.chat_message[1]))
    assert "[1]" in answer and "How to return an item" in answer
    sources = next(c.value for c in at.caption if c.value.startswith("Sources:"))
    link = sources.split("](", 1)[1].split(")", 1)[0]
    query = parse_qs(urlparse(link).query)
    assert urlparse(link).path == "source"
    assert query["chunk"][0].startswith("returns-how-to-return-an-item#")
    assert query["version"][0].isdigit()
    assert at.expander and at.expander[0].label.startswith("[1] How to return an item")


def test_new_conversation_button_starts_an_empty_thread_and_keeps_the_old_one_listed(demo_service):
    at = _chat(demo_service)
    at.chat_input[0].set_value("Do you ship to Canada?").run()
    first = at.query_params["conversation"]
    at.button(key="new_conversation").click().run()
    assert at.query_params["conversation"] != first
    assert len(at.chat_message) == 0
    assert any(b.key == f"conv-{first}" for b in at.button)


def test_source_page_opens_the_quoted_passage_with_title_section_and_version(demo_service):
    at = _chat(demo_service)
    at.chat_input[0].set_value("How long does a refund take?").run()
    sources = next(c.value for c in at.caption if c.value.startswith("Sources:"))
    query = parse_qs(urlparse(sources.split("](", 1)[1].split(")", 1)[0]).query)
    page = AppTest.from_file(str(UI / "passage.py"), default_timeout=60)
    page.query_params["chunk"] = query["chunk"][0]
    page.query_params["version"] = query["version"][0]
    page.run()
    assert not page.exception
    assert page.title[0].value == "How long refunds take"
    assert "Section:" in page.caption[0].value and "version 1" in page.caption[0].value
    assert page.info[0].value.strip()


def test_source_page_with_an_unknown_passage_says_so_clearly(demo_service):
    page = AppTest.from_file(str(UI / "passage.py"), default_timeout=60)
    page.query_params["chunk"] = "no-such-article#nothing-0000000000"
    page.run()
    assert not page.exception
    assert "could not be found" in page.error[0].value
