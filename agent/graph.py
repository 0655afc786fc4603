"""Wiring only: the turn graph of DESIGN "One customer turn"."""

from __future__ import annotations

from functools import partial

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent import nodes
from agent.context import TurnContext
from agent.routing import after_assess, after_check, after_deliver, after_retrieve
from agent.state import TurnState

TurnGraph = CompiledStateGraph[TurnState, TurnContext, TurnState, TurnState]


def build_graph(*, checkpointer: BaseCheckpointSaver | None, min_confidence: float) -> TurnGraph:
    g = StateGraph(TurnState, context_schema=TurnContext)
    g.add_node("screen_input", nodes.screen_input)
    g.add_node("curated_reply", nodes.curated_reply)
    g.add_node("refuse", nodes.refuse)
    g.add_node("assess", nodes.assess_turn)
    g.add_node("hand_off", nodes.hand_off)
    g.add_node("await_human", nodes.await_human)
    g.add_node("offer_contact", nodes.offer_contact)
    g.add_node("contextualise", nodes.contextualise)
    g.add_node("retrieve", nodes.retrieve)
    g.add_node("answer", nodes.answer)
    g.add_node("say_unknown", nodes.say_unknown)
    g.add_node("check_output", nodes.check_output)
    g.add_node("deliver", nodes.deliver)

    g.add_edge(START, "screen_input")
    g.add_edge("screen_input", "assess")
    g.add_conditional_edges("assess", after_assess)
    g.add_edge("contextualise", "retrieve")
    g.add_conditional_edges(
        "retrieve", partial(after_retrieve, min_confidence=min_confidence), ["answer", "say_unknown"]
    )
    g.add_edge("answer", "check_output")
    g.add_conditional_edges("check_output", after_check, ["hand_off", "deliver"])
    for name in ("curated_reply", "refuse", "offer_contact", "say_unknown", "hand_off"):
        g.add_edge(name, "deliver")
    g.add_conditional_edges("deliver", after_deliver, ["await_human", END])
    g.add_edge("await_human", END)
    return g.compile(checkpointer=checkpointer)
