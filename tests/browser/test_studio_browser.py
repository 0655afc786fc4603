"""The knowledge base studio end to end in a real browser, against a real `streamlit run` server: an editor
logs in, imports a PDF and a Markdown file (a broken CSV beside them is refused with its reason), edits one
and publishes it; a customer's question is answered from the new article, citing the new version; after a
rollback the old text is cited again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.users import DEMO_USERS
from tests.browser.conftest import AppServer
from tests.browser.test_handoff_browser import (
    ANSWER_S,
    FIRST_ANSWER_S,
    UI_S,
    Debug,
    _ask,
    _assistant_messages,
    _expect,
    _expect_final,
    _expect_page,
)
from tests.pdfs import write_pdf

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

PIANO = """---
title: Piano tuning visits
category: services
---

Our technicians tune upright and grand pianos in your home.

## Booking a piano tuning

Book a piano tuning visit from your account page. A tuning visit costs 80 pounds and takes about
one hour.
"""
PIANO_EDIT = "A tuning visit costs 95 pounds and takes about one hour."
ASSEMBLY = [
    (
        "Booking furniture assembly",
        "Choose furniture assembly at checkout. Our fitters assemble wardrobes, "
        "beds and desks on the day of delivery.",
    ),
    ("Assembly prices", "Assembly of a wardrobe costs 45 pounds. Assembly of a bed costs 30 pounds."),
]


def _customer_asks(page: Page, url: str, question: str, *, first: bool = False) -> Locator:
    """A new conversation, one question; returns the bot's final answer."""
    page.goto(url + "/")
    _expect_page(page, "How can we help?", timeout_s=FIRST_ANSWER_S if first else UI_S)
    _ask(page, question)
    answer = _assistant_messages(page)
    _expect()(answer).to_have_count(1, timeout=(FIRST_ANSWER_S if first else ANSWER_S) * 1000)
    _expect_final(answer, timeout_s=ANSWER_S)
    _expect()(answer).to_have_count(1, timeout=UI_S * 1000)  # one answer, once the re-render settles
    _expect()(answer.get_by_text(re.compile(r"^Sources:"))).to_be_visible()
    return answer


def _cited_version(answer: Locator, title: str) -> str:
    """Open the answer's citation of `title` and read the version it names."""
    answer.get_by_text(re.compile(re.escape(title) + " › ")).last.click()
    caption = answer.get_by_text(re.compile(f"Article “{re.escape(title)}”, version \\d+"))
    _expect()(caption.first).to_be_visible(timeout=UI_S * 1000)
    found = re.search(r"version (\d+)", caption.first.inner_text())
    assert found, caption.first.inner_text()
    return found.group(1)


def _success(page: Page, text: str | re.Pattern[str]) -> None:
    _expect()(page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text=text)).to_be_visible(
        timeout=ANSWER_S * 1000
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_an_editor_imports_edits_publishes_and_rolls_back_and_customers_get_each_version(
    browser, app_server: AppServer, tmp_path: Path
) -> None:
    expect = _expect()
    erin = next(u for u in DEMO_USERS if u.username == "erin")
    markdown = tmp_path / "piano-tuning.md"
    markdown.write_text(PIANO, encoding="utf-8")
    pdf = write_pdf(tmp_path / "furniture-assembly.pdf", "Furniture assembly", ASSEMBLY)
    broken = tmp_path / "broken-faq.csv"
    broken.write_text("Frage,Antwort\nWie lange?,30 Tage.\n", encoding="utf-8")
    editor_ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    customer_ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        editor, customer = editor_ctx.new_page(), customer_ctx.new_page()
        debug = Debug(app_server, {"editor": editor, "customer": customer})

        with debug.step("editor logs in"):
            editor.goto(app_server.url + "/studio")
            _expect_page(editor, "Knowledge base studio", timeout_s=FIRST_ANSWER_S)
            editor.get_by_label("Username").fill(erin.username)
            editor.get_by_label("Password", exact=True).fill(erin.password)
            editor.get_by_role("button", name="Log in").click()
            expect(editor.get_by_text(f"Logged in as {erin.display_name}")).to_be_visible(timeout=UI_S * 1000)

        with debug.step("editor imports a PDF and a Markdown file; a CSV without its columns is refused"):
            editor.get_by_text("Import", exact=True).click()
            editor.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                [str(markdown), str(pdf), str(broken)]
            )
            expect(
                editor.locator('[data-testid="stAlertContentError"]').filter(
                    has_text=re.compile(
                        r"broken-faq\.csv: no 'question' or 'answer' column.*'Frage', 'Antwort'"
                    )
                )
            ).to_be_visible(timeout=ANSWER_S * 1000)
            expect(editor.get_by_text(re.compile(r"piano-tuning.*markdown.*new"))).to_be_visible(
                timeout=ANSWER_S * 1000
            )
            expect(
                editor.get_by_text(re.compile(r"furniture-assembly.*pdf.*new.*2 sections"))
            ).to_be_visible()
            editor.get_by_role("button", name="Import and publish").click()
            _success(editor, re.compile(r"piano-tuning.md → piano-tuning: published v1"))
            _success(editor, re.compile(r"furniture-assembly.pdf → furniture-assembly: published v1"))

        with debug.step("a customer gets the PDF's article"):
            answer = _customer_asks(
                customer, app_server.url, "How much does assembly of a wardrobe cost?", first=True
            )
            expect(answer).to_contain_text("45 pounds")
            assert _cited_version(answer, "Furniture assembly") == "1"

        with debug.step("editor edits the Markdown article and publishes"):
            editor.get_by_text("Articles", exact=True).click()
            row = (
                editor.locator('[data-testid="stHorizontalBlock"]')
                .filter(has_text="piano-tuning")
                .filter(has=editor.get_by_role("button", name="Open"))
            )
            row.last.get_by_role("button", name="Open").click()
            body = editor.get_by_label(re.compile(r"^Text \(Markdown"))
            expect(body).to_be_visible(timeout=UI_S * 1000)
            text = body.input_value()
            assert "80 pounds" in text
            body.fill(text.replace("A tuning visit costs 80 pounds and takes about\none hour.", PIANO_EDIT))
            editor.get_by_label("What changed (for the history)").fill("new price list")
            editor.get_by_label("What changed (for the history)").press("Tab")
            editor.get_by_role("button", name="Publish").click()
            _success(editor, "Published version 2")

        with debug.step("the customer is answered from the new version"):
            answer = _customer_asks(customer, app_server.url, "How much does a piano tuning visit cost?")
            expect(answer).to_contain_text("95 pounds")
            assert _cited_version(answer, "Piano tuning visits") == "2"

        with debug.step("editor rolls back to version 1"):
            editor.get_by_role("tab", name="History").click()
            expect(editor.get_by_text("new price list")).to_be_visible(timeout=UI_S * 1000)
            editor.get_by_role("button", name="Roll back to v1").click()
            _success(editor, "Rolled back: version 3 serves the text of v1.")

        with debug.step("the old text is cited again"):
            answer = _customer_asks(customer, app_server.url, "How much does a piano tuning visit cost?")
            expect(answer).to_contain_text("80 pounds")
            expect(answer).not_to_contain_text("95 pounds")
            assert _cited_version(answer, "Piano tuning visits") == "3"
            editor.screenshot(path=str(app_server.artifacts / "studio-after-rollback.png"), full_page=True)
    finally:
        editor_ctx.close()
        customer_ctx.close()
