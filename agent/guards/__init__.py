"""Guardrails around a customer turn: input rails (before retrieval), retrieval rails, output rails.

Each rail lives in its own module and is imported from there (`agent.guards.output`, `agent.guards.support`,
`agent.guards.topics`, ...); this package imports nothing, so loading one rail never loads the others.
"""
