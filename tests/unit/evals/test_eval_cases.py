"""The golden cases: loading (every problem at once, with file:line), checking against the help center,
slices and fingerprints."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from evals.cases import Case, DatasetError, check_against_kb, load_cases, normalise


def _raw(case_id: str = "returns-window-plus", **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": case_id,
        "turns": ["hi, I'm a Plus member", "how long do I have to send back a kettle?"],
        "expect": {
            "behaviour": "answer",
            "articles": ["returns-how-to-return-an-item"],
            "must_include": [["60 days", "sixty days"], "prepaid label"],
            "must_not_include": ["90 days"],
            "also_ok": ["answer", "handoff"],
        },
        "slices": {"topic": "returns", "segment": "plus_member", "tags": ["typos", "long"]},
        "note": "Plus members get 60 days, not the standard 30.",
    }
    raw.update(changes)
    return raw


def _write(path: Path, *lines: str | dict[str, Any]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


def _case(**changes: Any) -> Case:
    fields: dict[str, Any] = {
        "id": "c1",
        "turns": ("how long do I have?",),
        "behaviour": "answer",
        "also_ok": (),
        "articles": ("returns",),
        "must_include": (("30 days",),),
        "must_not_include": ("90 days",),
        "topic": "returns",
        "segment": "registered",
        "tags": (),
        "note": "",
        "source": "x.jsonl:1",
    }
    fields.update(changes)
    return Case(**fields)


# --- loading -------------------------------------------------------------------------------------------


def test_a_valid_file_loads_with_every_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "answers.jsonl", _raw())

    [case] = load_cases(files=[path])

    assert case.id == "returns-window-plus"
    assert case.turns == ("hi, I'm a Plus member", "how long do I have to send back a kettle?")
    assert case.behaviour == "answer"
    assert case.also_ok == ("handoff",)  # the primary behaviour is not repeated
    assert case.acceptable == ("answer", "handoff")
    assert case.articles == ("returns-how-to-return-an-item",)
    assert case.must_include == (("60 days", "sixty days"), ("prepaid label",))
    assert case.must_not_include == ("90 days",)
    assert (case.topic, case.segment, case.tags) == ("returns", "plus_member", ("typos", "long"))
    assert case.note == "Plus members get 60 days, not the standard 30."
    assert case.source == "answers.jsonl:1"
    assert case.multi_turn


def test_optional_fields_default_to_empty(tmp_path: Path) -> None:
    raw = _raw()
    raw["expect"] = {"behaviour": "refuse"}
    raw["slices"] = {"topic": "none", "segment": "new"}
    del raw["note"]
    [case] = load_cases(files=[_write(tmp_path / "a.jsonl", raw)])

    assert case.also_ok == case.articles == case.must_include == case.must_not_include == case.tags == ()
    assert case.note == ""


def test_comment_and_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.jsonl",
        "// the returns window",
        "",
        _raw("first-case"),
        "   ",
        "   // indented comment",
        _raw("second-case"),
    )

    cases = load_cases(files=[path])

    assert [c.id for c in cases] == ["first-case", "second-case"]
    assert [c.source for c in cases] == ["a.jsonl:3", "a.jsonl:6"]


def test_a_directory_loads_every_jsonl_file_in_name_order(tmp_path: Path) -> None:
    _write(tmp_path / "b.jsonl", _raw("from-b"))
    _write(tmp_path / "a.jsonl", _raw("from-a"))
    (tmp_path / "notes.txt").write_text("not a dataset", encoding="utf-8")

    assert [c.id for c in load_cases(tmp_path)] == ["from-a", "from-b"]


def test_a_directory_without_datasets_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"no \*\.jsonl dataset files"):
        load_cases(tmp_path)


def test_every_problem_of_every_file_is_reported_at_once_with_its_file_and_line(tmp_path: Path) -> None:
    bad_behaviour = _raw("bad-behaviour")
    bad_behaviour["expect"]["behaviour"] = "apologise"
    bad_tag = _raw("bad-tag")
    bad_tag["slices"]["tags"] = ["typos", "sarcastic"]
    no_turns = _raw("no-turns")
    del no_turns["turns"]
    extra_field = _raw("extra-field", priority="high")
    first = _write(tmp_path / "first.jsonl", _raw("shared-id"), _raw("fine-one"))
    second = _write(
        tmp_path / "second.jsonl",
        '{"id": "broken", "turns": [',
        bad_behaviour,
        "// a comment between",
        bad_tag,
        _raw("shared-id"),
        no_turns,
        extra_field,
    )

    with pytest.raises(DatasetError) as caught:
        load_cases(files=[first, second])

    lines = str(caught.value).splitlines()
    assert lines[0].startswith("6 problem(s)")
    problems = [line.strip() for line in lines[1:]]
    assert len(problems) == 6
    assert problems[0].startswith("second.jsonl:1: not valid JSON")
    assert problems[1].startswith("second.jsonl:2: 'expect.behaviour'")
    assert problems[2].startswith("second.jsonl:4: 'slices.tags'")
    assert problems[3] == "second.jsonl:5: id 'shared-id' is already used at first.jsonl:1"
    assert problems[4].startswith("second.jsonl:6: 'turns'")
    assert problems[5] == "second.jsonl:7: unknown field(s) priority"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(id="Has Spaces"), "'id' must be lowercase"),
        (lambda r: r.update(turns=[]), "'turns' must be a list of 1 to 6"),
        (lambda r: r.update(turns=["a"] * 7), "'turns' must be a list of 1 to 6"),
        (lambda r: r.update(turns=["hello", "  "]), "'turns' must be a list"),
        (lambda r: r["expect"].update(also_ok=["shrug"]), "'expect.also_ok'"),
        (lambda r: r["expect"].update(articles="returns"), "'expect.articles' must be a list"),
        (lambda r: r["expect"].update(must_include=["ok", 3]), "each 'expect.must_include' fact"),
        (lambda r: r["expect"].update(must_include=[[]]), "each 'expect.must_include' fact"),
        (lambda r: r["expect"].update(severity=1), "unknown field(s) in 'expect': severity"),
        (lambda r: r["slices"].update(segment="vip"), "'slices.segment'"),
        (lambda r: r["slices"].pop("topic"), "'slices.topic' is required"),
        (lambda r: r["slices"].update(language="fr"), "unknown field(s) in 'slices': language"),
        (lambda r: r.update(expect="answer"), "'expect' must be an object"),
    ],
)
def test_each_malformed_field_is_named(tmp_path: Path, change: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    change(raw)
    path = _write(tmp_path / "d.jsonl", raw)

    with pytest.raises(DatasetError) as caught:
        load_cases(files=[path])

    assert f"d.jsonl:1: {message}" in str(caught.value)


def test_a_line_that_is_not_an_object_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", '["a", "list"]')

    with pytest.raises(DatasetError, match=r"d\.jsonl:1: a case is a JSON object"):
        load_cases(files=[path])


def test_the_shipped_datasets_load_and_match_the_help_center() -> None:
    cases = load_cases()

    assert len(cases) > 50
    assert check_against_kb(cases) == []


# --- against the help center ---------------------------------------------------------------------------


@pytest.fixture
def content(tmp_path: Path) -> Path:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "returns.md").write_text(
        "# Returning an item\n\nYou have **30 days** to return an item.\nPlus members get sixty   Days.\n",
        encoding="utf-8",
    )
    (folder / "shipping.md").write_text(
        "# Shipping\n\nStandard delivery takes 3 to 5 business days. Express is next day.\n", encoding="utf-8"
    )
    return folder


def test_a_consistent_case_has_no_problems(content: Path) -> None:
    case = _case(must_include=(("sixty days",), ("return an item",)), must_not_include=("90 days",))

    assert check_against_kb([case], content) == []


def test_a_fact_matches_when_any_spelling_is_in_an_expected_article(content: Path) -> None:
    case = _case(must_include=(("6 weeks", "SIXTY   days"),))

    assert check_against_kb([case], content) == []


def test_the_help_center_problems_are_each_reported(content: Path) -> None:
    unknown = _case(id="unknown-slug", articles=("returns", "refunds"), source="a.jsonl:1")
    wrong_article = _case(
        id="fact-elsewhere", must_include=(("3 to 5 business days",),), source="a.jsonl:2"
    )  # said by shipping, not by the expected returns article
    quotable = _case(id="forbidden-quotable", must_not_include=("Express is next day",), source="a.jsonl:3")
    no_articles = _case(id="answer-no-article", articles=(), must_include=(), source="a.jsonl:4")
    refuse = _case(id="refuse-fine", behaviour="refuse", articles=(), must_include=(), source="a.jsonl:5")

    problems = check_against_kb([unknown, wrong_article, quotable, no_articles, refuse], content)

    assert problems == [
        "a.jsonl:1 (unknown-slug): no article refunds",
        "a.jsonl:2 (fact-elsewhere): no expected article states '3 to 5 business days'",
        "a.jsonl:3 (forbidden-quotable): the help center itself says 'Express is next day'",
        "a.jsonl:4 (answer-no-article): an 'answer' case names the article(s) holding it",
    ]


def test_normalise_folds_case_quotes_and_whitespace() -> None:
    assert normalise("  It\u2019s  \u201cFREE\u201d\n\tshipping ") == 'it\'s "free" shipping'


# --- slices and fingerprints ---------------------------------------------------------------------------


def test_slices_name_topic_segment_behaviour_turns_and_tags() -> None:
    single = _case(tags=("typos", "angry"))
    multi = _case(turns=("hi", "and returns?"), behaviour="clarify", topic="none", segment="guest")

    assert single.slices() == [
        "all",
        "behaviour:answer",
        "topic:returns",
        "segment:registered",
        "single_turn",
        "typos",
        "angry",
    ]
    assert multi.slices() == ["all", "behaviour:clarify", "topic:none", "segment:guest", "multi_turn"]


def test_repeated_tags_count_once(tmp_path: Path) -> None:
    raw = _raw()
    raw["slices"]["tags"] = ["typos", "typos", "long"]
    [case] = load_cases(files=[_write(tmp_path / "a.jsonl", raw)])

    assert case.tags == ("typos", "long")
    assert case.slices().count("typos") == 1


@pytest.mark.parametrize(
    "change",
    [
        {"turns": ("how long do I have to return it?",)},
        {"turns": ("hello", "how long do I have?")},
        {"behaviour": "refuse"},
        {"also_ok": ("handoff",)},
        {"articles": ("returns-plus",)},
        {"must_include": (("30 days", "thirty days"),)},
        {"must_not_include": ("60 days",)},
    ],
)
def test_the_fingerprint_changes_with_the_expectation(change: dict[str, Any]) -> None:
    assert _case(**change).fingerprint() != _case().fingerprint()


def test_the_fingerprint_ignores_the_note_source_and_slices() -> None:
    base = _case()
    other = _case(note="rewritten explanation", source="elsewhere.jsonl:9", topic="refunds", tags=("long",))

    assert other.fingerprint() == base.fingerprint()
    assert len(base.fingerprint()) == 10
