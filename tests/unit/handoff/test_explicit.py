"""The explicit-request trigger and the customer-service channel: `handoff.triggers.explicit`."""

from __future__ import annotations

import time

import pytest

from handoff.reasons import HandoffReason
from handoff.triggers.explicit import contact_channel_request, explicit_request

ASKS_FOR_A_PERSON = [
    # a verb of talking or reaching + a person
    "Can I speak to a human, please?",
    "how would I go about chatting with a live agent",
    "what do I do to get in touch with a real person?",
    "Could I possibly talk to your supervisor",
    "is there a way to reach an operator",
    "I'd like a word with the duty manager",
    "could I chat to a member of staff?",
    # routing
    "put me through to a representative",
    "please transfer this call to the loans team",
    "connect me with the front desk",
    "escalate this to a supervisor now",
    # wanting someone who can only be a person
    "I need an actual human",
    "just get me a person who can help",
    "find me somebody who knows what they are doing",
    "Can I have a manager call me back?",
    # preferences and distrust of machines
    "honestly I'd prefer to deal with a real person on this one",
    "for something this big I would rather speak with an adviser",
    "I'm not comfortable giving my card number to a robot",
    "I'm fed up with chatting to a bot",
    "I'd like the fee waived by a human",
    # ellipsis
    "Human!",
    "operator",
    "real person pls",
    "live agent now",
    "Housekeeping team please",
    "someone else please",
    # a request after a negated clause, mixed messages, sarcasm
    "no, I don't want to change the booking, I want to speak to somebody",
    "The app is lovely but I still want to talk to a human",
    "oh brilliant, the chatbot understood nothing again. put me through to a person.",
    "I want customer service, a real person not a bot",
    "is there anyone I could talk to?",
    # casing, punctuation, typos, chat spelling
    "CAN I TALK TO SOMEONE",
    "i wanna tlak to a humna",
    "speek to an opperator",
    "let me chat wiht a represntative",
    "get me an agnet!!!",
    "can u connect me w/ a human",
    "talk to asn operator",
    "let me talk to somebody a bit more intelligent",
]

LOOK_ALIKES = [
    "Is human resources open on Saturdays?",
    "can a person under 18 open an account?",
    "Can somebody else collect my prescription?",
    "the representative I dealt with last week was really rude",
    "I was speaking to an agent earlier and the line dropped",
    "I really don't want to talk to a person about this",
    "there's no need for an operator",
    "please don't transfer me to anyone",
    "I'd like to move money to my other account",
    "transfer 200 euros into my savings",
    "Talking to the bot is fine by me",
    "do you speak German?",
    "has somebody handed in a blue umbrella?",
    "when does the housekeeping staff clean the rooms",
    "does someone have to be home for the delivery",
    "our travel agent made the reservation",
    "my browser's user agent is out of date",
    "am I talking to a real person?",
    "thanks for connecting me to the agent earlier",
    "Can I give someone else access to my account?",
    "I'd like to book a spa treatment",
    "what time does the gym open?",
    "Can I get room service after midnight?",
    "Who is the manager of this branch?",
    "the agent's reference number is on the letter",
    "I want to send money to someone abroad",
]

CHANNEL_QUESTIONS = [
    "may I talk with your customer service?",
    "when can I ring customer support",
    "what is the email address for customer care?",
    "help me reach customer service",
    "custmer suport phone number",
    "do you have a toll-free customer assistance line?",
]


@pytest.mark.parametrize("text", ASKS_FOR_A_PERSON)
def test_a_request_for_a_person_fires_with_the_phrase_as_evidence(text):
    fired = explicit_request(text)
    assert fired is not None
    assert fired.reason is HandoffReason.EXPLICIT_REQUEST and fired.escalate
    assert fired.evidence and fired.evidence in text


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_a_look_alike_does_not_fire(text):
    assert explicit_request(text) is None


@pytest.mark.parametrize("text", CHANNEL_QUESTIONS)
def test_asking_for_the_customer_service_channel_is_not_a_request_for_a_person(text):
    assert explicit_request(text) is None
    assert contact_channel_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "can I talk to a human",
        "agent please",
        "I want customer service, a real person not a bot",
        "customer service was slow to reply",
        "where is my order?",
        "",
    ],
)
def test_other_messages_are_not_channel_questions(text):
    assert not contact_channel_request(text)


def test_evidence_is_the_original_text_even_when_a_typo_was_folded():
    fired = explicit_request("Please can I speak to a livbe agent?")
    assert fired is not None and fired.evidence == "speak to a livbe agent"


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "!!!", "..."])
def test_empty_or_blank_text_does_not_fire(text):
    assert explicit_request(text) is None
    assert not contact_channel_request(text)


def test_very_long_text_is_read_quickly():
    filler = "my parcel was supposed to arrive on tuesday and it still has not come, "
    long_text = (filler * (50_000 // len(filler) + 1))[:50_000]
    started = time.perf_counter()
    assert explicit_request(long_text) is None
    assert explicit_request(long_text + " let me talk to a human") is not None
    assert time.perf_counter() - started < 2.0


def test_a_single_unpunctuated_50000_character_message_is_read_quickly():
    long_text = ("talk to the the agent agent " * 2000)[:50_000]
    started = time.perf_counter()
    explicit_request(long_text)
    contact_channel_request(long_text)
    assert time.perf_counter() - started < 2.0
