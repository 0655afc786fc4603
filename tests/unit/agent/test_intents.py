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
        "I want to speak to a real person",
        "agent please",
        "Agent",
        "human",
        "transfer me to a representative",
        "Please connect me with someone from support",
        "put me through to a manager",
        "I need a live agent",
        "real person please",
        "Can I chat with a member of staff?",
    ],
)
def test_explicit_requests_for_a_person_are_human(text):
    assert curated_intent(text) == "human"


@pytest.mark.parametrize(
    "text",
    [
        "I work in human resources, how do I update my billing address?",
        "Can I speak to human resources?",
        "Is a person allowed to return two items?",
        "my agent number is 5",
        "I spoke to an agent yesterday about my refund",
        "My travel agent booked this order",
    ],
)
def test_look_alikes_of_a_request_for_a_person_are_not_human(text):
    assert curated_intent(text) is None


def test_asking_whether_a_gift_card_can_be_transferred_to_another_person_is_not_human():
    assert curated_intent("Can I transfer my gift card to another person?") is None


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


def test_a_greeting_with_a_request_for_a_person_is_human():
    assert curated_intent("Hi, can I talk to a human?") == "human"


@pytest.mark.parametrize("text", ["", "where is my order?", "How long do refunds take?"])
def test_ordinary_questions_have_no_curated_intent(text):
    assert curated_intent(text) is None
