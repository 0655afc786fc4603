"""One node per step of a turn. Each returns only the state keys it changes."""

from agent.nodes.answer import answer
from agent.nodes.check_output import check_output
from agent.nodes.contextualise import contextualise
from agent.nodes.deliver import deliver
from agent.nodes.reply import curated_reply, offer_human, say_unknown
from agent.nodes.retrieve import retrieve
from agent.nodes.screen_input import screen_input

__all__ = [
    "answer",
    "check_output",
    "contextualise",
    "curated_reply",
    "deliver",
    "offer_human",
    "retrieve",
    "say_unknown",
    "screen_input",
]
