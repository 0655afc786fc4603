"""Per-turn dict merging of the turn state: `agent.state.merge_per_turn`."""

from __future__ import annotations

from agent.state import RESET, merge_per_turn


def test_updates_within_a_turn_are_merged():
    assert merge_per_turn({"screen": "ok"}, {"citations": "ok"}) == {"screen": "ok", "citations": "ok"}


def test_a_later_update_overrides_the_same_key():
    assert merge_per_turn({"citations": "ok", "screen": "ok"}, {"citations": {"blocked": ["x"]}}) == {
        "citations": {"blocked": ["x"]},
        "screen": "ok",
    }


def test_merging_into_nothing_gives_the_update():
    assert merge_per_turn(None, {"retrieve": 12.5}) == {"retrieve": 12.5}


def test_merging_does_not_mutate_the_previous_value():
    old = {"screen": "ok"}
    merge_per_turn(old, {"citations": "ok"})
    assert old == {"screen": "ok"}


def test_reset_starts_afresh_and_drops_the_marker():
    old = {"screen": "ok", "citations": {"blocked": ["x"]}}
    assert merge_per_turn(old, {RESET: True, "screen": "flagged"}) == {"screen": "flagged"}


def test_reset_alone_empties_the_dict():
    assert merge_per_turn({"screen": "ok"}, {RESET: True}) == {}


def test_updates_after_a_reset_merge_again():
    state = merge_per_turn({"old": 1}, {RESET: True, "screen": "ok"})
    assert merge_per_turn(state, {"citations": "ok"}) == {"screen": "ok", "citations": "ok"}
