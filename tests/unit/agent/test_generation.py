"""Messages for the model and reading its reply back: `agent.generation`."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from agent.extractive import quote_is_from
from agent.generation import (
    SUMMARY_BATCH,
    UncitedAnswer,
    answer_messages,
    bounded_history,
    cite,
    fit_passages,
    parse_answer,
    parse_text,
    unsummarised_tail,
)
from agent.prompts import answer as answer_prompt
from core.faults import DependencyFault
from knowledge.entities import Turn

SHORT = [
    {
        "id": "returns#window-01",
        "title": "Returns",
        "section": "Return window",
        "text": "You can return most items within 30 days of delivery.",
        "metadata": {"article": "returns", "version": 2, "version_id": 7, "anchor": "return-window"},
    },
    {
        "id": "shipping#cost-02",
        "title": "Shipping",
        "section": "Overview",
        "text": "Standard shipping is free on orders over $50.",
        "metadata": {"article": "shipping", "version": 1, "version_id": 3, "anchor": "overview"},
    },
    {
        "id": "refunds#timing-03",
        "title": "Refunds",
        "section": "Timing",
        "text": "Refunds reach your card within 5 business days of inspection.",
        "metadata": {"article": "refunds", "version": 4, "version_id": 11, "anchor": "timing"},
    },
]

FILLER = " ".join(f"Our store number {n} is open on weekdays from nine until five." for n in range(15))
LONG_TEXT = (
    "Gift cards never expire and can be used online or in any store. "
    + FILLER
    + " Warranty claims need the original receipt and the serial number of the product."
)
LONG = [
    {"id": "policies#all-01", "title": "Policies", "section": "", "text": LONG_TEXT},
    {"id": "policies#all-02", "title": "Policies", "section": "", "text": LONG_TEXT},
]


def _tool_chunk(args: str) -> AIMessageChunk:
    return AIMessageChunk(
        content="", tool_call_chunks=[{"name": "Answer", "args": args, "id": "c1", "index": 0}]
    )


def _answer_args(text: str = "Returns take 30 days [1].", **kw) -> str:  # type: ignore[no-untyped-def]
    return json.dumps({"text": text, "citations": [1], "answerable": True, "confidence": 0.8, **kw})


# cite ----------------------------------------------------------------------------------------------------


def test_markers_are_renumbered_in_order_of_first_use():
    reply, citations = cite("Refunds take 5 days [3]. Returns take 30 days [1].", SHORT)
    assert reply == "Refunds take 5 days [1]. Returns take 30 days [2]."
    assert [(c["n"], c["chunk_id"]) for c in citations] == [
        (1, "refunds#timing-03"),
        (2, "returns#window-01"),
    ]


def test_a_passage_cited_twice_keeps_one_number():
    reply, citations = cite("Refunds take 5 days [3]. Returns [2] take 30 days [3].", SHORT)
    assert reply == "Refunds take 5 days [1]. Returns [2] take 30 days [1]."
    assert [c["n"] for c in citations] == [1, 2]


def test_a_grouped_marker_is_split_into_renumbered_markers():
    reply, citations = cite("Returns are free and take 30 days [1, 3].", SHORT)
    assert reply == "Returns are free and take 30 days [1][2]."
    assert [c["chunk_id"] for c in citations] == ["returns#window-01", "refunds#timing-03"]


def test_a_grouped_marker_repeating_a_number_gives_it_once():
    reply, _ = cite("Returns take 30 days [2,2].", SHORT)
    assert reply == "Returns take 30 days [1]."


def test_a_citation_carries_the_passage_metadata():
    _, [citation] = cite("Returns take 30 days [1].", SHORT)
    assert citation == {
        "n": 1,
        "chunk_id": "returns#window-01",
        "article": "returns",
        "version": 2,
        "version_id": 7,
        "title": "Returns",
        "section": "Return window",
        "anchor": "return-window",
        "quote": SHORT[0]["text"],
    }


@pytest.mark.parametrize("marker", ["[4]", "[0]", "[1, 9]"])
def test_a_marker_naming_no_passage_of_the_turn_is_refused(marker):
    with pytest.raises(UncitedAnswer):
        cite(f"Returns take 30 days {marker}.", SHORT)


def test_a_reply_citing_nothing_is_refused():
    with pytest.raises(UncitedAnswer):
        cite("Returns take 30 days.", SHORT)


def test_a_short_passage_is_quoted_whole():
    _, citations = cite("Shipping is free over $50 [2]. Refunds take 5 days [3].", SHORT)
    assert [c["quote"] for c in citations] == [SHORT[1]["text"], SHORT[2]["text"]]


def test_a_long_passage_is_quoted_verbatim_from_the_sentences_that_rely_on_it():
    _, citations = cite(
        "Gift cards never expire [1]. For a warranty claim, bring the receipt and serial number [2].", LONG
    )
    gift, warranty = (c["quote"] for c in citations)
    assert quote_is_from(gift, LONG_TEXT) and quote_is_from(warranty, LONG_TEXT)
    assert "Gift cards never expire" in gift and "Warranty" not in gift
    assert "Warranty claims" in warranty and "Gift cards" not in warranty


def test_a_marker_after_the_full_stop_belongs_to_the_sentence_before_it():
    reply, citations = cite(
        "Gift cards never expire. [1] For a warranty claim, bring the receipt and serial number. [2]", LONG
    )
    assert reply.endswith("[2]")
    gift, warranty = (c["quote"] for c in citations)
    assert quote_is_from(gift, LONG_TEXT) and quote_is_from(warranty, LONG_TEXT)
    assert "Gift cards never expire" in gift and "Warranty" not in gift
    assert "Warranty claims" in warranty and "Gift cards" not in warranty


# parse_answer --------------------------------------------------------------------------------------------


def test_a_structured_answer_is_read_from_the_tool_call_arguments():
    answer = parse_answer(_tool_chunk(_answer_args("Returns take 30 days [1].")))
    assert answer == answer_prompt.Answer(
        text="Returns take 30 days [1].", citations=[1], answerable=True, confidence=0.8
    )


def test_tool_call_arguments_streamed_in_pieces_are_joined():
    args = _answer_args()
    total = _tool_chunk(args[:10])
    for start in range(10, len(args), 7):
        total = total + AIMessageChunk(
            content="",
            tool_call_chunks=[{"name": None, "args": args[start : start + 7], "id": None, "index": 0}],
        )
    assert parse_answer(total).text == "Returns take 30 days [1]."


@pytest.mark.parametrize("args", ['{"text": "Returns take 30', '{"text": "x"}}]{{oops', "not json at all"])
def test_truncated_or_invalid_json_is_a_malformed_fault(args):
    with pytest.raises(DependencyFault) as raised:
        parse_answer(_tool_chunk(args))
    assert raised.value.kind == "malformed"


@pytest.mark.parametrize("args", ["", "{}", '{"text": "hi", "answerable": true, "confidence": 7}', "[1, 2]"])
def test_arguments_that_do_not_fit_the_schema_are_a_malformed_fault(args):
    with pytest.raises(DependencyFault) as raised:
        parse_answer(_tool_chunk(args))
    assert raised.value.kind == "malformed"


def test_an_empty_reply_is_an_empty_fault():
    with pytest.raises(DependencyFault) as raised:
        parse_answer(AIMessageChunk(content="  \n"))
    assert raised.value.kind == "empty"


def test_a_prose_reply_with_markers_is_read_as_an_answer():
    answer = parse_answer(AIMessageChunk(content=" Returns take 30 days [1]. "))
    assert answer.text == "Returns take 30 days [1]."
    assert answer.answerable and answer.confidence == 0.5


def test_a_prose_reply_without_markers_is_read_as_unanswerable():
    answer = parse_answer(AIMessageChunk(content="I think returns are fine."))
    assert not answer.answerable and answer.confidence == 0.0


def test_prose_in_content_parts_is_read():
    message = AIMessageChunk(
        content=[{"type": "text", "text": "Returns take"}, {"type": "text", "text": "30 days [1]."}]
    )
    assert parse_answer(message).text == "Returns take 30 days [1]."


def test_parse_text_strips_and_refuses_empty_output():
    assert parse_text(AIMessageChunk(content="  refund status order 123 \n")) == "refund status order 123"
    with pytest.raises(DependencyFault) as raised:
        parse_text(AIMessageChunk(content=""))
    assert raised.value.kind == "empty"


# bounded_history -----------------------------------------------------------------------------------------


def _turns(n: int) -> list[Turn]:
    return [
        Turn("customer" if i % 2 == 0 else "agent", f"turn {i} " + "word " * 9 + "abcd") for i in range(n)
    ]


def test_history_within_budget_is_kept_whole():
    turns = _turns(4)
    older, kept = bounded_history(turns, budget_tokens=10_000)
    assert older == [] and kept == turns


def test_the_newest_turns_that_fit_are_kept_and_the_rest_are_older():
    turns = _turns(6)  # 56 characters each: 14 tokens + 4 overhead = 18
    older, kept = bounded_history(turns, budget_tokens=18 * 2 + 17)
    assert kept == turns[-2:]
    assert older == turns[:-2]


def test_a_budget_smaller_than_the_newest_turn_keeps_nothing():
    turns = _turns(3)
    older, kept = bounded_history(turns, budget_tokens=5)
    assert kept == [] and older == turns


def test_an_older_short_turn_is_not_kept_past_a_long_one_that_did_not_fit():
    turns = [Turn("customer", "hi"), Turn("agent", "x" * 400), Turn("customer", "ok")]
    older, kept = bounded_history(turns, budget_tokens=20)
    assert kept == turns[-1:]
    assert older == turns[:2]


# answer_messages -----------------------------------------------------------------------------------------

HISTORY = [Turn("customer", "Where is order 123?"), Turn("agent", "It shipped yesterday.")]


def _messages(single_turn: bool, **kw):  # type: ignore[no-untyped-def]
    args = {
        "question": "Can I return it?",
        "passages": SHORT,
        "history": HISTORY,
        "summary": "The customer asked about order 123.",
        "company": "Brightwell Home",
        "single_turn": single_turn,
        **kw,
    }
    return answer_messages(**args)


def test_full_context_has_summary_history_passages_and_question_in_order():
    messages = _messages(single_turn=False)
    assert [type(m) for m in messages] == [
        SystemMessage,
        SystemMessage,
        HumanMessage,
        AIMessage,
        HumanMessage,
    ]
    assert "Brightwell Home" in messages[0].content
    assert answer_prompt.DEGRADED_NOTE not in messages[0].content
    assert "The customer asked about order 123." in messages[1].content
    assert [m.content for m in messages[2:4]] == ["Where is order 123?", "It shipped yesterday."]
    last = messages[-1].content
    assert last.count("<passage ") == 3 and last.rstrip().endswith("Can I return it?")
    assert '<passage n="1" title="Returns › Return window">' in last
    assert '<passage n="2" title="Shipping">' in last  # "Overview" is not shown


def test_full_context_without_a_summary_has_no_summary_message():
    messages = _messages(single_turn=False, summary=None)
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage, AIMessage, HumanMessage]


def test_single_turn_context_leaves_out_history_and_summary():
    messages = _messages(single_turn=True)
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage]
    assert answer_prompt.DEGRADED_NOTE in messages[0].content
    text = " ".join(str(m.content) for m in messages)
    assert "order 123" not in text and "shipped yesterday" not in text
    assert "Can I return it?" in messages[-1].content


def test_the_passage_budget_keeps_the_first_passages_that_fit_and_always_one():
    messages = _messages(single_turn=True, passages=fit_passages(SHORT, budget_tokens=1))
    assert messages[-1].content.count("<passage ") == 1
    messages = _messages(single_turn=True, passages=fit_passages(SHORT, budget_tokens=60))
    assert messages[-1].content.count("<passage ") == 2


def test_fit_passages_returns_exactly_the_passages_the_budget_shows():
    passages = [{"id": f"p{i}", "title": "T", "section": "S", "text": "word " * 200} for i in range(3)]
    shown = fit_passages(passages, budget_tokens=300)
    assert [p["id"] for p in shown] == ["p0"]
    assert len(fit_passages(passages, budget_tokens=10_000)) == 3
    assert len(fit_passages(passages, budget_tokens=1)) == 1  # never none


def test_the_answer_gets_the_window_and_the_turns_still_waiting_for_the_summary():
    turns = [Turn(role="customer" if i % 2 == 0 else "agent", text=f"t{i}") for i in range(20)]
    # the summary covers the 10 entries before the window: the window only
    assert [t.text for t in unsummarised_tail(turns, 10, 10)] == [f"t{i}" for i in range(10, 20)]
    # 4 left the window since the summary: they come too
    assert [t.text for t in unsummarised_tail(turns, 10, 6)][:4] == ["t6", "t7", "t8", "t9"]
    # the summary failed for long: at most SUMMARY_BATCH of the waiting ones, the newest
    assert len(unsummarised_tail(turns, 18, 0)) == 2 + SUMMARY_BATCH
    # more summarised than the window leaves out (the thread was trimmed): the window only
    assert len(unsummarised_tail(turns, 4, 9)) == 16
