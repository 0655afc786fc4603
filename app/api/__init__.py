"""The HTTP API (FastAPI): delivery only; the service in agent/ does the work."""
