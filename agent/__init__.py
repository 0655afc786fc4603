"""The LangGraph turn graph: state, nodes, routing, prompts, and the service that runs one customer turn."""
