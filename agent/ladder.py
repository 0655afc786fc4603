"""The rung a turn starts on, derived from the breakers (DESIGN "The degradation ladder").

Full: primary model and vector index healthy. Degraded: the primary failing but a fallback healthy, or the
vector index down while a model is up. Minimal: no model healthy or none configured. Offline: nothing to
retrieve from, or the database down. A turn may still drop lower while it runs; it never climbs within one.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.breakers import HealthRegistry, ModeDecision

__all__ = ["decide_mode"]


def _why(health: HealthRegistry, name: str, disabled: Mapping[str, str] | None = None) -> str:
    if disabled and name.removeprefix("llm:") in disabled:
        return f"not usable: {disabled[name.removeprefix('llm:')]}"
    snap = health.breaker(name).snapshot()
    return f"{snap.state.replace('_', '-')}, {snap.last_error}" if snap.last_error else snap.state


def decide_mode(
    *,
    health: HealthRegistry,
    models: list[str],
    dense_configured: bool,
    kb_ready: bool,
    disabled: Mapping[str, str] | None = None,
) -> ModeDecision:
    """`models` in configured order; `disabled` names models that could not be built, and why."""
    disabled = disabled or {}
    if not health.available("database"):
        return ModeDecision("offline", f"database unavailable ({_why(health, 'database')})")
    if not kb_ready:
        return ModeDecision("offline", "knowledge base unavailable")
    dense_ok = dense_configured and health.available("vector_index") and health.available("embeddings")
    lexical_note = "" if dense_ok else "vector index unavailable; lexical retrieval only"
    usable = [m for m in models if m not in disabled and health.available(f"llm:{m}")]
    if not models:
        return ModeDecision("minimal", "; ".join(filter(None, ["no LLM configured", lexical_note])))
    if not usable:
        return ModeDecision(
            "minimal",
            "; ".join(
                filter(
                    None,
                    [
                        f"no LLM available ({models[0]}: {_why(health, 'llm:' + models[0], disabled)})",
                        lexical_note,
                    ],
                )
            ),
        )
    if usable[0] == models[0] and dense_ok:
        return ModeDecision("full", "all dependencies healthy")
    reasons = []
    if usable[0] != models[0]:
        why = _why(health, "llm:" + models[0], disabled)
        reasons.append(f"primary model {models[0]} unavailable ({why}); using {usable[0]}")
    if lexical_note:
        reasons.append(lexical_note)
    return ModeDecision("degraded", "; ".join(reasons))
