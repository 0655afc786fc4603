"""The human handoff end to end in a real browser: a customer and an agent, each in their own browser
context, against a real `streamlit run` server (Minimal mode: cited quotes from the demo help center)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from core.users import DEMO_USERS
from tests.browser.conftest import AppServer

# Imported lazily at run time: without playwright the `browser` fixture skips (or fails under CI).
if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

FIRST_ANSWER_S = 90  # the first turn loads the embedding model in the server
ANSWER_S = 45
POLL_S = 20  # the customer's page polls every 2 s while a person holds the chat
UI_S = 20

CHAT_INPUT = '[data-testid="stChatInputTextArea"]'
CHAT_MESSAGE = '[data-testid="stChatMessage"]'
AGENT_REPLY = "Hi, I'm Alex. I can see your order BW-123456; let me check the return for you."


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


class Debug:
    """Screenshots and page excerpts when a wait fails, so a red CI run says what the pages showed."""

    def __init__(self, server: AppServer, pages: dict[str, Page]) -> None:
        self.server = server
        self.pages = pages

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        from playwright.sync_api import Error as PlaywrightError

        try:
            yield
        except (AssertionError, PlaywrightError):
            self.dump(name)
            raise

    def dump(self, step: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        for who, page in self.pages.items():
            if page.url == "about:blank":
                continue
            shot = self.server.artifacts / f"{slug}-{who}.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
                text = page.locator("body").inner_text(timeout=2000)
                html = page.content()
            except (PlaywrightError, OSError) as exc:  # a crashed page must not hide the original failure
                print(f"[{step}] {who}: could not capture the page ({exc})")
                continue
            print(f"[{step}] {who} at {page.url}\n  screenshot: {shot}")
            print(f"  visible text (last 3000 chars):\n{text[-3000:]}")
            print(f"  HTML (last 2000 chars):\n{html[-2000:]}")


def _expect_page(page: Page, title: str, *, timeout_s: float) -> None:
    """Wait for the page's title, or fail at once with the traceback Streamlit shows if the script raised."""
    heading = page.get_by_role("heading", name=title)
    crashed = page.locator('[data-testid="stException"]')
    _expect()(heading.or_(crashed).first).to_be_visible(timeout=timeout_s * 1000)
    if crashed.count():
        pytest.fail(f"the page raised:\n{crashed.first.inner_text()}")


def _expect_final(message: Locator, *, timeout_s: float) -> None:
    """Wait until a bot message is the stored answer: words, not the "…" placeholder nor a streaming "▌".

    While Streamlit re-renders the page with the stored reply, the streamed bubble can still be on it for a
    moment beside the new one (a stale element): the last one is the answer, and the count settles after."""
    final = message.last
    _expect()(final).to_contain_text(re.compile(r"\w+ \w+ \w+"), timeout=timeout_s * 1000)
    _expect()(final).not_to_contain_text("▌", timeout=timeout_s * 1000)


def _ask(page: Page, text: str) -> None:
    box = page.locator(CHAT_INPUT)
    _expect()(box).to_be_editable(timeout=UI_S * 1000)
    box.fill(text)
    box.press("Enter")


def _assistant_messages(page: Page) -> Locator:
    return page.locator(CHAT_MESSAGE).filter(has=page.locator('[data-testid="stChatMessageAvatarAssistant"]'))


