"""Load and chaos run against the HTTP API: `python -m evals.load [--chaos] [--json OUT]`.

Starts the process topology (PostgreSQL, `chroma run`, a stub LLM of fixed latency, N API replicas; see
`evals.topology`), or targets running replicas (`--api URL ...`, e.g. docker-compose). Simulated customers
(a bounded asyncio client) each take a guest token and play the eval suite's questions, one conversation
per case, with think time between turns; requests go round-robin to the replicas, so one conversation's
turns land on different replicas. With `--chaos` Chroma, the LLM server and PostgreSQL are each stopped and
started again during the load.

It prints throughput, p50 / p95 / p99 latency, errors customers saw, modes served, mode transitions per
replica and recovery times, and then checks in PostgreSQL that every message the API acknowledged has a
stored reply or a queued ticket (after the replicas replayed what they spooled while it was down).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text

from evals.cases import load_cases
from evals.topology import ops_headers

QUESTION_FILES = ("answers.jsonl", "conversations.jsonl", "out_of_scope.jsonl")


@dataclass
class Sent:
    key: str
    conversation_id: str
    status: int | None
    """HTTP status, None when no answer came back (connection error, client timeout)."""
    latency_ms: float
    at: float
    mode: str | None = None
    outcome: str | None = None
    spooled: bool = False
    held: bool = False
    error: str | None = None
    phases: dict[str, float] | None = None
    """The turn's Server-Timing (API_SERVER_TIMING): where its time went in the server, ms by phase."""


@dataclass
class Run:
    urls: list[str]
    turns: int
    started: float = field(default_factory=time.monotonic)
    sent: list[Sent] = field(default_factory=list)
    transitions: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    """Per replica: (seconds since start, mode, reason) each time its /health mode changed."""
    outages: list[dict[str, Any]] = field(default_factory=list)
    _next_url: int = 0
    _claimed: int = 0

    def url(self) -> str:
        self._next_url += 1
        return self.urls[self._next_url % len(self.urls)]

    def claim_turn(self) -> bool:
        if self._claimed >= self.turns:
            return False
        self._claimed += 1
        return True

    def now(self) -> float:
        return time.monotonic() - self.started

    def served_seconds(self) -> float:
        """From the start to the last answer. Not to the end of the customers' last pauses: after the last
        turn each customer still waits out its think time, up to several seconds in which nothing is asked."""
        return max((s.at + s.latency_ms / 1000 for s in self.sent), default=0.0)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _post(client: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, str | None]:
    """Status, JSON body (None for a 5xx) and the Server-Timing header."""
    async with client.post(url, **kw) as answer:
        body = await answer.json(content_type=None) if answer.status < 500 else None
        return answer.status, body, answer.headers.get("Server-Timing")


def parse_server_timing(value: str | None) -> dict[str, float] | None:
    """`wait;dur=1.2, graph;dur=30.5` -> {"wait": 1.2, "graph": 30.5}; entries without a duration are
    skipped; None without the header."""
    if not value:
        return None
    phases: dict[str, float] = {}
    for entry in value.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        for param in params:
            key, _, number = param.partition("=")
            if key == "dur" and name:
                with contextlib.suppress(ValueError):
                    phases[name] = float(number.strip('"'))
    return phases


PHASE_ORDER = ("outside", "wait", "turn", "accept", "lock", "hold", "graph", "store")
"""outside: the request's time outside the worker thread (HTTP, the event loop, the client); wait: for a
worker thread; turn: on it (accept: the message stored, lock: the conversation, hold: a person on it?, graph
and its node.<name>, store: the reply)."""


def phase_figures(sent: list[Sent], *, min_ms: float = 0.5) -> dict[str, dict[str, float]] | None:
    """By phase: p50 and p95 over the answered turns with a Server-Timing, and the mean over the turns
    around the p95 of the customer's latency (93rd to 97th percentile): what the slow turns spent their time
    on. A phase a turn did not run counts 0; phases under `min_ms` everywhere are left out."""
    rows = []
    for s in sent:
        if s.status != 200 or not s.phases:
            continue
        phases = dict(s.phases)
        phases["outside"] = max(0.0, s.latency_ms - phases.get("wait", 0.0) - phases.get("turn", 0.0))
        rows.append((s.latency_ms, phases))
    if not rows:
        return None
    rows.sort(key=lambda r: r[0])
    low = int(0.93 * len(rows))
    near = [p for _, p in rows[low : max(int(0.97 * len(rows)), low + 1)]]
    names = sorted({n for _, p in rows for n in p}, key=lambda n: ((*PHASE_ORDER, n).index(n), n))
    out: dict[str, dict[str, float]] = {}
    for name in names:
        values = [p.get(name, 0.0) for _, p in rows]
        figures = {
            "p50": round(_percentile(values, 0.50), 1),
            "p95": round(_percentile(values, 0.95), 1),
            "near_p95": round(statistics.fmean(p.get(name, 0.0) for p in near), 1),
        }
        if max(figures.values()) >= min_ms:
            out[name] = figures
    return out


