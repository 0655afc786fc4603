"""A throwaway PostgreSQL server for tests: its own data folder and port, gone afterwards (~1.2 s to start).

Uses the server binaries of Debian's `postgresql` package (`make test` installs it when run as root).
`initdb` refuses to run as root, so as root every server command runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "free_port", "postgres_available", "throwaway_postgres"]

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_START_ATTEMPTS = 3


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the throwaway server would not start."""


def _major_version(bin_dir: Path) -> int:
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else -1


def _bin_dir() -> Path | None:
    """The newest installed server's bin folder holding both initdb and pg_ctl."""
    found = [Path(p).parent for p in glob.glob(f"{_BIN_GLOB}/initdb")]
    return max((d for d in found if (d / "pg_ctl").is_file()), key=_major_version, default=None)


def _as_root() -> bool:
    return os.geteuid() == 0


def postgres_available() -> bool:
    """True when a throwaway server can be started here: initdb found (and, as root, a `postgres` user)."""
    if _bin_dir() is None:
        return False
    if not _as_root():
        return True
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return shutil.which("runuser") is not None


def _others_can_enter(path: Path) -> bool:
    """Whether a non-root user can reach `path` (every folder on the way searchable by others)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], *, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["runuser", "-u", "postgres", "--", *args] if _as_root() else args
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(args[0]).name} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}"
        )
    return result


def _start(pg_ctl: str, pgdata: Path, port: int | None = None, *, durable: bool = False) -> int:
    """Start the server on `port` (or a free one) and return the port. Not `durable`: without fsync and
    with asynchronous commit (fast, for tests); a crash may then lose commits it acknowledged."""
    sync = "on" if durable else "off"
    for _ in range(_START_ATTEMPTS):
        port = port or free_port()  # another process may take a free port first: then try another
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {pgdata}"
        options += f" -c fsync={sync} -c synchronous_commit={sync}"
        started = _run(
            [pg_ctl, "-D", str(pgdata), "-l", str(pgdata / "log"), "-w", "-t", "60", "-o", options, "start"],
            cwd=pgdata,
            check=False,
        )
        if started.returncode == 0:
            return port
        port = None
    log = pgdata / "log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
    raise PostgresUnavailable(f"pg_ctl start failed {_START_ATTEMPTS} times; server log:\n{tail}")


class PostgresServer:
    """A running throwaway server that a test may stop and start again (same data, same port)."""

    def __init__(self, pg_ctl: str, pgdata: Path, *, durable: bool = False) -> None:
        self._pg_ctl = pg_ctl
        self._pgdata = pgdata
        self._durable = durable
        self.port = _start(pg_ctl, pgdata, durable=durable)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self, *, mode: str = "fast") -> None:
        """Stop; "fast" keeps committed data (the server runs without fsync), "immediate" may lose it."""
        _run([self._pg_ctl, "-D", str(self._pgdata), "-m", mode, "-w", "stop"], cwd=self._pgdata, check=False)

    def start(self) -> None:
        _start(self._pg_ctl, self._pgdata, self.port, durable=self._durable)

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while the server runs."""
        try:
            return int((self._pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """Like `throwaway_postgres`, but yields the server so a test can take the database down and back;
    `durable` (fsync, synchronous commit) as in production, for runs that crash it on purpose."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(f"no initdb under {_BIN_GLOB}; install the `postgresql` package")
    tmp_root = Path(tempfile.gettempdir())
    if _as_root() and not _others_can_enter(tmp_root):
        tmp_root = Path("/tmp")  # the server runs as `postgres` and must reach its data folder
    pgdata = Path(tempfile.mkdtemp(prefix="pgtest-", dir=tmp_root))
    try:
        if _as_root():
            shutil.chown(pgdata, "postgres", "postgres")
        initdb = [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust"]
        _run([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], cwd=pgdata)
        server = PostgresServer(str(bin_dir / "pg_ctl"), pgdata, durable=durable)
        try:
            yield server
        finally:
            server.stop(mode="immediate")
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start an empty server on a free 127.0.0.1 port; yield its SQLAlchemy URL; stop it and delete it."""
    with postgres_server() as server:
        yield server.url