def _sources(page: Page) -> Locator:
    return page.locator(CHAT_MESSAGE).get_by_text(re.compile(r"^Sources:"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_customer_is_handed_to_alex_who_replies_live_and_hands_back_to_the_bot(
    browser: Browser, app_server: AppServer
) -> None:
    expect = _expect()
    alex = next(u for u in DEMO_USERS if u.username == "alex")
    customer_ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        customer, agent = customer_ctx.new_page(), agent_ctx.new_page()
        debug = Debug(app_server, {"customer": customer, "agent": agent})

        with debug.step("customer asks a question"):
            customer.goto(app_server.url + "/")
            _expect_page(customer, "How can we help?", timeout_s=FIRST_ANSWER_S)
            _ask(customer, "How do I return an item?")
            expect(customer.locator(CHAT_MESSAGE).get_by_text("How do I return an item?")).to_be_visible(
                timeout=UI_S * 1000
            )
            # The service loads the embedding model when it starts, so even the first answer is cited.
            answer = _assistant_messages(customer)
            expect(answer).to_have_count(1, timeout=FIRST_ANSWER_S * 1000)
            _expect_final(answer, timeout_s=FIRST_ANSWER_S)
            expect(answer).to_have_count(1, timeout=UI_S * 1000)  # one answer, once the re-render settles
            expect(answer.get_by_text(re.compile(r"^Sources:"))).to_be_visible()

        with debug.step("customer asks for a person"):
            _ask(customer, "I want to talk to a real person")
            expect(
                _assistant_messages(customer).filter(has_text=re.compile("connecting you", re.I))
            ).to_have_count(1, timeout=ANSWER_S * 1000)
            expect(
                customer.get_by_text(re.compile(r"Connecting you to a person… You are number 1 in the queue"))
            ).to_be_visible(timeout=UI_S * 1000)
            expect(customer.get_by_placeholder("Write to our support team…")).to_be_visible()

        with debug.step("agent logs in and claims the ticket"):
            agent.goto(app_server.url + "/agent")
            _expect_page(agent, "Agent workspace", timeout_s=UI_S)
            agent.get_by_label("Username").fill(alex.username)
            agent.get_by_label("Password", exact=True).fill(alex.password)  # not "Show password"
            agent.get_by_role("button", name="Log in").click()
            expect(agent.get_by_text(f"Logged in as {alex.display_name}")).to_be_visible(timeout=UI_S * 1000)
            claim = agent.get_by_role("button", name="Claim", exact=True)
            # The innermost block holding both the summary and its Claim button is the ticket's card.
            ticket = (
                agent.locator('[data-testid="stVerticalBlock"]')
                .filter(has_text="real person")  # the summary says what the customer asked
                .filter(has=claim)
                .last
            )
            expect(ticket).to_be_visible(timeout=UI_S * 1000)
            expect(ticket).to_contain_text("waiting")
            ticket.get_by_role("button", name="Claim", exact=True).click()
            heading = agent.get_by_role("heading", name=re.compile(r"Ticket #\d+ · assigned · alex"))
            expect(heading).to_be_visible(timeout=UI_S * 1000)

        with debug.step("customer sees Alex join"):
            expect(customer.get_by_text("Alex joined the chat")).to_be_visible(timeout=POLL_S * 1000)
            expect(customer.get_by_text("Alex from our support team is with you")).to_be_visible(
                timeout=POLL_S * 1000
            )

        with debug.step("agent replies live"):
            agent.get_by_label("Reply to the customer").fill(AGENT_REPLY)
            agent.get_by_role("button", name="Send reply").click()
            expect(agent.locator(CHAT_MESSAGE).get_by_text(AGENT_REPLY)).to_be_visible(timeout=UI_S * 1000)
            expect(agent.get_by_label("Reply to the customer")).to_have_value("")  # the form was cleared
            expect(customer.locator(CHAT_MESSAGE).get_by_text(AGENT_REPLY)).to_be_visible(
                timeout=POLL_S * 1000
            )

        with debug.step("agent hands back to the assistant"):
            agent.get_by_role("button", name="Hand back to assistant").click()
            expect(agent.get_by_role("heading", name="Queue")).to_be_visible(timeout=UI_S * 1000)
            expect(customer.get_by_text("Alex handed the conversation back to the assistant")).to_be_visible(
                timeout=POLL_S * 1000
            )
            expect(customer.get_by_text("Alex from our support team is with you")).to_have_count(0)
            bot_hint = customer.get_by_placeholder("Ask about orders, shipping, returns, billing…")
            expect(bot_hint).to_be_visible(timeout=UI_S * 1000)

        with debug.step("the bot answers again"):
            answered, cited = _assistant_messages(customer).count(), _sources(customer).count()
            _ask(customer, "How long do refunds take?")
            expect(_assistant_messages(customer)).to_have_count(answered + 1, timeout=ANSWER_S * 1000)
            expect(_sources(customer)).to_have_count(cited + 1, timeout=ANSWER_S * 1000)
            last = _assistant_messages(customer).last
            _expect_final(last, timeout_s=ANSWER_S)
            expect(last.get_by_text(re.compile(r"^Sources:"))).to_be_visible()
            expect(last).to_contain_text(re.compile(r"refund", re.I))
    finally:
        customer_ctx.close()
        agent_ctx.close()
