"""The docker-compose topology as local processes, configured by the same environment variables:
PostgreSQL (Debian's server binaries), `chroma run`, a stub OpenAI-compatible LLM, N uvicorn API replicas
and, optionally, the Streamlit UI. Used by the integration suite and by the load and chaos runs, which stop
and start single services while customers talk.

    with Topology(folder, replicas=2) as topo:
        topo.api_urls          # ["http://127.0.0.1:PORT", ...]
        topo.stop("chroma"); topo.start("chroma")
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.config import PROJECT_ROOT
from evals.topology.postgres import PostgresServer, free_port, postgres_available, postgres_server

__all__ = ["SERVICES", "Topology", "TopologyError", "postgres_available"]

SERVICES = ("postgres", "chroma", "llm")
"""What a chaos run may stop and start again."""
STUB_MODEL = "openai:stub-support-model"
API_SECRET = "topology-secret-for-local-processes-only-0123456789"


class TopologyError(RuntimeError):
    """A part of the topology would not start; the message carries the end of its log."""


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return 200 <= int(answer.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process tree from /proc (Linux): the process with its threads, the children it has
    reaped (PostgreSQL's finished backends), and its live descendants. 0.0 where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError):
        return 0.0
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK") + sum(_cpu_seconds(int(c)) for c in children)


class _Process:
    """One child process with its log file; stop is SIGTERM, then SIGKILL."""

    def __init__(
        self, name: str, args: list[str], *, env: dict[str, str], log: Path, health: str | None
    ) -> None:
        self.name, self.args, self.env, self.log, self.health = name, args, env, log, health
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 120.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
            )
        if self.health is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TopologyError(f"{self.name} exited ({self.proc.returncode}):\n{_tail(self.log)}")
            if _http_ok(self.health):
                return
            time.sleep(0.2)
        raise TopologyError(
            f"{self.name} not healthy at {self.health} in {timeout:.0f} s:\n{_tail(self.log)}"
        )

    def stop(self, *, kill: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Topology:
    """Start everything in `folder` (data, logs); `close()` stops it all and keeps the logs."""

    def __init__(
        self,
        folder: Path,
        *,
        replicas: int = 2,
        llm: bool = True,
        llm_latency_ms: float = 0.0,
        ui: bool = False,
        settings: dict[str, str] | None = None,
        api_app: str = "app.api.main:app",
    ) -> None:
        """`api_app` is what the replicas serve: the app, or `evals.topology.floor_app:app` (the floor)."""
        self.folder = Path(folder)
        self.api_app = api_app
        self.replicas = replicas
        self.llm_enabled = llm
        self.llm_latency_ms = llm_latency_ms
        self.ui_enabled = ui
        self.extra = dict(settings or {})
        self._pg_cm: Any = None
        self.postgres: PostgresServer | None = None
        self.processes: dict[str, _Process] = {}
        self.api_urls: list[str] = []
        self.ui_url: str | None = None
        self.env: dict[str, str] = {}

    # lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> Topology:
        try:
            self.start_all()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_all(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pg_cm = postgres_server(durable=True)  # stopped like a crash: must keep what it acknowledged
        self.postgres = self._pg_cm.__enter__()
        chroma_port, llm_port = free_port(), free_port()
        bin_dir = Path(sys.executable).parent
        chroma = shutil.which("chroma", path=str(bin_dir)) or shutil.which("chroma")
        if chroma is None:
            raise TopologyError("the `chroma` command is not installed (pip install chromadb)")
        base = {k: v for k, v in os.environ.items() if not k.isupper() or not _is_setting(k)}
        db = self.postgres.url
        self.env = {
            **base,
            "ENV": "test",
            "DATABASE_URL": db,
            "CHECKPOINT_URL": db.replace("postgresql+psycopg://", "postgresql://", 1),
            "CHROMA_URL": f"http://127.0.0.1:{chroma_port}",
            "API_SECRET": API_SECRET,
            "LANGFUSE_TRACING_ENABLED": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "KB_EVAL_CHECK": "false",
            **(
                {
                    "LLM_MODELS": json.dumps([STUB_MODEL]),
                    "LLM_OPTIONS": json.dumps(
                        {STUB_MODEL: {"base_url": f"http://127.0.0.1:{llm_port}/v1", "api_key": "sk-stub"}}
                    ),
                }
                if self.llm_enabled
                else {"LLM_MODELS": "[]"}
            ),
            **self.extra,
        }
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        self.processes["chroma"] = _Process(
            "chroma",
            [
                chroma,
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(chroma_port),
                "--path",
                str(self.folder / "chroma"),
            ],
            env={"RUST_LOG": "warn", **self.env},  # as docker-compose.yml: no log line per request
            log=logs / "chroma.log",
            health=f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat",
        )
        self.processes["chroma"].start()
        if self.llm_enabled:
            self.processes["llm"] = _Process(
                "llm",
                [
                    sys.executable,
                    "-m",
                    "evals.topology.stub_llm",
                    "--port",
                    str(llm_port),
                    "--latency-ms",
                    str(self.llm_latency_ms),
                ],
                env=self.env,
                log=logs / "llm.log",
                health=None,
            )
            self.processes["llm"].start()
        self._once("migrate", [sys.executable, "-m", "core.migrate", "upgrade"], logs)
        self._once("seed", [sys.executable, "-m", "knowledge.seed"], logs)
        for n in range(self.replicas):
            self.processes[f"api-{n}"], url = self._replica(f"api-{n}", self.api_app)
            self.api_urls.append(url)
        for n in range(self.replicas):  # started one by one: each loads the embedding model
            self.processes[f"api-{n}"].start(timeout=180)
        if self.ui_enabled:
            port = free_port()
            self.processes["ui"] = _Process(
                "ui",
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    "app/ui/main.py",
                    "--server.address",
                    "127.0.0.1",
                    "--server.port",
                    str(port),
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                ],
                env={**self.env, "DATA_DIR": str(self.folder / "ui")},
                log=logs / "ui.log",
                health=f"http://127.0.0.1:{port}/_stcore/health",
            )
            self.processes["ui"].start()
            self.ui_url = f"http://127.0.0.1:{port}"

    def _replica(self, name: str, api_app: str) -> tuple[_Process, str]:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "uvicorn", api_app, "--host", "127.0.0.1", "--port", str(port)]
        process = _Process(
            name,
            [*serve, "--log-level", "warning", "--no-access-log"],
            env={**self.env, "DATA_DIR": str(self.folder / name)},  # each replica's own spool
            log=self.folder / "logs" / f"{name}.log",
            health=f"{url}/ready",
        )
        return process, url

    @contextlib.contextmanager
    def extra_replica(self, api_app: str) -> Iterator[str]:
        """One more replica serving `api_app` on the running services, stopped when the block ends; it is
        not among `api_urls` (the load, chaos and health checks do not see it)."""
        process, url = self._replica(f"extra-{uuid.uuid4().hex[:8]}", api_app)
        process.start(timeout=180)
        try:
            yield url
        finally:
            process.stop()

    def _once(self, name: str, args: list[str], logs: Path) -> None:
        done = subprocess.run(
            args, env={**self.env, "DATA_DIR": str(self.folder / name)}, cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        (logs / f"{name}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise TopologyError(f"{name} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")

    def close(self) -> None:
        for proc in reversed(list(self.processes.values())):
            with contextlib.suppress(Exception):
                proc.stop()
        if self._pg_cm is not None:
            with contextlib.suppress(Exception):
                self._pg_cm.__exit__(None, None, None)
            self._pg_cm = None

    # chaos -----------------------------------------------------------------------------------------
    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each part (its whole process tree; Linux only, else empty)."""
        if not Path("/proc/self/stat").exists():
            return {}
        pids = {name: p.proc.pid for name, p in self.processes.items() if p.proc is not None}
        if self.postgres is not None and self.postgres.pid is not None:
            pids["postgres"] = self.postgres.pid
        return {name: _cpu_seconds(pid) for name, pid in pids.items()}

    def stop(self, service: str) -> None:
        """Take one dependency down: postgres (immediate shutdown), chroma or llm (SIGKILL, like a crash)."""
        if service == "postgres":
            assert self.postgres is not None
            self.postgres.stop(mode="immediate")
        elif service in self.processes:
            self.processes[service].stop(kill=True)
        else:
            raise ValueError(f"unknown service {service!r}; one of {SERVICES}")

    def start(self, service: str) -> None:
        if service == "postgres":
            assert self.postgres is not None
            self.postgres.start()
        elif service in self.processes:
            self.processes[service].start()
        else:
            raise ValueError(f"unknown service {service!r}; one of {SERVICES}")

    def health(self) -> list[dict[str, Any]]:
        """Each replica's /health (an {"error": ...} entry for one that does not answer)."""
        out: list[dict[str, Any]] = []
        for url in self.api_urls:
            try:
                request = urllib.request.Request(f"{url}/health", headers=ops_headers())
                with urllib.request.urlopen(request, timeout=5) as answer:
                    out.append(json.loads(answer.read()))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                out.append({"error": type(exc).__name__})
        return out


def ops_headers() -> dict[str, str]:
    """The operators' token (API_OPS_TOKEN in this environment) for /health and /metrics, when one is set."""
    token = os.environ.get("API_OPS_TOKEN", "")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _is_setting(name: str) -> bool:
    """Environment variables the app reads (its settings), which the topology sets itself."""
    from core.config import Settings

    return name.lower() in Settings.model_fields
