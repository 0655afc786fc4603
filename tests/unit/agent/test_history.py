"""How a long conversation's thread is bounded: the oldest turns leave, the summary count follows."""

from __future__ import annotations

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.graph.message import add_messages

from agent.history import earlier_turns, leaving_entries, trimmed
from agent.prompts.minimal import WITHHELD


def _thread(turns: int) -> list[AnyMessage]:
    messages: list[AnyMessage] = []
    for n in range(turns):
        messages += [HumanMessage(content=f"q{n}", id=f"m{n}"), AIMessage(content=f"a{n}", id=f"r{n}")]
    return messages


def test_a_short_thread_keeps_everything():
    assert trimmed(_thread(3), adding=1, limit=8, summarised=2, hard_limit=16) == ([], 2)


def test_the_oldest_turns_leave_whole_and_the_summary_count_follows():
    messages = [*_thread(5), HumanMessage(content="q5", id="m5")]  # 11 messages, the reply still to come
    leaving, summarised = trimmed(messages, adding=1, limit=8, summarised=6, hard_limit=16)

    assert [m.id for m in leaving] == ["m0", "r0", "m1", "r1"]  # 4 out, cut before a customer message
    assert all(isinstance(m, RemoveMessage) for m in leaving)
    assert summarised == 2  # the 4 entries that left were the first 4 the summary covered
    kept = add_messages(messages, [*leaving, AIMessage(content="a5", id="r5")])
    assert [m.content for m in kept][:2] == ["q2", "a2"] and len(kept) == 8
    assert earlier_turns(kept)[0].text == "q2"


def test_the_cut_never_leaves_an_answer_first():
    messages = [HumanMessage(content="q0", id="m0"), *_thread(4)[1:], HumanMessage(content="q4", id="m4")]
    leaving, _ = trimmed(messages, adding=1, limit=7, summarised=4, hard_limit=14)
    assert [m.id for m in leaving] == ["m0", "r0", "m1", "r1"]  # 3 would split a turn: 4 leave


def test_a_withheld_message_and_its_refusal_do_not_count_as_summarised_turns():
    messages = [
        HumanMessage(content=WITHHELD, id="w0"),
        AIMessage(content="I can't help with that.", id="w1"),
        *_thread(3),
        HumanMessage(content="q3", id="m3"),
    ]
    leaving, summarised = trimmed(messages, adding=1, limit=6, summarised=3, hard_limit=12)
    assert [m.id for m in leaving] == ["w0", "w1", "m0", "r0"]
    assert summarised == 1  # only q0 and a0 were history entries


def test_turns_the_summary_has_not_covered_wait_for_it_up_to_the_hard_limit():
    messages = [*_thread(4), HumanMessage(content="q4", id="m4")]  # 9 messages, one more to come
    assert trimmed(messages, adding=1, limit=8, summarised=1, hard_limit=16) == ([], 1)
    leaving, summarised = trimmed(messages, adding=1, limit=8, summarised=1, hard_limit=9)
    assert [m.id for m in leaving] == ["m0", "r0"] and summarised == 0  # past the hard limit they go


def test_with_no_model_to_summarise_turns_leave_at_the_limit():
    messages = [*_thread(6), HumanMessage(content="q6", id="m6")]
    leaving, summarised = trimmed(messages, adding=1, limit=6, summarised=0, hard_limit=6)
    assert len(leaving) == 8 and summarised == 0


def test_leaving_entries_is_what_the_summary_must_cover_first():
    messages = [*_thread(5), HumanMessage(content="q5", id="m5")]
    assert leaving_entries(messages, adding=1, limit=8) == 4
    assert leaving_entries(messages, adding=1, limit=20) == 0
