"""Tokens stream until the model writes something a page could make a link or a picture of: nothing after
that reaches a client before the output rails have checked the whole answer."""

from __future__ import annotations

from typing import Any

from agent.nodes.answer import StreamGate


def _streamed(*deltas: str, reset_after: int | None = None) -> list[Any]:
    sent: list[Any] = []
    gate = StreamGate(sent.append)
    for n, delta in enumerate(deltas):
        gate.token(delta)
        if reset_after == n:
            gate.reset()
    return sent


def test_plain_text_and_citation_markers_stream_token_by_token() -> None:
    deltas = ("Refunds take ", "3–5 business days ", "[1][2]. ", "See [3] (above).")
    assert _streamed(*deltas) == [{"token": d} for d in deltas]


def test_nothing_streams_from_a_picture_or_link_on_even_split_across_tokens() -> None:
    assert _streamed("Done ", "!", "[ok](https://attacker.example/p.png)", " more") == [
        {"token": "Done "},
        {"token": "!"},
    ]
    assert _streamed("See [here]", "(//attacker.example)") == [{"token": "See [here]"}]
    assert _streamed("Go to https", "&#58;//x.example") == [{"token": "Go to https"}]
    assert _streamed("Visit www", ".attacker.example") == [{"token": "Visit www"}]


def test_a_reset_opens_the_gate_for_the_next_model() -> None:
    sent = _streamed("<img src=x>", "Fallback answer.", reset_after=0)
    assert sent == [{"reset": True}, {"token": "Fallback answer."}]
