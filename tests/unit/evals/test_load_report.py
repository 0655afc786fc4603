"""What `python -m evals.load` reports and when it fails, from the records a run keeps."""

from __future__ import annotations

from evals.load import Run, Sent, parse_server_timing, passed, summarise


def _run(*records: tuple[int | None, str | None, str | None]) -> Run:
    run = Run(urls=["http://a"], turns=len(records))
    for n, (status, outcome, error) in enumerate(records):
        run.sent.append(Sent(f"k{n}", "c", status, 10.0 * (n + 1), 0.0, "full", outcome, error=error))
    return run


def test_a_turn_answered_with_the_apology_counts_as_failed_not_as_a_customer_error():
    report = summarise(_run((200, "answered", None), (200, "failed", None)), 1.0, [], 0)
    assert (report["errors"], report["failed_turns"]) == (0, 1)
    assert not passed(report, chaos=False)  # every part was up: a failed turn is a defect
    assert passed(report, chaos=True)  # under chaos one may meet an outage; recoveries decide (none here)


def test_errors_lost_messages_and_slow_recoveries_fail_the_run():
    clean = summarise(_run((200, "answered", None), (200, "handoff", None)), 1.0, [], 0)
    assert passed(clean, chaos=False)
    assert not passed(summarise(_run((None, None, "TimeoutError")), 1.0, [], 0), chaos=False)
    assert not passed(summarise(_run((200, "answered", None)), 1.0, ["lost-key"], 0), chaos=False)
    assert not passed(summarise(_run((200, "answered", None)), 1.0, [], 2), chaos=False)
    slow = {**clean, "outages": [{"recovery_limit_s": 10, "recovery_s": {"a": 4.0, "b": 11.0}}]}
    never = {**clean, "outages": [{"recovery_limit_s": 10, "recovery_s": {"a": None}}]}
    in_time = {**clean, "outages": [{"recovery_limit_s": 10, "recovery_s": {"a": 4.0, "b": 9.5}}]}
    assert (passed(slow, chaos=True), passed(never, chaos=True), passed(in_time, chaos=True)) == (
        False,
        False,
        True,
    )


def test_throughput_counts_until_the_last_answer_not_the_customers_last_pause():
    run = Run(urls=["http://a"], turns=3)
    for n, (at, latency_ms) in enumerate([(0.0, 100.0), (0.5, 500.0), (1.5, 500.0)]):
        run.sent.append(Sent(f"k{n}", "c", 200, latency_ms, at, "full", "answered"))
    assert run.served_seconds() == 2.0  # the last answer came at 1.5 s + 0.5 s
    assert summarise(run, run.served_seconds(), [], 0)["turns_per_s"] == 1.5
    assert Run(urls=["http://a"], turns=1).served_seconds() == 0.0


def test_cores_busy_counts_every_process_including_the_load_client(monkeypatch):
    monkeypatch.setattr("evals.load.os.cpu_count", lambda: 2)
    cpu = {"api-0": 0.6, "api-1": 0.6, "postgres": 0.2, "load-client": 0.2}
    report = summarise(_run((200, "answered", None), (200, "answered", None)), 2.0, [], 0, cpu_s=cpu)
    assert report["cpu_busy_pct"] == 40.0  # 1.6 CPU-seconds of the 4 two cores had in 2 s
    assert report["cpu_ms_per_turn"]["load-client"] == 100.0
    assert summarise(_run((200, "answered", None)), 1.0, [], 0)["cpu_busy_pct"] is None


def test_non_llm_latency_takes_each_turns_llm_time_off_what_its_customer_waited():
    run = _run((200, "answered", None), (200, "answered", None), (200, "handoff", None))  # 10, 20, 30 ms
    report = summarise(run, 1.0, [], 0, llm_ms={"k0": 4.0, "k1": 25.0})  # k2: no record (spooled), whole
    assert (report["non_llm_p50_ms"], report["non_llm_p99_ms"]) == (6.0, 30.0)  # 6, 0 (not below 0), 30
    assert report["p99_ms"] == 30.0
    assert summarise(run, 1.0, [], 0)["non_llm_p95_ms"] is None  # no turn records (the floor): not shown