async def _get(client: aiohttp.ClientSession, url: str, timeout: float = 5) -> Any:
    async with client.get(url, timeout=aiohttp.ClientTimeout(total=timeout), headers=ops_headers()) as answer:
        return await answer.json(content_type=None)


_ERRORS = (aiohttp.ClientError, TimeoutError, ValueError)


async def _customer(
    n: int, run: Run, client: aiohttp.ClientSession, cases: list[list[str]], think_s: float
) -> None:
    rng = random.Random(n)
    token = None
    while token is None:
        try:
            status, body, _ = await _post(client, f"{run.url()}/v1/auth/guest")
            token = body["token"] if status == 201 else None
        except _ERRORS:
            pass
        if token is None:
            await asyncio.sleep(1)
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.uniform(0, think_s))  # customers arrive spread out, not all at once
    while True:
        turns = cases[rng.randrange(len(cases))]
        conversation_id = None
        while conversation_id is None:
            try:
                status, body, _ = await _post(client, f"{run.url()}/v1/conversations", headers=headers)
                if status == 201:
                    conversation_id = body["id"]
            except _ERRORS:
                pass
            if conversation_id is None:
                await asyncio.sleep(0.5)
        for turn in turns:
            if not run.claim_turn():
                return
            key = uuid.uuid4().hex
            t0 = time.perf_counter()
            record = Sent(key, conversation_id, None, 0.0, run.now())
            try:
                status, body, timing = await _post(
                    client,
                    f"{run.url()}/v1/conversations/{conversation_id}/messages",
                    headers={**headers, "Idempotency-Key": key},
                    json={"text": turn},
                )
                record.status = status
                if status == 200:
                    record.mode, record.outcome = body["mode"], body["outcome"]
                    record.spooled, record.held = body["spooled"], body["held"]
                    record.phases = parse_server_timing(timing)
                else:
                    record.error = f"HTTP {status}"
            except _ERRORS as exc:
                record.error = type(exc).__name__
            record.latency_ms = (time.perf_counter() - t0) * 1000
            run.sent.append(record)
            await asyncio.sleep(rng.expovariate(1 / think_s) if think_s > 0 else 0)


async def _monitor(run: Run, client: aiohttp.ClientSession, stop: asyncio.Event) -> None:
    last: dict[str, str] = {}
    while not stop.is_set():
        for url in run.urls:
            try:
                health = await _get(client, f"{url}/health", timeout=2)
                mode, reason = health.get("mode") or "starting", health.get("reason") or ""
            except (*_ERRORS, AttributeError):
                mode, reason = "unreachable", ""
            if last.get(url) != mode:
                last[url] = mode
                run.transitions.setdefault(url, []).append((round(run.now(), 2), mode, reason))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


_GC_LONG_S = "0.025"


def gc_figures(metrics_text: str) -> dict[str, float]:
    """A replica's garbage-collector totals from its /metrics (core.heap): collections, seconds, and the
    collections that held the GIL longer than 25 ms. Empty when it serves none (the floor)."""
    totals = {"collections": 0.0, "seconds": 0.0, "long": 0.0}
    for line in metrics_text.splitlines():
        name, _, value = line.rpartition(" ")
        if name.startswith("support_gc_pause_seconds_count{"):
            totals["collections"] += float(value)
            totals["long"] += float(value)
        elif name.startswith("support_gc_pause_seconds_sum{"):
            totals["seconds"] += float(value)
        elif name.startswith("support_gc_pause_seconds_bucket{") and f'le="{_GC_LONG_S}"' in name:
            totals["long"] -= float(value)
    return totals if totals["collections"] else {}


async def _gc_all(client: aiohttp.ClientSession, urls: list[str]) -> dict[str, dict[str, float]]:
    figures = {}
    for url in urls:
        try:
            metrics = client.get(
                f"{url}/metrics", timeout=aiohttp.ClientTimeout(total=10), headers=ops_headers()
            )
            async with metrics as answer:
                figures[url] = gc_figures(await answer.text()) if answer.status == 200 else {}
        except _ERRORS:
            figures[url] = {}
    return figures


