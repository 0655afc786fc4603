"""Which entity a conversation is about: `knowledge.entities` over a small synthetic hotel/restaurant KB."""

from __future__ import annotations

import itertools

import pytest

from knowledge.entities import EntityCatalog, EntityFocus, Turn, refers_back, strip_name
from knowledge.types import Doc

HOTELS = {
    "THE BRAMBLE HOTEL": "the Bramble Hotel",
    "ACORN GUEST HOUSE": "Acorn Guest House",
    "WORTH HOUSE": "Worth House",
    "KIRKWOOD HOUSE": "Kirkwood House",
    "THE GRANGE HOTEL": "the Grange",
}
RESTAURANTS = {
    "THE LUCKY STAR": "The Lucky Star",
    "PIPASHA": "Pipasha",
    "THE COPPER KETTLE": "The Copper Kettle",
}


def _hotel_reviews(name: str) -> list[str]:
    return [
        f"{name} has spotless rooms and a friendly front desk.",
        f"We stayed at {name} for two nights and breakfast was generous.",
        f"Parking at {name} is free for guests who book direct.",
        f"{name} has wifi in every room and a quiet garden.",
        f"Check-in at {name} starts at 3pm and check-out is at 11am.",
        f"Our room at {name} overlooked the river.",
        f"{name} allows small dogs for a fee of ten pounds.",
        f"Staff at {name} were helpful with booking taxis.",
        f"{name} is a short walk from the railway station.",
        f"Rooms at {name} are a bit small but very clean.",
    ]


def _restaurant_reviews(name: str) -> list[str]:
    return [
        f"{name} serves cantonese dishes and dim sum.",
        f"We had dinner at {name} and the noodles were excellent.",
        f"{name} does not serve alcohol but you can bring your own.",
        f"Booking a table at {name} is recommended on weekends.",
        f"{name} has vegetarian options on the menu.",
        f"Service at {name} was quick and polite.",
        f"{name} is open until 11pm every day.",
        f"Prices at {name} are moderate for the city centre.",
        f"{name} offers takeaway and delivery.",
        f"The dumplings at {name} were the best we had.",
    ]


def _kb() -> list[Doc]:
    docs: list[Doc] = []
    for entity, said in HOTELS.items():
        for i, text in enumerate(_hotel_reviews(said)):
            docs.append(
                Doc(
                    f"{entity}-{i}",
                    text,
                    title=entity.title(),
                    metadata={"entity": entity, "domain": "hotel"},
                )
            )
    for entity, said in RESTAURANTS.items():
        for i, text in enumerate(_restaurant_reviews(said)):
            docs.append(
                Doc(
                    f"{entity}-{i}",
                    text,
                    title=entity.title(),
                    metadata={"entity": entity, "domain": "restaurant"},
                )
            )
    # Generic help articles with no entity: they make the name words rare, hence weighty.
    topics = ["cancel a booking", "change the dates of a stay", "get a refund", "pay by card", "book a taxi"]
    ways = [
        "up to 24 hours before arrival",
        "from the booking page",
        "by calling the front desk",
        "in the app",
    ]
    for i, (topic, way) in enumerate(itertools.product(topics, ways)):
        docs.append(Doc(f"faq-{i}", f"You can {topic} {way}.", title="Help"))
    for i in range(60):
        docs.append(
            Doc(f"guide-{i}", f"Most hotels in the city have a bar and a restaurant. Tip {i}.", title="Guide")
        )
    return docs


@pytest.fixture(scope="module")
def catalog() -> EntityCatalog:
    return EntityCatalog(_kb())


def _named(catalog: EntityCatalog, text: str) -> list[str]:
    return [entity for entity, _ in catalog.mentions(text)]


# --- the catalog ------------------------------------------------------------------------------------


def test_catalog_lists_each_entity_with_its_domain(catalog):
    assert len(catalog) == 8
    assert catalog.domain_of == {
        "THE BRAMBLE HOTEL": "hotel",
        "ACORN GUEST HOUSE": "hotel",
        "WORTH HOUSE": "hotel",
        "KIRKWOOD HOUSE": "hotel",
        "THE GRANGE HOTEL": "hotel",
        "THE LUCKY STAR": "restaurant",
        "PIPASHA": "restaurant",
        "THE COPPER KETTLE": "restaurant",
    }
    assert catalog.domains == {"hotel", "restaurant"}


