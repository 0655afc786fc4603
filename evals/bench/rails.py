"""Latency of the heuristic guardrails per turn (no model, no retrieval): what they add to every turn.

Turns are built from the demo help center: a customer question per section, and a faithful generated-style
answer (its sentences cited [1]) for the output rails. `--messages FILE` (any JSON Lines with a "text"
field, e.g. the guard benchmark's attacks, up to 4,000-character jailbreaks) adds customer messages to the
input side. Input rails: normalisation, PII masking, injection heuristics, policy topics. Output rails:
sentence support, the policy rails (commitments, tone, competitors, leaks), the PII-leak rail.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from agent.guards.input import screen_message
from agent.guards.leaks import pii_leaks
from agent.guards.output import check_reply
from agent.guards.support import check_support
from agent.prompts import SYSTEM_PROMPTS
from core.config import get_settings
from core.pii import mask
from core.pii_vault import public_values
from core.policy import load_policy
from core.text import clean_customer_text
from knowledge.chunking import chunk_article, parse_markdown, slugify

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _turns(content: Path) -> list[tuple[str, str, list[dict[str, Any]], dict[str, str]]]:
    """(question, answer, citations, passages) per section of the help center."""
    turns = []
    for path in sorted(content.glob("*.md")):
        article = parse_markdown(path.read_text(encoding="utf-8"), slug=slugify(path.stem))
        for chunk in chunk_article(article):
            lines = [ln.strip(" -*") for ln in chunk.text.splitlines() if len(ln.split()) >= 5]
            sentences = [s for ln in lines for s in _SENTENCE.split(ln) if len(s.split()) >= 4][:3]
            if not sentences:
                continue
            answer = " ".join(f"{s.rstrip()} [1]" for s in sentences)
            question = f"Can you tell me about {chunk.section.lower()} for {article.title.lower()}?"
            citation = {"n": 1, "chunk_id": chunk.chunk_id, "quote": chunk.text}
            turns.append((question, answer, [citation], {chunk.chunk_id: chunk.text}))
    return turns


def _messages(path: Path | None) -> list[str]:
    if path is None:
        return []
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("text"), str):
            texts.append(row["text"])
    return texts


def _stats(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0, "n": 0}
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "max_ms": round(float(max(ms)), 3),
        "n": len(ms),
    }


def run_rails(*, messages_path: Path | None = None, repeat: int = 3) -> dict[str, Any]:
    settings = get_settings()
    policy = load_policy(settings.policy_file)
    turns = _turns(settings.kb_content_dir)
    extra = _messages(messages_path)

    def inbound(text: str) -> None:
        clean = clean_customer_text(text, max_chars=settings.max_message_chars)
        screen_message(mask(clean.text).text, policy)

    def outbound(answer: str, citations: list[dict[str, Any]], passages: dict[str, str]) -> None:
        check_support(answer, citations=citations, passages=passages)
        check_reply(
            answer, citations=citations, passages=passages, policy=policy, system_prompts=SYSTEM_PROMPTS
        )
        pii_leaks(answer, public=public_values(tuple(policy.brand.contacts)))

    for q, a, c, p in turns[:5]:  # warm up (regex caches, lazy imports)
        inbound(q)
        outbound(a, c, p)
    per_turn: list[float] = []
    inputs: list[float] = []
    outputs: list[float] = []
    for _ in range(repeat):
        for q, a, c, p in turns:
            t0 = time.perf_counter()
            inbound(q)
            t1 = time.perf_counter()
            outbound(a, c, p)
            t2 = time.perf_counter()
            inputs.append((t1 - t0) * 1000)
            outputs.append((t2 - t1) * 1000)
            per_turn.append((t2 - t0) * 1000)
    adversarial: list[float] = []
    for text in extra:
        t0 = time.perf_counter()
        inbound(text)
        adversarial.append((time.perf_counter() - t0) * 1000)
    report = {
        "per_turn": _stats(per_turn),
        "input": _stats(inputs),
        "output": _stats(outputs),
        "input_messages_file": _stats(adversarial) if extra else None,
        "target_p95_ms": 10.0,
    }
    report["p95_ms"] = report["per_turn"]["p95_ms"]
    _print(report, messages_path)
    return report


def _print(report: dict[str, Any], messages_path: Path | None) -> None:
    print(f"heuristic rails per turn ({report['per_turn']['n']} turns over the demo help center)")
    print(f"{'':28}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'n':>7}")
    rows = [("input + output (per turn)", report["per_turn"]), ("input rails", report["input"])]
    rows.append(("output rails", report["output"]))
    if report["input_messages_file"]:
        rows.append(
            (f"input: {messages_path.name if messages_path else ''}"[:27], report["input_messages_file"])
        )
    for name, s in rows:
        print(f"{name:28}{s['p50_ms']:>9.3f}{s['p95_ms']:>9.3f}{s['max_ms']:>9.3f}{s['n']:>7}")
    verdict = "within" if report["p95_ms"] <= report["target_p95_ms"] else "OVER"
    print(f"p95 per turn {report['p95_ms']:.2f} ms: {verdict} the {report['target_p95_ms']:.0f} ms budget")
