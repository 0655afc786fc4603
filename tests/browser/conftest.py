"""Browser fixtures: Debian's chromium driven by Playwright, and a real `streamlit run` server over a fresh,
seeded data directory (SQLite, embedded Chroma, no LLM: Minimal mode).

Missing playwright or chromium skips these tests locally and fails them under CI, which must run them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from evals.topology.postgres import free_port
from tests.ci import unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAIN_SCRIPT = PROJECT_ROOT / "app" / "ui" / "main.py"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
# Settings the test process carries (tests/conftest.py) or a developer's shell might, that must not reach
# the server: without them it uses SQLite and embedded Chroma under DATA_DIR, and no LLM (Minimal mode).
_SCRUBBED = ("DATABASE_URL", "CHECKPOINT_URL", "CHROMA_URL", "LLM_MODELS", "LLM_OPTIONS", "CHAOS_ENABLED")
_FLAGS = "--server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false".split()
_SEED_TIMEOUT_S = 600
_HEALTH_TIMEOUT_S = 60


def _unavailable(reason: str) -> NoReturn:
    unavailable(reason, what="browser tests")


def chromium_executable() -> str | None:
    """$CHROMIUM, else the first of Debian's chromium paths that exists."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((p for p in CHROMIUM_CANDIDATES if Path(p).is_file()), None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless chromium (the system's, not Playwright's download) for the whole session."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (`pip install -c constraints.txt -e '.[dev]'`)")
    executable = chromium_executable()
    if executable is None:
        where = os.environ.get("CHROMIUM") or " or ".join(CHROMIUM_CANDIDATES)
        _unavailable(f"no chromium at {where} (`apt-get install chromium`; `make test` does it as root)")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except PlaywrightError as exc:  # a chromium that cannot start is as good as a missing one
        pw.stop()
        _unavailable(f"chromium at {executable} does not start: {exc}")
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


@dataclass
class AppServer:
    """A running `streamlit run` of the app, with its own data directory and logs."""

    url: str
    data_dir: Path
    artifacts: Path
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr_tail(self, lines: int = 60) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server stderr is empty)"


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["KB_EVAL_CHECK"] = "false"  # the studio's eval check on publish is tested with the page (AppTest)
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "ENV": "dev",
            "LANGFUSE_TRACING_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _tail(text: str | bytes | None, lines: int = 40) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join((text or "").splitlines()[-lines:])


def _prepare(env: dict[str, str], cwd: Path) -> None:
    """What `make seed` does: migrate, import and index the demo help center, create the demo accounts."""
    for args in (
        ["-m", "core.migrate", "upgrade"],
        ["-m", "knowledge.seed"],
        ["-m", "core.users", "seed-demo"],
    ):
        try:
            done = subprocess.run(
                [sys.executable, *args],
                env=env,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=_SEED_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"`python {' '.join(args)}` took over {_SEED_TIMEOUT_S} s:\n{_tail(exc.stderr)}")
        if done.returncode != 0:
            output = f"{_tail(done.stdout)}\n{_tail(done.stderr)}"
            pytest.fail(f"`python {' '.join(args)}` exited {done.returncode}:\n{output}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_healthy(server: AppServer) -> None:
    deadline = time.monotonic() + _HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"streamlit exited with {server.process.returncode} before it was healthy:\n"
                + server.stderr_tail()
            )
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200 and resp.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit was not healthy within {_HEALTH_TIMEOUT_S} s:\n{server.stderr_tail()}")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app on a free port over a freshly seeded DATA_DIR; the process group is killed afterwards.

    The subprocesses run from the temporary folder, so a developer's `.env` in the checkout is not read.
    """
    root = tmp_path_factory.mktemp("browser")
    data_dir, artifacts = root / "data", root / "artifacts"
    data_dir.mkdir()
    artifacts.mkdir()
    env = _server_env(data_dir)
    _prepare(env, cwd=root)

    port = free_port()
    stdout_path, stderr_path = root / "streamlit.out", root / "streamlit.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(MAIN_SCRIPT), "--server.port", str(port), *_FLAGS],
            env=env,
            cwd=root,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, killed whole at teardown
        )
    server = AppServer(
        url=f"http://127.0.0.1:{port}",
        data_dir=data_dir,
        artifacts=artifacts,
        process=process,
        stderr_path=stderr_path,
    )
    try:
        _wait_healthy(server)
        yield server
    finally:
        _stop(process)


@pytest.fixture(autouse=True)
def _server_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test using the server fails, show the end of the server's stderr with the failure."""
    yield
    if "app_server" not in request.fixturenames:
        return
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        server: AppServer = request.getfixturevalue("app_server")
        print(f"--- streamlit stderr (tail) ---\n{server.stderr_tail()}")
