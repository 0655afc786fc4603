"""The docker-compose deployment validates, refuses to start without its secrets, and keeps its promises:
scalable api replicas checked on /ready, every app service wired to the shared stores, Langfuse opt-in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci import unavailable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
APP_SERVICES = ("migrate", "api", "ui")
REQUIRED = {"POSTGRES_PASSWORD": "test-postgres-password", "API_SECRET": "x" * 40}


def compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker-compose config -q` with exactly `env`: neither the caller's environment nor a developer's .env
    (an empty --env-file replaces it) can supply a value the test means to leave out."""
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose is not installed; make test installs it", what="compose validation")
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    return subprocess.run(
        [binary, "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def services() -> dict[str, dict[str, Any]]:
    """The services as YAML reads them: anchors and merge keys resolved, no variable substituted."""
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def environment_names(service: dict[str, Any]) -> set[str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {item.split("=", 1)[0] for item in env}
    return set(env)


def test_the_compose_file_validates_with_its_required_variables(tmp_path):
    result = compose_config(tmp_path, REQUIRED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_secret_fails_validation_and_names_the_variable(tmp_path, missing):
    env = {name: value for name, value in REQUIRED.items() if name != missing}
    result = compose_config(tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stdout + result.stderr


def test_services_keep_the_deployment_promises():
    svc = services()

    api = svc["api"]
    assert "container_name" not in api, "a fixed container name would stop `--scale api=N`"
    for port in api.get("ports", []):
        # "${API_PORT:-8000}-${API_PORT_MAX:-8010}:8000" with its defaults is "8000-8010:8000": a range
        spec = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", str(port))
        host = spec.rsplit(":", 1)[0] if ":" in spec else ""
        assert not host or "-" in host, f"api publishes one fixed host port ({port}): it cannot scale"
    test = api["healthcheck"]["test"]
    assert "/ready" in (test if isinstance(test, str) else " ".join(test))

    for name in APP_SERVICES:
        assert {"DATABASE_URL", "CHROMA_URL", "API_SECRET"} <= environment_names(svc[name]), name
    for name in ("api", "ui"):  # the spool outlives a container; turns in flight may end before a stop
        assert any(str(v).endswith(":/app/var") for v in svc[name].get("volumes", [])), name
        assert svc[name].get("stop_grace_period"), name
        assert "profiles" not in svc[name], f"{name} must start with a plain `docker-compose up`"

    langfuse = {name for name in svc if name.startswith("langfuse")}
    assert {"langfuse-web", "langfuse-worker"} <= langfuse
    for name in langfuse:
        assert svc[name].get("profiles") == ["langfuse"], name
    for name in set(svc) - langfuse:
        assert "profiles" not in svc[name], f"{name} is part of the default stack"
        assert not any(dep.startswith("langfuse") for dep in svc[name].get("depends_on", {})), name


def test_env_example_lists_every_variable_the_compose_file_reads():
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    listed = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert read - listed == set()


def test_the_image_defaults_to_prod_so_a_bare_run_refuses_a_dev_secret():
    """`docker run` without ENV listens on 0.0.0.0: the image's own default must be prod (a real API_SECRET,
    no demo passwords), and torch comes from the CPU index."""
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    env_lines = re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", dockerfile, flags=re.M)
    assert any(re.search(r"(^|\s)ENV=prod(\s|$)", block.replace("\\\n", " ")) for block in env_lines)
    assert "download.pytorch.org/whl/cpu" in dockerfile