def _gc_during(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, str]:
    """Per replica, what the collector cost during the run; a replica without the figures (the floor) is left
    out, as is one whose count went down (restarted: its figures start again)."""
    during = {}
    for url, end in after.items():
        start = before.get(url)
        if start and end and end["collections"] >= start["collections"]:
            n, seconds, long = (end[k] - start[k] for k in ("collections", "seconds", "long"))
            during[url] = f"{n:.0f} collections, {seconds * 1000:.0f} ms, {long:.0f} over 25 ms"
    return during


def _mode_at(run: Run, url: str) -> str:
    history = run.transitions.get(url) or [(0.0, "unknown", "")]
    return history[-1][1]


async def _chaos(run: Run, topo: Any, *, outage_s: float, gap_s: float, cooldown_s: float) -> None:
    """Each dependency down for `outage_s`, one after another, `gap_s` apart; then how long each replica
    took to serve in Full mode again after the restart."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(gap_s)
    for service in ("chroma", "llm", "postgres"):
        down_at = run.now()
        await loop.run_in_executor(None, topo.stop, service)
        await asyncio.sleep(outage_s)
        await loop.run_in_executor(None, topo.start, service)
        up_at = run.now()
        recovered: dict[str, float | None] = dict.fromkeys(run.urls)
        deadline = time.monotonic() + cooldown_s + 30
        while time.monotonic() < deadline and any(v is None for v in recovered.values()):
            for url in run.urls:
                if recovered[url] is None and _mode_at(run, url) == "full":
                    recovered[url] = round(run.now() - up_at, 2)
            await asyncio.sleep(0.2)
        seen = sorted(
            {m for url in run.urls for t, m, _ in run.transitions.get(url, []) if down_at <= t <= up_at + 1}
        )
        run.outages.append(
            {
                "service": service,
                "down_at_s": round(down_at, 2),
                "up_at_s": round(up_at, 2),
                "modes_seen": seen,
                "recovery_s": recovered,
                "recovery_limit_s": cooldown_s + 5,
            }
        )
        await asyncio.sleep(gap_s)


async def _drain(run: Run, client: aiohttp.ClientSession, timeout_s: float = 90) -> int:
    """Wait until no replica holds spooled entries; returns how many are still spooled at the end."""
    deadline = time.monotonic() + timeout_s
    pending = -1
    while time.monotonic() < deadline:
        pending = 0
        for url in run.urls:
            try:
                pending += int((await _get(client, f"{url}/health")).get("spooled", 0))
            except (*_ERRORS, AttributeError):
                pending += 1
        if pending == 0:
            return 0
        await asyncio.sleep(1)
    return pending


def _rows(database_url: str, query: str) -> list[Any]:
    """The rows of one query, on an engine of its own (the run's checks read the database after the load)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(query)))
    finally:
        engine.dispose()


def lost_messages(database_url: str, sent: list[Sent]) -> list[str]:
    """Keys of acknowledged messages with neither a stored reply nor a person holding the conversation for
    them (every bot turn, Offline and handoff included, stores a reply; held messages wait for the agent)."""
    acknowledged = {s.key for s in sent if s.status == 200}
    if not acknowledged:
        return []
    query = """
        SELECT m.idempotency_key FROM messages m
        WHERE m.role = 'customer' AND m.idempotency_key IS NOT NULL
          AND (m.status = 'for_agent' OR EXISTS (SELECT 1 FROM messages r WHERE r.reply_to = m.id))
        """  # answered: a stored reply, or held for the person who has the conversation
    answered = {row[0] for row in _rows(database_url, query)}
    return sorted(acknowledged - answered)


def turn_times_ms(database_url: str) -> list[float]:
    """Each stored turn's own time (`latencies_ms.total`: the graph, from the turn record): what a turn took
    once it ran. The client's latency minus this is waiting (for a worker, the lock, the CPU)."""
    rows = [row[0] for row in _rows(database_url, "SELECT latencies_ms FROM turn_records")]
    return [
        float(r["total"]) for r in rows if isinstance(r, dict) and isinstance(r.get("total"), int | float)
    ]


def llm_ms_by_key(database_url: str) -> dict[str, float]:
    """Per acknowledged message (its idempotency key): the time its turn spent in LLM calls that returned
    (`llm_calls[*].latency_ms` of the turn record; a call that timed out or failed is not in it)."""
    query = (
        "SELECT m.idempotency_key, t.llm_calls FROM turn_records t JOIN messages m ON m.id = t.message_id"
        " WHERE m.idempotency_key IS NOT NULL"
    )
    out: dict[str, float] = {}
    for key, calls in _rows(database_url, query):
        spent = [c.get("latency_ms") for c in (calls or {}).values() if isinstance(c, dict)]
        out[key] = float(sum(v for v in spent if isinstance(v, int | float)))
    return out


def _slowest_recovery(outages: list[dict[str, Any]]) -> float | None:
    """The slowest replica's recovery over all outages; None when there were none, or one never recovered."""
    times = [v for o in outages for v in o["recovery_s"].values()]
    return None if not times or any(v is None for v in times) else max(times)


def host_cpu(stat_text: str | None = None) -> dict[str, int]:
    """The machine's CPU time so far (Linux /proc/stat, in ticks): all of it, and what the hypervisor gave to
    other guests (steal), which slows every process of a run without showing in their own CPU time."""
    if stat_text is None:
        try:
            stat_text = Path("/proc/stat").read_text()
        except OSError:
            return {}
    fields = stat_text.splitlines()[0].split()
    if not fields or fields[0] != "cpu":
        return {}
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return {"total": sum(ticks), "steal": ticks[7] if len(ticks) > 7 else 0}


def _steal_pct(before: dict[str, int], after: dict[str, int]) -> float | None:
    total = after.get("total", 0) - before.get("total", 0)
    return (
        round(100 * (after["steal"] - before["steal"]) / total, 1) if before and after and total > 0 else None
    )


def _busy_pct(cpu_s: dict[str, float] | None, seconds: float) -> float | None:
    """The CPU time of every process measured over what the machine's cores had in `seconds`."""
    if not cpu_s or not seconds:
        return None
    return round(100 * sum(cpu_s.values()) / (seconds * (os.cpu_count() or 1)), 1)


def summarise(
    run: Run,
    seconds: float,
    lost: list[str] | None,
    still_spooled: int,
    *,
    turn_ms: list[float] | None = None,
    cpu_s: dict[str, float] | None = None,
    llm_ms: dict[str, float] | None = None,
    gc: dict[str, str] | None = None,
    steal_pct: float | None = None,
) -> dict[str, Any]:
    ok = [s for s in run.sent if s.status == 200]
    turns = max(1, len(run.sent))
    latencies = [s.latency_ms for s in ok]
    # The "non-LLM latency": what the customer waited minus what the turn spent in LLM calls. A turn
    # without a record (none stored yet: spooled) counts whole.
    non_llm = [max(0.0, s.latency_ms - llm_ms.get(s.key, 0.0)) for s in ok] if llm_ms else []
    errors = Counter(s.error for s in run.sent if s.error)
    return {
        "turns": len(run.sent),
        "seconds": round(seconds, 1),
        "turns_per_s": round(len(run.sent) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(_percentile(latencies, 0.50), 1),
        "p95_ms": round(_percentile(latencies, 0.95), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0.0,
        "non_llm_p50_ms": round(_percentile(non_llm, 0.50), 1) if non_llm else None,
        "non_llm_p95_ms": round(_percentile(non_llm, 0.95), 1) if non_llm else None,
        "non_llm_p99_ms": round(_percentile(non_llm, 0.99), 1) if non_llm else None,
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "modes_served": dict(Counter(s.mode for s in ok)),
        "outcomes": dict(Counter(s.outcome for s in ok)),
        "failed_turns": sum(s.outcome == "failed" for s in ok),
        "spooled_replies": sum(s.spooled for s in ok),
        "held_for_person": sum(s.held for s in ok),
        "turn_p50_ms": round(_percentile(turn_ms, 0.50), 1) if turn_ms else None,
        "turn_p95_ms": round(_percentile(turn_ms, 0.95), 1) if turn_ms else None,
        "phases_ms": phase_figures(run.sent),
        "cpu_ms_per_turn": {name: round(sec * 1000 / turns, 1) for name, sec in (cpu_s or {}).items()},
        "cpu_busy_pct": _busy_pct(cpu_s, seconds),
        "gc_per_replica": gc or {},
        "host_steal_pct": steal_pct,
        "lost_messages": None if lost is None else len(lost),
        "lost_keys": (lost or [])[:20],
        "still_spooled": still_spooled,
        "replicas": len(run.urls),
        "recovery_max_s": _slowest_recovery(run.outages),
        "transitions": {url: hist for url, hist in run.transitions.items()},
        "outages": run.outages,
    }


def _print(report: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nLoad: {report['turns']} turns from {args.conversations} concurrent customers over "
        f"{report['replicas']} API replicas, stub LLM latency {args.llm_latency_ms:g} ms"
    )
    print("| figure | value |\n|---|---|")
    rows = [
        ("throughput (turns/s)", report["turns_per_s"]),
        ("latency p50 / p95 / p99 (ms)", f"{report['p50_ms']} / {report['p95_ms']} / {report['p99_ms']}"),
        (
            "latency minus the turn's LLM calls, p50 / p95 / p99 (ms)",
            f"{report['non_llm_p50_ms']} / {report['non_llm_p95_ms']} / {report['non_llm_p99_ms']}",
        ),
        ("errors customers saw", f"{report['errors']} {report['errors_by_kind'] or ''}".strip()),
        ("turns that failed in the server (answered with the stored apology)", report["failed_turns"]),
        (
            "graph time per turn p50 / p95 (ms; in the server, not waiting for a worker)",
            f"{report['turn_p50_ms']} / {report['turn_p95_ms']}",
        ),
        ("where turns spent their time, ms by phase: p50 / p95 / mean near the p95", _phases(report)),
        ("CPU per turn by process (ms)", report["cpu_ms_per_turn"] or "n/a"),
        ("cores busy, all processes above (%)", report["cpu_busy_pct"] or "n/a"),
        ("CPU time the hypervisor gave other guests (steal, % of this machine's)", report["host_steal_pct"]),
        ("garbage collection per replica (pauses hold the GIL)", report["gc_per_replica"] or "n/a"),
        ("modes served", report["modes_served"]),
        ("outcomes", report["outcomes"]),
        ("replies spooled (database down)", report["spooled_replies"]),
        ("lost messages (acknowledged; no reply, not held for a person)", report["lost_messages"]),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    if report["outages"]:
        print(
            "\nChaos: | service | down..up (s) | modes seen | recovery to Full per replica (s) | limit (s) |"
        )
        for o in report["outages"]:
            rec = ", ".join("never" if v is None else f"{v}" for v in o["recovery_s"].values())
            print(
                f"| {o['service']} | {o['down_at_s']}..{o['up_at_s']} | {', '.join(o['modes_seen'])} | {rec} "
                f"| {o['recovery_limit_s']} |"
            )
        print("\nMode transitions per replica (s since start, mode):")
        for url, hist in report["transitions"].items():
            print(f"  {url}: " + " -> ".join(f"{t}:{m}" for t, m, _ in hist))


def _phases(report: dict[str, Any]) -> str:
    phases = report.get("phases_ms")
    if not phases:
        return "n/a (the replicas send no Server-Timing: API_SERVER_TIMING)"
    return ", ".join(f"{n} {f['p50']:g} / {f['p95']:g} / {f['near_p95']:g}" for n, f in phases.items())


async def _drive(args: argparse.Namespace, urls: list[str], topo: Any) -> dict[str, Any]:
    cases = [c.turns for c in load_cases(files=[args.datasets / name for name in QUESTION_FILES])]
    run = Run(urls=urls, turns=args.turns)
    connector = aiohttp.TCPConnector(limit=args.conversations + 20)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        stop = asyncio.Event()
        monitor = asyncio.create_task(_monitor(run, client, stop))
        chaos = (
            asyncio.create_task(
                _chaos(run, topo, outage_s=args.outage_s, gap_s=args.gap_s, cooldown_s=args.cooldown_s)
            )
            if args.chaos and topo is not None
            else None
        )
        # This process counts too: the simulated customers share the machine with what they load.
        cpu_before = {**(topo.cpu_seconds() if topo is not None else {}), "load-client": time.process_time()}
        gc_before = await _gc_all(client, urls)
        host_before = host_cpu()
        await asyncio.gather(
            *(_customer(n, run, client, cases, args.think_s) for n in range(args.conversations))
        )
        seconds = run.served_seconds()
        cpu_after = {**(topo.cpu_seconds() if topo is not None else {}), "load-client": time.process_time()}
        steal = _steal_pct(host_before, host_cpu())
        gc_during = _gc_during(gc_before, await _gc_all(client, urls))
        if chaos is not None:
            await chaos
        still = await _drain(run, client)
        stop.set()
        await monitor
    if topo is None:
        return summarise(run, seconds, None, still, gc=gc_during, steal_pct=steal)
    # A part restarted by the chaos run starts its count again: its figure is then only a lower bound.
    cpu = {name: max(0.0, cpu_after[name] - cpu_before[name]) for name in cpu_after if name in cpu_before}
    database = topo.env["DATABASE_URL"]
    return summarise(
        run,
        seconds,
        lost_messages(database, run.sent),
        still,
        turn_ms=turn_times_ms(database),
        cpu_s=cpu,
        llm_ms=llm_ms_by_key(database),
        gc=gc_during,
        steal_pct=steal,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100, help="concurrent simulated customers")
    parser.add_argument("--turns", type=int, default=5000, help="customer messages in all")
    parser.add_argument("--think-s", type=float, default=1.8, help="mean pause between a customer's turns")
    parser.add_argument("--replicas", type=int, default=2, help="API processes the topology starts")
    parser.add_argument("--worker-threads", type=int, default=4, help="API_WORKER_THREADS of each replica")
    parser.add_argument("--llm-latency-ms", type=float, default=0.0, help="the stub LLM's fixed latency")
    parser.add_argument("--chaos", action="store_true", help="stop and restart Chroma, the LLM and Postgres")
    parser.add_argument("--outage-s", type=float, default=10.0, help="how long each service stays down")
    parser.add_argument("--gap-s", type=float, default=15.0, help="pause before and between outages")
    parser.add_argument("--cooldown-s", type=float, default=5.0, help="BREAKER_COOLDOWN_S of the replicas")
    parser.add_argument("--request-timeout-s", type=float, default=60.0)
    parser.add_argument("--api", nargs="*", default=None, help="existing replicas instead of the topology")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="serve the floor (evals/topology/floor_app.py: the mandated parts, nothing of the app) instead",
    )
    parser.add_argument("--folder", type=Path, default=None, help="where the topology keeps data and logs")
    parser.add_argument("--datasets", type=Path, default=Path(__file__).parent / "datasets")
    parser.add_argument("--json", type=Path, help="also write the figures here as one JSON object")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a setting for the replicas (repeatable), e.g. --set EMBEDDING_QUERY_PRECISION=float32",
    )
    args = parser.parse_args(argv)
    if args.floor and (args.api or args.chaos):
        parser.error("--floor starts its own replicas and has no modes: not with --api or --chaos")
    if args.api:
        report = asyncio.run(_drive(args, args.api, None))
    else:
        from evals.topology import Topology, TopologyError

        folder = args.folder or Path(tempfile.mkdtemp(prefix="support-load-"))
        settings = {
            "BREAKER_COOLDOWN_S": str(args.cooldown_s),
            "API_RATE_LIMIT_PER_MIN": "100000",
            "API_LOGIN_LIMIT_PER_MIN": "100000",  # every simulated customer comes from 127.0.0.1
            "API_GUEST_LIMIT_PER_MIN": "1000000",
            "OMP_NUM_THREADS": "1",  # one torch thread per replica: replicas, not threads, use the cores
            "API_WORKER_THREADS": str(args.worker_threads),
            "API_BACKGROUND_S": "1",
            "API_SERVER_TIMING": "true",  # each turn says where its time went (the report's phases)
            "LOG_LEVEL": "WARNING",
        }
        for item in args.set:
            name, sep, value = item.partition("=")
            if not sep or not name.isupper():
                parser.error(f"--set takes SETTING=VALUE, got {item!r}")
            settings[name] = value
        print(f"Starting the topology in {folder} (logs in {folder / 'logs'}) ...", flush=True)
        try:
            with Topology(
                folder,
                replicas=args.replicas,
                llm_latency_ms=args.llm_latency_ms,
                settings=settings,
                api_app="evals.topology.floor_app:app" if args.floor else "app.api.main:app",
            ) as topo:
                print(f"API replicas: {', '.join(topo.api_urls)}", flush=True)
                report = asyncio.run(_drive(args, topo.api_urls, topo))
        except TopologyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    _print(report, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if passed(report, chaos=args.chaos) else 1


def passed(report: dict[str, Any], *, chaos: bool) -> bool:
    """No error a customer saw, nothing lost or left in a spool; without chaos no turn failed in the server
    (with every part up, that is a defect; an outage may fail one), with chaos every recovery in time."""
    if report["errors"] or report["lost_messages"] or report["still_spooled"]:
        return False
    if not chaos:
        return not report["failed_turns"]
    return all(
        v is not None and v <= o["recovery_limit_s"]
        for o in report["outages"]
        for v in o["recovery_s"].values()
    )


if __name__ == "__main__":
    raise SystemExit(main())
