"""Curated intents answered without the knowledge base: `agent.intents.curated_intent`."""

from __future__ import annotations

import pytest

from agent.intents import curated_intent


@pytest.mark.parametrize(
    "text", ["hi", "Hello!", "hey there", "Hiya", "howdy", "Good morning", "good evening team", "  Hi!!  "]
)
def test_greetings_are_greetings(text):
    assert curated_intent(text) == "greeting"


@pytest.mark.parametrize(
    "text",
    [
        "thanks",
        "Thank you!",
        "thank you so much",
        "Thanks a lot.",
        "thx",
        "ty",
        "Cheers",
        "great, thanks",
        "perfect thanks",
    ],
)
def test_thanks_are_thanks(text):
    assert curated_intent(text) == "thanks"


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a human",
        "agent please",
        "transfer me to a representative",
        "I spoke to an agent yesterday about my refund",
    ],
)
def test_requests_for_a_person_are_not_intents_but_a_handoff_trigger(text):
    assert curated_intent(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "what are your customer service hours?",
        "how can I contact customer support?",
        "what is your customer support email",
    ],
)
def test_asking_how_to_reach_customer_service_is_the_contact_intent(text):
    assert curated_intent(text) == "contact"


@pytest.mark.parametrize(
    "text",
    [
        "Hi, where is my order?",
        "hello, can you help me with a refund",
        "Good morning, my parcel is late",
    ],
)
def test_a_greeting_that_also_asks_something_is_not_a_greeting(text):
    assert curated_intent(text) is None


def test_thanks_that_also_asks_something_is_not_thanks():
    assert curated_intent("thanks, but where is my refund?") is None


@pytest.mark.parametrize("text", ["", "where is my order?", "How long do refunds take?"])
def test_ordinary_questions_have_no_curated_intent(text):
    assert curated_intent(text) is None