def test_catalog_without_entity_metadata_is_empty_and_focuses_on_nothing():
    empty = EntityCatalog([Doc("a", "Refunds take five days.")])
    assert len(empty) == 0
    assert empty.focus("Is the Bramble Hotel open?", []) == EntityFocus(None, None, "none")


# --- mentions ---------------------------------------------------------------------------------------


def test_full_name_in_lowercase_is_found(catalog):
    assert _named(catalog, "is the bramble hotel dog friendly?") == ["THE BRAMBLE HOTEL"]


def test_full_name_in_capitals_is_found(catalog):
    assert _named(catalog, "Do they serve alcohol at The Lucky Star?") == ["THE LUCKY STAR"]


def test_distinctive_part_of_a_name_is_enough(catalog):
    assert _named(catalog, "Is the Grange near the station?") == ["THE GRANGE HOTEL"]
    assert _named(catalog, "is kirkwood any good") == ["KIRKWOOD HOUSE"]


def test_a_compound_word_matches_a_name_spelt_apart(catalog):
    assert _named(catalog, "does acorn guesthouse have parking?") == ["ACORN GUEST HOUSE"]
    assert _named(catalog, "Does the Acorn GuestHouse have parking?") == ["ACORN GUEST HOUSE"]


def test_compound_and_spelt_apart_forms_give_the_same_evidence(catalog):
    assert catalog.mentions("does acorn guesthouse have parking?") == catalog.mentions(
        "does acorn guest house have parking?"
    )


def test_a_more_complete_name_gives_stronger_evidence(catalog):
    [(_, partial)] = catalog.mentions("is the bramble nice")
    [(_, full)] = catalog.mentions("is the bramble hotel nice")
    assert full > partial


def test_text_without_names_mentions_nothing(catalog):
    assert catalog.mentions("I'd like to book a table for two") == []
    assert catalog.mentions("") == []


def test_only_common_name_words_mention_nothing(catalog):
    # "the", "hotel" and "house" are in many names or many docs: they name nothing.
    assert catalog.mentions("does the hotel house have a bar") == []


def test_a_star_word_alone_can_name_the_lucky_star(catalog):
    # Control for the next test: on its own, "star" is distinctive enough to name the restaurant.
    assert _named(catalog, "is the star any good") == ["THE LUCKY STAR"]


@pytest.mark.parametrize(
    "text", ["I want a 4 star hotel", "I want a four star hotel", "is there a 5 star place"]
)
def test_a_quantity_noun_is_not_a_name(catalog, text):
    assert "THE LUCKY STAR" not in _named(catalog, text)


def test_a_capitalised_one_word_mention_counts_in_capitalised_text(catalog):
    # Control for the next test: capitalised, "Worth" alone names Worth House.
    assert _named(catalog, "We are in Cambridge this weekend. Is Worth any good?") == ["WORTH HOUSE"]


def test_a_lowercase_common_word_in_capitalised_text_is_not_a_name(catalog):
    assert catalog.mentions("We are in Cambridge this weekend. Is it worth it?") == []


def test_a_lowercase_common_word_in_a_sentence_case_question_is_not_a_name(catalog):
    assert catalog.mentions("Is it worth it?") == []


# --- domain words -----------------------------------------------------------------------------------


def test_domain_words_are_recognised(catalog):
    assert catalog.domain_in("Does the restaurant serve alcohol?") == "restaurant"
    assert catalog.domain_in("does the hotel have parking") == "hotel"
    assert catalog.domain_in("what time is breakfast") is None


def test_a_word_that_only_hotel_names_hold_names_the_hotel_domain(catalog):
    # "house" is in three names, all hotels.
    assert catalog.domain_in("is the house quiet") == "hotel"


# --- focus ------------------------------------------------------------------------------------------

LUCKY_THEN_BRAMBLE = [
    Turn("customer", "What does the Lucky Star serve?"),
    Turn("agent", "The Lucky Star serves dim sum."),
    Turn("customer", "Is the Bramble Hotel near it?"),
    Turn("agent", "Yes, the Bramble Hotel is next door."),
]


