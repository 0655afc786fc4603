"""Wiring: the turn graph of DESIGN "One customer turn"; each route is decided in the step of the node it
follows (`routed`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol, cast, get_type_hints

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command

from agent import nodes
from agent.context import TurnContext
from agent.routing import after_assess, after_check, after_deliver, after_retrieve
from agent.state import TurnState

TurnGraph = CompiledStateGraph[TurnState, TurnContext, TurnState, TurnState]


class Node(Protocol):
    """A node of the turn graph: the state and the run's context in, an update (or a Command) out."""

    def __call__(self, state: TurnState, runtime: Runtime[TurnContext]) -> Any: ...


_REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    name: hint.__metadata__[0]
    for name, hint in get_type_hints(TurnState, include_extras=True).items()
    if getattr(hint, "__metadata__", None)
}


def _applied(state: TurnState, update: dict[str, Any]) -> TurnState:
    """The state as the next step will see it: `update` applied with each key's reducer."""
    after: dict[str, Any] = dict(state)
    for key, value in update.items():
        reducer = _REDUCERS.get(key)
        after[key] = value if reducer is None else reducer(after.get(key) or type(value)(), value)
    return cast(TurnState, after)


def routed(
    *steps: Node,
    route: Callable[[TurnState], str],
    inline: Mapping[str, tuple[Node, Callable[[TurnState], str]]] | None = None,
) -> Node:
    """`steps` (nodes that always follow one another), then where the turn goes next, in one graph step.

    Each step sees the state with the updates before it applied; the graph gets every update in order, as
    separate steps would have written them (a key without a reducer keeps the last value). `route` (a pure
    function in agent/routing.py) decides on the state with all of them applied; a destination in `inline`
    runs in the same step too, then its own route decides. Separate steps and conditional edges would do
    the same at a higher price: LangGraph copies every channel of the state to read it for an edge, and
    each step costs a superstep of its own."""

    def run(state: TurnState, runtime: Runtime[TurnContext]) -> Any:
        merged: list[tuple[str, Any]] = []
        last: dict[str, Any] = {}

        def apply(step: Node, state: TurnState) -> TurnState:
            update = step(state, runtime)
            for key, value in update.items():
                if key in _REDUCERS:
                    merged.append((key, value))
                else:
                    last[key] = value
            return _applied(state, update)

        for step in steps:
            state = apply(step, state)
        goto = route(state)
        if inline and goto in inline:
            step, then = inline[goto]
            state = apply(step, state)
            goto = then(state)
        return Command(update=[*merged, *last.items()], goto=goto)

    return run


def build_graph(*, checkpointer: BaseCheckpointSaver | None, min_confidence: float) -> TurnGraph:
    g = StateGraph(TurnState, context_schema=TurnContext)
    # DESIGN's screen_input: the input rails and intents, then the handoff triggers (sentiment, a person
    # asked for, risky topics); its retrieve: the conversation-aware query, then the hybrid search.
    g.add_node(
        "screen_input",
        routed(nodes.screen_input, nodes.assess_turn, route=after_assess),
        destinations=("hand_off", "refuse", "curated_reply", "offer_contact", "retrieve"),
    )
    # Every reply is delivered (into the history and the turn log) in the step that made it.
    for name, node in (
        ("curated_reply", nodes.curated_reply),
        ("refuse", nodes.refuse),
        ("offer_contact", nodes.offer_contact),
        ("say_unknown", nodes.say_unknown),
        ("hand_off", nodes.hand_off),
    ):
        g.add_node(name, routed(node, nodes.deliver, route=after_deliver), destinations=("await_human", END))
    g.add_node("await_human", nodes.await_human)
    g.add_node(
        "retrieve",
        routed(
            nodes.contextualise,
            nodes.retrieve,
            route=partial(after_retrieve, min_confidence=min_confidence),
        ),
        destinations=("answer", "say_unknown"),
    )
    g.add_node("answer", nodes.answer)
    g.add_node(
        "check_output",
        routed(nodes.check_output, route=after_check, inline={"deliver": (nodes.deliver, after_deliver)}),
        destinations=("hand_off", "await_human", END),
    )

    g.add_edge(START, "screen_input")
    g.add_edge("answer", "check_output")
    g.add_edge("await_human", END)
    return g.compile(checkpointer=checkpointer)
