"""High-risk topics that always go to a person: `handoff.triggers.topics.risky_topic`."""

from __future__ import annotations

import pytest

from core.policy import load_policy
from handoff.reasons import HandoffReason
from handoff.triggers.topics import TOPICS, risky_topic

ALL = list(TOPICS)


def topic_of(text: str, enabled: list[str] = ALL) -> str | None:
    fired = risky_topic(text, enabled=enabled)
    return None if fired is None else fired.detail["topic"]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        # legal threats
        ("If the refund isn't here by Friday I will take legal action", "legal_threat"),
        ("I'm going to sue you for the damage to my floor", "legal_threat"),
        ("Expect to hear from my solicitor about this wardrobe", "legal_threat"),
        ("I'm passing this to my lawyer today", "legal_threat"),
        ("I'll be reporting you to Trading Standards", "legal_threat"),
        ("I'll take you to small claims court over this mattress", "legal_threat"),
        ("I've written to the ombudsman", "legal_threat"),
        # bereavement
        ("My husband passed away in March and the account is in his name", "bereavement"),
        ("My dad died last week, can I cancel his order?", "bereavement"),
        ("We need the chairs before the funeral on Thursday", "bereavement"),
        ("Since the death of my wife I can't manage the stairs lift order", "bereavement"),
        ("I'm the executor of my aunt's estate", "bereavement"),
        # fraud
        ("There are two charges on my card I didn't make", "fraud"),
        ("I can see an unauthorized payment to Brightwell on my statement", "fraud"),
        ("My credit card was stolen and someone bought a sofa with it", "fraud"),
        ("Is this email a scam? It says my parcel is held and asks for my card number", "fraud"),
        ("I got a text claiming to be from you, I think it's phishing", "fraud"),
        # account takeover
        ("Someone logged into my account and changed the delivery address", "account_takeover"),
        ("I think my account has been hacked", "account_takeover"),
        ("My password was changed without me doing anything", "account_takeover"),
        ("I'm locked out and the email on my account has been changed", "account_takeover"),
        # self-harm
        ("Honestly I want to end it all", "self_harm"),
        ("I've been thinking about killing myself", "self_harm"),
        ("Some days I want to hurt myself", "self_harm"),
        ("I feel suicidal", "self_harm"),
        # safety
        ("The lamp started smoking and then there were sparks", "safety"),
        ("There's a burning smell coming from the heater", "safety"),
        ("The kettle gave my son an electric shock", "safety"),
        ("I can smell gas since the new hob was fitted", "safety"),
        ("The bookcase tipped over onto my daughter", "safety"),
        ("My toddler choked on a button from the cushion", "safety"),
        ("Is there a recall on the Oslo high chair?", "safety"),
        ("The charger caught fire overnight", "safety"),
        ("I hurt myself on the broken chair leg", "safety"),
        ("These magnets are a choking hazard", "safety"),
    ],
)
def test_risky_topics_are_recognised(text, topic):
    assert topic_of(text) == topic


@pytest.mark.parametrize(
    "text",
    [
        # legal look-alikes
        "My lawyer friend recommended your sofas",
        "What's the court date for my delivery? I mean the delivery date",
        "I spoke to Sue on the phone yesterday about the rug",
        "Do you have a tennis court cover?",
        # bereavement look-alikes
        "The battery in the remote is dead",
        "My phone died halfway through checkout",
        "The plant I bought died after a week",
        "What's the deadline for returns?",
        "My son passed his driving test so we need a desk for his new flat",
        "I lost my husband's order number",
        # fraud look-alikes
        "I was charged twice for the same order",
        "Your delivery fee is a scam",
        # account look-alikes
        "I forgot my password and I'm locked out",
        "Any life hacks for cleaning velvet?",
        # self-harm idioms
        "This wait is killing me",
        "I'm dying to see the new sofa in my living room",
        # safety look-alikes
        "Do you have the fireplace screen in smoke grey?",
        "The shock of the price made me laugh",
        "Do you sell fire pits?",
        "Does the electric fire come with a remote?",
        "We're a non smoking household, is the sofa pet friendly?",
        "I love the smoked oak finish",
        "I don't recall ordering this",
        "The sparkling wine glasses arrived safely",
        # human resources is someone else's concern, and not a risk
        "I work in human resources and need an invoice",
    ],
)
def test_look_alikes_and_idioms_are_not_risky(text):
    assert topic_of(text) is None


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_not_risky(text):
    assert risky_topic(text, enabled=ALL) is None


def test_evidence_is_the_phrase_that_matched():
    fired = risky_topic("Hi, the toaster caught fire this morning.", enabled=ALL)
    assert fired is not None
    assert fired.reason is HandoffReason.RISKY_TOPIC
    assert fired.escalate
    assert fired.evidence == "caught fire"
    assert fired.detail == {"topic": "safety", "severity": TOPICS["safety"].severity}


def test_most_severe_topic_wins():
    text = "The lamp gave my son an electric shock and I'm going to sue you"
    assert topic_of(text) == "safety"
    assert topic_of("I'm going to sue you and honestly I want to end it all") == "self_harm"


def test_self_harm_and_safety_outrank_every_other_topic():
    others = [t.severity for name, t in TOPICS.items() if name not in {"self_harm", "safety"}]
    assert TOPICS["self_harm"].severity > TOPICS["safety"].severity > max(others)


def test_disabled_topics_are_not_reported():
    text = "The lamp gave my son an electric shock and I'm going to sue you"
    assert topic_of(text, enabled=["legal_threat"]) == "legal_threat"
    assert topic_of(text, enabled=["fraud", "bereavement"]) is None
    assert risky_topic(text, enabled=[]) is None


def test_unknown_topic_name_is_a_loud_error():
    with pytest.raises(ValueError, match="legal") as raised:
        risky_topic("anything", enabled=["legal", "fraud"])
    assert "legal_threat" in str(raised.value)  # names the known topics


def test_every_topic_the_demo_policy_hands_off_is_a_known_topic():
    assert set(load_policy().risk.handoff_topics) <= set(TOPICS)
    assert {"legal_threat", "bereavement", "fraud", "account_takeover", "self_harm", "safety"} <= set(TOPICS)


def test_typographic_apostrophes_match():
    assert topic_of("There are charges on my card I didn’t make") == "fraud"


def test_risk_at_the_end_of_a_very_long_message_is_found():
    text = "I ordered a lamp for the hallway and it is nice. " * 1100 + "But last night it caught fire."
    assert len(text) > 50_000
    assert topic_of(text) == "safety"
    assert topic_of("I ordered a lamp for the hallway and it is nice. " * 1100) is None