def test_gc_figures_read_back_what_a_replicas_metrics_expose_and_the_run_shows_the_difference():
    from prometheus_client import CollectorRegistry, generate_latest

    from app.api.metrics import _GcCollector
    from core.heap import BUCKETS_S, GcPauses
    from evals.load import _gc_during, gc_figures

    pauses = GcPauses()
    pauses.counts[0][0] = 90  # under 1 ms
    pauses.counts[2][BUCKETS_S.index(0.025)] = 2  # 10-25 ms: not long
    pauses.counts[2][BUCKETS_S.index(0.25)] = 1  # 100-250 ms: long
    pauses.seconds[0], pauses.seconds[2] = 0.05, 0.2
    registry = CollectorRegistry()
    registry.register(_GcCollector(pauses))
    before = gc_figures(generate_latest(registry).decode())
    assert before == {"collections": 93, "seconds": 0.25, "long": 1}
    pauses.counts[2][-1] += 1  # one more, past every bound
    pauses.seconds[2] += 0.6
    after = gc_figures(generate_latest(registry).decode())
    assert _gc_during({"a": before, "b": before}, {"a": after, "b": {}}) == {
        "a": "1 collections, 600 ms, 1 over 25 ms"  # b: no figures after (restarted, or the floor)
    }
    assert gc_figures("# nothing of the collector here\nsupport_turns_total 3.0\n") == {}


def test_steal_is_the_share_of_the_machines_ticks_the_hypervisor_gave_away():
    from evals.load import _steal_pct, host_cpu

    before = host_cpu("cpu  100 0 50 800 10 0 5 35 0 0\ncpu0 50 0 25 400 5 0 2 18 0 0\n")
    after = host_cpu("cpu  160 0 70 900 10 0 5 55 0 0\n")
    assert before == {"total": 1000, "steal": 35} and after["total"] == 1200
    assert _steal_pct(before, after) == 10.0  # 20 of 200 ticks
    assert _steal_pct({}, after) is None
    assert host_cpu("intr 1 2 3\n") == {}  # not the summary line: nothing rather than a wrong figure


def test_server_timing_is_read_back_into_phases_and_junk_entries_are_skipped():
    assert parse_server_timing('wait;dur=1.25, graph;desc="g";dur=30, node.retrieve;dur=12.5') == {
        "wait": 1.25,
        "graph": 30.0,
        "node.retrieve": 12.5,
    }
    assert parse_server_timing("cache, db;dur=abc, ;dur=3") == {}
    assert parse_server_timing(None) is None


def test_phases_show_what_the_slow_turns_spent_their_time_on():
    run = Run(urls=["http://a"], turns=100)
    for n in range(100):  # the slow turns waited for a worker; every turn ran ~20 ms
        wait = 60.0 if n >= 90 else 1.0
        phases = {"wait": wait, "turn": 20.0, "graph": 15.0, "tiny": 0.1}
        if n % 2:
            phases["node.answer"] = 4.0
        run.sent.append(Sent(f"k{n}", "c", 200, wait + 20.0 + 2.0, 0.0, "full", "answered", phases=phases))
    run.sent.append(Sent("x", "c", 200, 5.0, 0.0, "full", "answered"))  # no header (a replica without it)
    phases = summarise(run, 1.0, [], 0)["phases_ms"]
    assert list(phases) == ["outside", "wait", "turn", "graph", "node.answer"]  # in turn order; no "tiny"
    assert phases["wait"] == {"p50": 1.0, "p95": 60.0, "near_p95": 60.0}
    assert phases["outside"]["p95"] == 2.0  # what the client saw beyond wait + turn
    assert phases["node.answer"] == {"p50": 4.0, "p95": 4.0, "near_p95": 2.0}  # half of them: 0 elsewhere
    assert summarise(_run((200, "answered", None)), 1.0, [], 0)["phases_ms"] is None
