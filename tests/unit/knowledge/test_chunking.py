"""Markdown articles: `knowledge.chunking.parse_markdown` and `chunk_article`."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from knowledge.chunking import ArticleFormatError, ParsedArticle, chunk_article, parse_markdown

ARTICLE = """---
title: Returning an item
category: returns
updated: 2026-09-14
tags: [returns, refunds]
owner: support-ops
---

Brightwell accepts most items back within 30 days of delivery.

## Start a return

Open the order and choose Return items.

### Drop-off points

Take the parcel to any Parcel Point.

## Refunds

Refunds go back to the original payment method.
"""


def _article(body: str, slug: str = "returns") -> ParsedArticle:
    return ParsedArticle(slug=slug, title="T", category="general", updated="", tags=[], body=body)


def _ids_by_anchor(body: str) -> dict[str, str]:
    return {c.anchor: c.chunk_id for c in chunk_article(_article(body))}


# --- parse_markdown ---------------------------------------------------------------------------------


def test_front_matter_fields_are_read():
    article = parse_markdown(ARTICLE, slug="returning-an-item")
    assert article.slug == "returning-an-item"
    assert article.title == "Returning an item"
    assert article.category == "returns"
    assert article.updated == "2026-09-14"
    assert article.tags == ["returns", "refunds"]


def test_unknown_front_matter_keys_are_kept_as_extra():
    assert parse_markdown(ARTICLE, slug="a").extra == {"owner": "support-ops"}


def test_body_excludes_the_front_matter_and_is_stripped():
    body = parse_markdown(ARTICLE, slug="a").body
    assert body.startswith("Brightwell accepts most items back")
    assert body.endswith("original payment method.")
    assert "category:" not in body


def test_missing_category_defaults_to_general_and_missing_fields_to_empty():
    article = parse_markdown("---\ntitle: Hello\n---\nBody text.\n", slug="a")
    assert article.category == "general"
    assert article.updated == ""
    assert article.tags == []
    assert article.extra == {}


def test_missing_title_falls_back_to_the_first_level_one_heading():
    article = parse_markdown(
        "---\ncategory: billing\n---\n## Not this\n# Paying by card\n\nText.\n", slug="a"
    )
    assert article.title == "Paying by card"
    assert article.category == "billing"


def test_article_without_front_matter_takes_its_title_from_the_heading():
    article = parse_markdown("# Paying by card #\n\nWe accept Visa.\n", slug="cards")
    assert article.title == "Paying by card"
    assert article.body == "# Paying by card #\n\nWe accept Visa."


def test_blank_title_in_front_matter_falls_back_to_the_heading():
    assert parse_markdown('---\ntitle: "  "\n---\n# From the heading\n', slug="a").title == "From the heading"


def test_front_matter_title_wins_over_the_heading():
    assert parse_markdown("---\ntitle: Front\n---\n# Heading\n", slug="a").title == "Front"


@pytest.mark.parametrize(
    "source",
    [
        "Just some text with no heading.\n",
        "---\ncategory: billing\n---\nText only.\n",
        "## A second-level heading is not a title\n\nText.\n",
    ],
)
def test_article_without_any_title_is_rejected_with_a_message_naming_the_fix(source):
    with pytest.raises(ArticleFormatError) as err:
        parse_markdown(source, slug="no-title")
    assert str(err.value) == "no-title: no title (set `title:` in the front matter)"


def test_invalid_yaml_front_matter_is_an_article_format_error_naming_the_article():
    with pytest.raises(ArticleFormatError, match=r"^broken: front matter is not valid YAML \("):
        parse_markdown("---\ntitle: [unclosed\n---\n# T\n", slug="broken")


def test_front_matter_that_is_not_a_mapping_is_rejected():
    with pytest.raises(
        ArticleFormatError, match=r"^listy: front matter must be a mapping of keys to values$"
    ):
        parse_markdown("---\n- a\n- b\n---\n# T\n", slug="listy")


def test_article_format_error_is_a_value_error():
    assert issubclass(ArticleFormatError, ValueError)


def test_tags_given_as_a_comma_separated_string_are_split_and_trimmed():
    article = parse_markdown("---\ntitle: T\ntags: refunds,  gift card ,, store credit\n---\n", slug="a")
    assert article.tags == ["refunds", "gift card", "store credit"]


def test_tags_given_as_a_list_become_strings():
    article = parse_markdown("---\ntitle: T\ntags: [refunds, 2026, true]\n---\n", slug="a")
    assert article.tags == ["refunds", "2026", "True"]


def test_updated_date_becomes_iso_text():
    assert parse_markdown("---\ntitle: T\nupdated: 2026-01-02\n---\n", slug="a").updated == "2026-01-02"


def test_updated_datetime_becomes_iso_text():
    article = parse_markdown("---\ntitle: T\nupdated: 2026-01-02 10:30:00\n---\n", slug="a")
    assert article.updated == dt.datetime(2026, 1, 2, 10, 30).isoformat()


def test_updated_given_as_text_is_kept_as_text():
    assert parse_markdown("---\ntitle: T\nupdated: last week\n---\n", slug="a").updated == "last week"


# --- chunk_article ----------------------------------------------------------------------------------


def test_each_section_becomes_one_chunk_with_its_heading_path():
    chunks = chunk_article(parse_markdown(ARTICLE, slug="returns"))
    assert [(c.section, c.anchor, c.text) for c in chunks] == [
        ("Overview", "overview", "Brightwell accepts most items back within 30 days of delivery."),
        ("Start a return", "start-a-return", "Open the order and choose Return items."),
        ("Start a return › Drop-off points", "drop-off-points", "Take the parcel to any Parcel Point."),
        ("Refunds", "refunds", "Refunds go back to the original payment method."),
    ]
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]


def test_chunk_ids_are_prefixed_with_slug_and_anchor():
    for chunk in chunk_article(parse_markdown(ARTICLE, slug="returns")):
        assert re.fullmatch(rf"returns#{re.escape(chunk.anchor)}-[0-9a-f]{{10}}", chunk.chunk_id)


def test_a_sibling_subsection_replaces_the_previous_one_in_the_path():
    body = "## Fees\n\nfee text\n\n### Card\n\ncard text\n\n### Cash\n\ncash text\n\n## Other\n\nother text"
    assert [c.section for c in chunk_article(_article(body))] == [
        "Fees",
        "Fees › Card",
        "Fees › Cash",
        "Other",
    ]


def test_a_fourth_level_heading_nests_under_the_third():
    body = "## A\n\n### B\n\n#### C\n\ndeep text"
    assert [(c.section, c.anchor) for c in chunk_article(_article(body))] == [("A › B › C", "c")]


def test_article_without_an_intro_has_no_overview_chunk():
    chunks = chunk_article(_article("## Only section\n\nText."))
    assert [c.section for c in chunks] == ["Only section"]


def test_the_title_heading_repeated_in_the_body_is_not_chunk_text():
    chunks = chunk_article(_article("# The title\n\nIntro text.\n\n## Next\n\nMore."))
    assert [(c.section, c.text) for c in chunks] == [("Overview", "Intro text."), ("Next", "More.")]


def test_level_one_headings_after_the_top_are_sections_like_level_two():
    body = "Intro text.\n\n# Returns\n\nReturn text.\n\n## By post\n\nPost text.\n\n# Refunds\n\nRefund text."
    assert [(c.section, c.text) for c in chunk_article(_article(body))] == [
        ("Overview", "Intro text."),
        ("Returns", "Return text."),
        ("Returns › By post", "Post text."),
        ("Refunds", "Refund text."),
    ]
    title_again = chunk_article(_article("## A\n\nA text.\n\n# T\n\nMore A text."))
    assert [c.section for c in title_again] == ["A"] and title_again[0].text.endswith("More A text.")


def test_a_hash_line_inside_a_code_block_is_code_not_a_heading():
    body = (
        "## Install on Linux\n\n```bash\n# download the driver\ncurl -O https://example.com/d.tgz\n"
        "## not a heading either\n```\n\n~~~\n# nor this\n~~~\n\n## Troubleshooting\n\nRestart it."
    )
    chunks = chunk_article(_article(body))
    assert [c.section for c in chunks] == ["Install on Linux", "Troubleshooting"]
    assert "# download the driver" in chunks[0].text and "# nor this" in chunks[0].text
    assert chunks[0].text.count("```") == 2


def test_sections_with_no_text_produce_no_chunk():
    chunks = chunk_article(_article("## Empty\n\n## Full\n\nText here."))
    assert [c.section for c in chunks] == ["Full"]


def test_duplicate_headings_get_unique_anchors():
    body = "## Fees\n\nfirst\n\n## Fees\n\nsecond\n\n## Fees\n\nthird"
    chunks = chunk_article(_article(body))
    assert [c.anchor for c in chunks] == ["fees", "fees-2", "fees-3"]
    assert [c.section for c in chunks] == ["Fees", "Fees", "Fees"]
    assert len({c.chunk_id for c in chunks}) == 3


def test_heading_that_slugifies_to_nothing_gets_a_generic_anchor():
    chunks = chunk_article(_article("## ???\n\ntext"))
    assert chunks[0].anchor == "section"


def _paragraph(word: str, n: int) -> str:
    return " ".join([word] * n)


def test_a_short_section_with_several_paragraphs_stays_one_chunk():
    body = "## Fees\n\n" + _paragraph("alpha", 100) + "\n\n" + _paragraph("beta", 100)
    chunks = chunk_article(_article(body))
    assert len(chunks) == 1
    assert chunks[0].text == _paragraph("alpha", 100) + "\n\n" + _paragraph("beta", 100)


def test_a_long_section_is_split_at_paragraph_ends():
    first, second, third = _paragraph("alpha", 150), _paragraph("beta", 150), _paragraph("gamma", 100)
    chunks = chunk_article(_article(f"## Fees\n\n{first}\n\n{second}\n\n{third}"))
    assert [(c.anchor, c.section, c.text) for c in chunks] == [
        ("fees", "Fees", first),
        ("fees-2", "Fees", f"{second}\n\n{third}"),
    ]
    assert [c.ordinal for c in chunks] == [0, 1]


def test_one_paragraph_longer_than_the_limit_is_not_cut():
    huge = _paragraph("alpha", 400)
    chunks = chunk_article(_article(f"## Fees\n\n{huge}"))
    assert [c.text for c in chunks] == [huge]


def test_anchors_stay_unique_when_a_split_section_is_followed_by_a_duplicate_heading():
    long_section = _paragraph("alpha", 150) + "\n\n" + _paragraph("beta", 150)
    chunks = chunk_article(_article(f"## Fees\n\n{long_section}\n\n## Fees\n\nsecond fees section"))
    anchors = [c.anchor for c in chunks]
    assert len(anchors) == 3
    assert len(set(anchors)) == 3


def test_unchanged_article_keeps_every_chunk_id():
    first = chunk_article(parse_markdown(ARTICLE, slug="returns"))
    again = chunk_article(parse_markdown(ARTICLE, slug="returns"))
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]


def test_unchanged_section_keeps_its_chunk_id_across_versions():
    v1 = "Intro.\n\n## Shipping\n\nShips in 2 days.\n\n## Returns\n\nReturn within 30 days."
    v2 = "Intro.\n\n## Shipping\n\nShips in 3 days.\n\n## Returns\n\nReturn within 30 days."
    before, after = _ids_by_anchor(v1), _ids_by_anchor(v2)
    assert after["overview"] == before["overview"]
    assert after["returns"] == before["returns"]
    assert after["shipping"] != before["shipping"]


def test_changed_text_changes_the_chunk_id():
    assert _ids_by_anchor("## Returns\n\nWithin 30 days.") != _ids_by_anchor("## Returns\n\nWithin 60 days.")


def test_same_text_in_another_article_gets_another_chunk_id():
    body = "## Returns\n\nWithin 30 days."
    a = chunk_article(_article(body, slug="returns"))[0].chunk_id
    b = chunk_article(_article(body, slug="exchanges"))[0].chunk_id
    assert a != b


def test_same_text_under_another_heading_gets_another_chunk_id():
    a = chunk_article(_article("## Returns\n\nWithin 30 days."))[0].chunk_id
    b = chunk_article(_article("## Exchanges\n\nWithin 30 days."))[0].chunk_id
    assert a != b


def test_adding_a_section_at_the_end_leaves_earlier_ids_unchanged():
    v1 = "Intro.\n\n## Shipping\n\nShips in 2 days."
    v2 = v1 + "\n\n## Returns\n\nReturn within 30 days."
    before, after = _ids_by_anchor(v1), _ids_by_anchor(v2)
    assert {k: after[k] for k in before} == before
    assert set(after) == {"overview", "shipping", "returns"}


# Crafted front matter and lines: a clear error or a sane reading, never an exception or a blow-up


def _front(yaml_text: str) -> str:
    return f"---\n{yaml_text}\n---\n\n## Section\n\nSome text.\n"


@pytest.mark.parametrize(
    ("front", "says"),
    [
        ("a: &a [x, x, x]\nb: &b [*a, *a, *a]\ntitle: *b", "aliases"),  # expands tenfold per level
        ("title: T\nupdated: 2024-13-45", "cannot be read"),
        ("title: T\nupdated: 2024-02-30", "cannot be read"),
        ("title: T\nx: " + "[" * 5000 + "]" * 5000, "cannot be read"),
        ("title: [a, b]", "plain text"),
        ("title: T\ncategory: {a: 1}", "plain text"),
    ],
)
def test_front_matter_that_cannot_be_an_article_is_refused_with_what_to_fix(front: str, says: str) -> None:
    with pytest.raises(ArticleFormatError, match=says):
        parse_markdown(_front(front), slug="crafted")


def test_scalar_tags_are_read_as_one_tag_and_unstorable_characters_are_mended() -> None:
    parsed = parse_markdown(_front("title: T\ntags: 5"), slug="t")
    assert parsed.tags == ["5"]
    broken = parse_markdown("---\ntitle: Half \ud83d emoji\x00\n---\n\nText \ud800 here.\n", slug="b")
    assert parsed.title == "T" and broken.title == "Half \ufffd emoji"
    assert "\ud800" not in broken.body and "\ufffd" in broken.body
    assert chunk_article(broken)  # its chunk ids can be made (a lone surrogate cannot be encoded)


def test_headings_on_long_lines_are_read_without_backtracking() -> None:
    from knowledge.chunking import heading

    assert heading("## a" + " " * 100_000 + "x") == (2, "a" + " " * 100_000 + "x")
    assert heading("##" + " " * 100_000) == (2, "")
    assert heading("## Returns ##") == (2, "Returns") and heading("##### five") is None


def test_a_chunk_id_fits_its_column_and_keeps_the_whole_slug() -> None:
    from knowledge.chunking import CHUNK_ID_CHARS, MAX_SLUG_CHARS, chunk_id

    slug = "s" * MAX_SLUG_CHARS
    long_one = chunk_id(slug, "what-happens-to-the-refund-if-the-gift-was-paid-with-a-gift-card", "text")
    assert len(long_one) <= CHUNK_ID_CHARS and long_one.partition("#")[0] == slug
    assert chunk_id("returns", "a" * 200, "one") != chunk_id("returns", "a" * 200, "two")
    assert chunk_id("returns", "overview", "t") == chunk_id("returns", "overview", "t")


def test_names_in_other_scripts_get_slugs_of_their_own_and_accents_fold() -> None:
    from knowledge.chunking import slugify

    assert slugify("Café crème") == "cafe-creme" and slugify("Gift Cards/FAQ") == "gift-cards-faq"
    payment, delivery = slugify("Оплата"), slugify("Доставка")
    assert payment != delivery and payment.startswith("u-") and slugify("Оплата") == payment
    assert slugify("???") == "section"
