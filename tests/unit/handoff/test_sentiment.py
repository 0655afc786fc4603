"""Message sentiment with support-language cues, the mood trend, and the sentiment trigger."""

from __future__ import annotations

import pytest

from handoff.reasons import HandoffReason
from handoff.triggers.sentiment import score, sentiment_trigger, trend

VERY_NEGATIVE = -0.6  # the default HANDOFF_SENTIMENT_THRESHOLD
DEFAULTS = {"threshold": -0.6, "floor": -0.3, "drop": 0.5, "window": 4}


@pytest.mark.parametrize(
    "text",
    [
        "worst support ever… refund NOW!!!",
        "This is the third time I've chased this, absolutely useless!!",
        "I'm fed up, nobody ever calls me back and it's been 2 weeks and still nothing",
        "WHERE IS MY PARCEL?? THIS IS A JOKE",
        "Unacceptable. I want my money back NOW",
        "this is ridiculous, still waiting and nobody answers",
    ],
)
def test_real_anger_is_very_negative(text):
    assert score(text) <= VERY_NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "Perfect, just perfect.",
        "oh brilliant, another missed delivery slot",
        "thanks for nothing",
        "yeah right, like that is going to arrive",
        "so helpful... not",
        "I just love waiting on hold all afternoon",
        "wow, fantastic service, 10 days and still no refund",
    ],
)
def test_sarcasm_reads_as_negative_although_the_words_are_positive(text):
    assert score(text) < -0.3


@pytest.mark.parametrize(
    "text",
    [
        "wow, great service, the rug came in two days!",
        "oh great, it arrived early!",
        "Thank you so much, that solved it",
        "Cheers for the quick answer, really helpful!",
    ],
)
def test_genuine_praise_stays_positive(text):
    assert score(text) > 0.3


@pytest.mark.parametrize(
    "text",
    ["no problem at all", "not bad at all", "I'm not unhappy with the chair", "it's not useless, just slow"],
)
def test_negated_negatives_are_not_penalised(text):
    assert score(text) >= 0


@pytest.mark.parametrize(
    "text",
    [
        "The terrible storm damaged our fence and the new gate, can you help?",
        "The awful weather flooded our basement, could you reschedule the delivery?",
        "My elderly mum had a fall and broke her hip, I need to delay the delivery please",
    ],
)
def test_calm_request_about_bad_luck_is_not_anger(text):
    assert score(text) > -0.35
    assert score(text) > score("Your delivery people are useless and nobody answers the phone!!")


def test_mixed_message_lands_between_its_parts():
    mixed = score("I love the armchair but the delivery was a total disaster")
    assert score("the delivery was a total disaster") < mixed < score("I love the armchair")
    assert VERY_NEGATIVE < mixed < 0.3


def test_capitalised_product_names_and_acronyms_are_not_shouting():
    assert score("Do you deliver the LED lamp to the UK?") > -0.1


def test_look_alike_words_are_neutral():
    assert abs(score("Is the smoke grey rug in stock?")) < 0.2


def test_lowercase_now_is_not_a_demand():
    assert score("I'd like to order the oak table now please") > 0


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_neutral(text):
    assert score(text) == 0.0


def test_very_long_message_still_gets_a_bounded_score():
    text = "The sofa is lovely but the legs wobble and I waited ages. " * 900
    assert len(text) > 50_000
    assert -1.0 <= score(text) <= 1.0


def test_scores_stay_within_minus_one_and_one():
    furious = "WORST COMPANY EVER!!! USELESS, A JOKE, I'M FED UP, REFUND NOW OR I'M DONE!!! ridiculous scam"
    assert score(furious) >= -1.0
    assert score("Thank you, thank you, the bed is perfect and the team were wonderful!!") <= 1.0


# trend


@pytest.mark.parametrize("scores", [[], [0.4]])
def test_trend_needs_two_messages(scores):
    assert trend(scores) == "n/a"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([0.5, 0.3, -0.4], "falling"),
        ([-0.7, -0.2, 0.3], "rising"),
        ([-0.3, -0.35, -0.3, -0.32], "steady"),
        ([0.9, 0.9, -0.5, -0.5, -0.5, -0.5], "steady"),  # the fall is older than the window
    ],
)
def test_trend_follows_the_latest_message(scores, expected):
    assert trend(scores, window=4) == expected


# sentiment_trigger


def test_one_very_negative_message_fires():
    fired = sentiment_trigger([0.2, -0.82], **DEFAULTS)
    assert fired is not None
    assert fired.reason is HandoffReason.SENTIMENT
    assert fired.escalate
    assert "-0.82" in fired.evidence
    assert "-0.60" in fired.evidence


def test_falling_from_positive_to_moderately_negative_fires():
    fired = sentiment_trigger([0.4, 0.1, -0.35], **DEFAULTS)
    assert fired is not None
    assert fired.evidence == "sentiment fell from 0.40 to -0.35 over 3 messages"
    assert fired.detail["trend"] == "falling"
    assert fired.detail["scores"] == [0.4, 0.1, -0.35]


def test_steady_mildly_negative_customer_does_not_fire():
    assert sentiment_trigger([-0.35, -0.4, -0.35, -0.4], **DEFAULTS) is None


def test_calm_message_after_an_early_angry_one_does_not_fire():
    assert sentiment_trigger([-0.9, 0.1, 0.2], **DEFAULTS) is None


def test_fall_that_stays_above_the_floor_does_not_fire():
    assert sentiment_trigger([0.9, 0.1], **DEFAULTS) is None


def test_fall_older_than_the_window_does_not_count():
    assert sentiment_trigger([0.8, -0.2, -0.3, -0.35, -0.4], **DEFAULTS) is None


def test_no_messages_no_trigger():
    assert sentiment_trigger([], **DEFAULTS) is None


def test_a_conversation_souring_over_real_messages_fires():
    messages = [
        "Hi, I'd like to check my order status please",
        "Hmm, it was meant to arrive yesterday",
        "this is ridiculous, still waiting and nobody answers",
    ]
    fired = sentiment_trigger([score(m) for m in messages], **DEFAULTS)
    assert fired is not None
    assert fired.detail["trend"] == "falling"