def test_focus_prefers_the_entity_named_in_the_query(catalog):
    focus = catalog.focus("What about Worth House?", LUCKY_THEN_BRAMBLE)
    assert (focus.entity, focus.domain, focus.source) == ("WORTH HOUSE", "hotel", "query")


def test_focus_falls_back_to_the_most_recent_entity_in_history(catalog):
    focus = catalog.focus("does it have parking?", LUCKY_THEN_BRAMBLE)
    assert (focus.entity, focus.domain, focus.source) == ("THE BRAMBLE HOTEL", "hotel", "history")


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (
            [Turn("customer", "Tell me about Worth House"), Turn("agent", "The Bramble Hotel is nearby.")],
            "THE BRAMBLE HOTEL",
        ),
        (
            [Turn("customer", "Tell me about the Bramble Hotel"), Turn("agent", "Worth House is nearby.")],
            "WORTH HOUSE",
        ),
    ],
)
def test_the_later_of_two_history_mentions_wins(catalog, history, expected):
    assert catalog.focus("does it have parking?", history).entity == expected


def test_a_domain_word_in_the_query_picks_the_latest_entity_of_that_domain(catalog):
    focus = catalog.focus("Does the restaurant serve alcohol?", LUCKY_THEN_BRAMBLE)
    assert (focus.entity, focus.domain, focus.source) == ("THE LUCKY STAR", "restaurant", "history")


def test_a_domain_word_with_no_entity_of_that_domain_in_history_keeps_the_latest_entity(catalog):
    history = [Turn("customer", "Is the Bramble Hotel open?")]
    assert catalog.focus("Does the restaurant serve alcohol?", history).entity == "THE BRAMBLE HOTEL"


def test_a_quantity_look_alike_does_not_move_the_focus(catalog):
    history = [Turn("customer", "Tell me about The Bramble Hotel")]
    assert catalog.focus("I want a 4 star hotel", history).entity == "THE BRAMBLE HOTEL"


def test_an_idiom_that_looks_like_a_name_does_not_move_the_focus(catalog):
    history = [
        Turn("customer", "Tell me about the Bramble Hotel"),
        Turn("agent", "The Bramble Hotel has a spa."),
    ]
    assert catalog.focus("Is it worth it?", history).entity == "THE BRAMBLE HOTEL"


def test_no_names_anywhere_gives_no_entity(catalog):
    assert catalog.focus("what time is breakfast?", []) == EntityFocus(None, None, "none")


def test_no_names_but_a_domain_word_reports_the_domain(catalog):
    assert catalog.focus("does the hotel have parking?", []) == EntityFocus(None, "hotel", "domain")


# --- strip_name -------------------------------------------------------------------------------------


def test_strip_name_removes_the_name_words():
    assert strip_name("does the bramble hotel have parking", "THE BRAMBLE HOTEL") == "does the have parking"


def test_strip_name_is_case_insensitive_and_keeps_the_rest_verbatim():
    assert strip_name("Does ACORN GUEST HOUSE have a lift?", "ACORN GUEST HOUSE") == "Does have a lift?"


def test_strip_name_keeps_the_query_when_too_little_would_remain():
    assert strip_name("bramble hotel", "THE BRAMBLE HOTEL") == "bramble hotel"
    assert strip_name("bramble hotel parking", "THE BRAMBLE HOTEL") == "bramble hotel parking"


def test_strip_name_only_removes_whole_words():
    assert strip_name("is the starter menu vegan", "THE LUCKY STAR") == "is the starter menu vegan"


# --- refers_back ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "is it refundable?",
        "what about that one",
        "do they take cards",
        "Is the place quiet?",
        "opening hours",
    ],
)
def test_queries_that_lean_on_earlier_turns_refer_back(query):
    assert refers_back(query) is True


@pytest.mark.parametrize(
    "query",
    ["what are the opening hours on sunday?", "does the hotel serve breakfast on sunday mornings"],
)
def test_self_contained_queries_do_not_refer_back(query):
    assert refers_back(query) is False
