"""The chat page on each rung: the mode and why, fault injection (dev), the Offline contact form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from langgraph.checkpoint.memory import InMemorySaver
from streamlit.testing.v1 import AppTest

import agent.runtime
from agent.llm import ModelSlot
from agent.service import ChatService
from core.breakers import HealthRegistry
from core.chaos import ChaosController, FaultSpec
from evals.scripted import ScriptedChatModel, grounded_answer

pytestmark = pytest.mark.slow

CHAT = str(Path(__file__).resolve().parents[2] / "app" / "ui" / "chat.py")


@pytest.fixture
def page_service(demo_service, settings, monkeypatch, tmp_path) -> Iterator[ChatService]:  # type: ignore[no-untyped-def]
    """The page's service swapped for one with a scripted model and a chaos controller."""
    chaos = ChaosController(seed=3)
    health = HealthRegistry(failure_threshold=1, cooldown_s=300, chaos=chaos)
    kb = demo_service.kb
    previous = kb.health
    kb.attach_health(health)
    model = ScriptedChatModel(responder=grounded_answer)
    fallback = ScriptedChatModel(responder=grounded_answer)
    service = ChatService(
        settings.model_copy(update={"llm_backoff_s": 0.01, "llm_max_retries": 0, "data_dir": tmp_path}),
        kb=kb,
        health=health,
        checkpointer=InMemorySaver(),
        models=[ModelSlot("scripted:primary", model), ModelSlot("scripted:fallback", fallback)],
    )
    monkeypatch.setattr(agent.runtime, "_service", service)
    st.cache_resource.clear()
    yield service
    chaos.clear()
    kb.attach_health(previous)  # type: ignore[arg-type]
    st.cache_resource.clear()


def _run() -> AppTest:
    at = AppTest.from_file(CHAT, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_full_mode_shows_its_badge_and_reason_and_a_generated_cited_answer(page_service):
    at = _run()
    assert any("Full mode" in m.value for m in at.markdown)
    assert any("all dependencies healthy" in c for c in _captions(at))
    at.chat_input[0].set_value("How long do I have to return an item?").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert any(c.startswith("Sources:") for c in _captions(at))
    assert not any("Answered in" in c for c in _captions(at))  # Full-mode replies carry no rung note


def test_fault_injection_panel_drops_the_next_answer_to_degraded(page_service):
    at = _run()
    assert any(e.label == "Fault injection (dev)" for e in at.expander)
    at.selectbox(key="chaos_target").set_value("llm:scripted:primary").run()
    at.slider[0].set_value(1.0)  # server errors
    at.button[[b.label for b in at.button].index("Apply")].click().run()
    assert "llm:scripted:primary" in page_service.health.chaos.specs()  # type: ignore[union-attr]
    at.chat_input[0].set_value("How do I reset my password?").run()
    assert not at.exception
    assert any("Answered in Degraded mode" in c for c in _captions(at))
    assert any("Degraded mode" in m.value for m in at.markdown)


def test_offline_page_offers_the_contact_form_and_validates_it(page_service):
    page_service.health.chaos.set("database", FaultSpec(error_rate=1.0))  # type: ignore[union-attr]
    at = _run()
    assert any("Offline mode" in m.value for m in at.markdown)
    assert any("database unavailable" in c for c in _captions(at))
    at.chat_input[0].set_value("Where is my parcel?").run()
    assert "offline" in " ".join(str(getattr(c, "value", "")) for c in at.chat_message[-1].children.values())
    at.text_input(key="contact_value").set_value("not a contact")
    at.button[[b.label for b in at.button].index("Send my details")].click().run()
    assert any("email address" in e.value for e in at.error)
    at.text_input(key="contact_value").set_value("kim@example.com")
    at.button[[b.label for b in at.button].index("Send my details")].click().run()
    assert any("get back to you" in s.value for s in at.success)
    assert any(e.get("contact") == "kim@example.com" for e in page_service.spool.pending())


def test_production_page_hides_health_details_and_fault_injection(page_service, monkeypatch):
    monkeypatch.setattr(page_service, "settings", page_service.settings.model_copy(update={"env": "prod"}))
    at = _run()
    labels = [e.label for e in at.expander]
    assert "Fault injection (dev)" not in labels and "Service health" not in labels
    assert any("Full mode" in m.value for m in at.markdown)
    assert not any("all dependencies healthy" in c for c in _captions(at))
