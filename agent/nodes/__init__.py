"""One node per step of a turn. Each returns only the state keys it changes."""

from agent.nodes.answer import answer
from agent.nodes.check_output import check_output
from agent.nodes.contextualise import contextualise
from agent.nodes.deliver import deliver
from agent.nodes.handoff import assess_turn, await_human, hand_off
from agent.nodes.reply import curated_reply, offer_contact, refuse, say_unknown
from agent.nodes.retrieve import retrieve
from agent.nodes.screen_input import screen_input

__all__ = [
    "answer",
    "assess_turn",
    "await_human",
    "check_output",
    "contextualise",
    "curated_reply",
    "deliver",
    "hand_off",
    "offer_contact",
    "refuse",
    "retrieve",
    "say_unknown",
    "screen_input",
]
