"""The handoff in the pages (AppTest): the customer's queue banner and the agent's live replies; the
workspace's login and role check, queue, claim, reply and hand back."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from streamlit.testing.v1 import AppTest

from agent.service import ChatService
from core.breakers import HealthRegistry
from tests.ui.pages import PASSWORD, UI, log_in, open_page, own_database, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def page_service(demo_service, settings, monkeypatch) -> Iterator[ChatService]:  # type: ignore[no-untyped-def]
    """The pages' service on its own database, with an agent and a customer account."""
    folder = Path(tempfile.mkdtemp(prefix="handoff-ui-"))
    config = own_database(settings, folder, (("alex", "agent"), ("casey", "customer"), ("root", "admin")))
    kb = demo_service.kb
    previous = kb.health
    health = HealthRegistry()
    kb.attach_health(health)
    service = ChatService(config, kb=kb, health=health, checkpointer=InMemorySaver(), models=[])
    with serving(monkeypatch, service):
        yield service
    kb.attach_health(previous)  # type: ignore[arg-type]


def _workspace() -> AppTest:
    return open_page("workspace.py")


def _customer_page(conversation_id: str, customer_id: str) -> AppTest:
    at = AppTest.from_file(str(UI / "chat.py"), default_timeout=120)
    at.query_params["customer"] = customer_id
    at.query_params["conversation"] = conversation_id
    at.run()
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [h.value for h in at.subheader]
    parts += [e.value for e in at.error] + [i.value for i in at.info] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def _handed_off(svc: ChatService) -> tuple[str, str]:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    conv = svc.start_conversation(customer_id=customer)
    result = svc.send(
        conversation_id=conv, customer_id=customer, text="I want to talk to a real person about my sofa"
    )
    assert result.outcome == "handoff"
    return conv, customer


def test_the_workspace_asks_for_a_login_and_refuses_wrong_passwords_and_customers(page_service):
    at = _workspace()
    assert "Log in" in [b.label for b in at.button]
    assert "Wrong username or password." in _texts(log_in(at, "alex", "not-the-password"))
    assert "for support agents" in _texts(log_in(_workspace(), "casey"))
    assert not any(b.label == "Claim next" for b in at.button)


def test_after_too_many_failed_logins_the_page_asks_to_try_again_later_even_with_the_password(page_service):
    failures = page_service.settings.login_failures_per_15_min
    for n in range(failures):
        assert "Wrong username or password." in _texts(log_in(_workspace(), "alex", f"guess-{n}"))
    at = log_in(_workspace(), "alex")
    assert "Too many failed logins for this username" in _texts(at) and "user" not in at.session_state


def test_a_password_reset_ends_the_workspace_session_and_the_page_asks_for_a_login(page_service):
    from core.db import session_scope
    from core.users import set_password

    svc = page_service
    _handed_off(svc)
    at = log_in(_workspace(), "alex")
    assert "Claim" in [b.label for b in at.button]
    with session_scope(svc.settings.database_url) as s:
        set_password(s, username="alex", password="a-brand-new-passphrase", settings=svc.settings)

    at.run()
    assert not at.exception
    assert "Your login has ended" in _texts(at) and "user" not in at.session_state
    at.run()
    assert "Log in" in [b.label for b in at.button] and "Claim" not in [b.label for b in at.button]
    assert "Claim" in [b.label for b in log_in(at, "alex", "a-brand-new-passphrase").button]


def test_an_agent_sees_the_ticket_claims_replies_and_hands_back(page_service):
    svc = page_service
    conv, customer = _handed_off(svc)
    at = log_in(_workspace(), "alex")
    text = _texts(at)
    assert "asked for a person" in text and "my sofa" in text  # reason and summary in the queue
    assert "first reply due in" in text

    next(b for b in at.button if b.label == "Claim").click().run()
    assert not at.exception
    assert "Ticket #" in _texts(at) and "assigned" in _texts(at)

    at.text_area(key="reply_text").set_value("Hi, I'm Alex. Which sofa is it?")
    next(b for b in at.button if b.label == "Send reply").click().run()
    assert not at.exception
    transcript = svc.transcript(conversation_id=conv, customer_id=customer)
    assert [m.content for m in transcript if m.role == "agent"] == ["Hi, I'm Alex. Which sofa is it?"]

    next(b for b in at.button if b.label == "Hand back to assistant").click().run()
    assert not at.exception
    assert svc.desk.status(conversation_id=conv, customer_id=customer) is None


def test_an_admin_puts_a_ticket_back_in_the_queue_when_its_agent_is_gone(page_service):
    from core.db import session_scope
    from core.users import deactivate

    svc = page_service
    conv, customer = _handed_off(svc)
    alex = svc.authenticate(username="alex", password=PASSWORD)
    [item] = svc.desk.queue(alex)
    svc.desk.claim(alex, item.id)
    with session_scope(svc.settings.database_url) as s:
        deactivate(s, username="alex")
    at = log_in(_workspace(), "root")
    next(b for b in at.button if b.key == f"open-{item.id}").click().run()
    assert not at.exception and "alex is handling this conversation." in _texts(at)
    next(b for b in at.button if b.label == "Put back in the queue").click().run()
    assert not at.exception
    waiting = svc.desk.status(conversation_id=conv, customer_id=customer)
    assert waiting is not None and waiting.state == "waiting"


def test_the_customer_sees_the_queue_then_the_person_and_their_replies(page_service):
    svc = page_service
    conv, customer = _handed_off(svc)
    at = _customer_page(conv, customer)
    assert not at.exception
    assert "Connecting you to a person… You are number 1 in the queue" in _texts(at)

    alex = svc.authenticate(username="alex", password=PASSWORD)
    ticket_id = svc.desk.queue(alex)[0].id
    svc.desk.claim(alex, ticket_id)
    svc.desk.reply(alex, ticket_id, "Hello from Alex")
    at.run()
    text = _texts(at)
    assert "Alex joined the chat" in text and "Alex from our support team is with you." in text
    assert "Hello from Alex" in text

    at.chat_input[0].set_value("It's the grey corner sofa").run()
    assert not at.exception
    assert at.chat_message[-1].name != "assistant"  # the bot stays silent while Alex holds the chat
    stored = svc.transcript(conversation_id=conv, customer_id=customer)
    assert stored[-1].role == "customer" and stored[-1].content == "It's the grey corner sofa"


def test_a_waiting_customer_can_go_back_to_the_assistant(page_service):
    svc = page_service
    conv, customer = _handed_off(svc)
    at = _customer_page(conv, customer)
    next(b for b in at.button if b.label == "Back to the assistant instead").click().run()
    assert not at.exception
    assert "Connecting you to a person" not in _texts(at)
    assert svc.desk.status(conversation_id=conv, customer_id=customer) is None
