"""The knowledge base command lines, run as a person would: bulk import of a folder as an editor, and a full
index rebuild with its docs/s."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.migrate import upgrade
from core.users import Role
from knowledge.studio import Studio
from tests.accounts import PASSWORD, account
from tests.pdfs import write_pdf

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _run(data_dir: Path, module: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CHROMA_URL")}
    env.update({"DATA_DIR": str(data_dir), "ENV": "test", "LANGFUSE_TRACING_ENABLED": "false"})
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=PROJECT_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _bulk(data_dir: Path, folder: Path, username: str, *flags: str, password: str = PASSWORD) -> Any:
    """`python -m knowledge.bulk_import FOLDER --by USER --password-stdin FLAGS`, the password piped in."""
    return _run(
        data_dir,
        "knowledge.bulk_import",
        str(folder),
        "--by",
        username,
        "--password-stdin",
        *flags,
        stdin=password + "\n",
    )


def _folder(root: Path) -> Path:
    folder = root / "import"
    (folder / "more").mkdir(parents=True)
    (folder / "returns.md").write_text("# Returns\n\n## Window\n\nReturn items within 30 days.\n")
    (folder / "shipping.html").write_text(
        "<html><head><title>Shipping</title></head><body><nav>Menu</nav><h1>Shipping</h1>"
        "<h2>Costs</h2><p>Shipping is free over 50 euros.</p></body></html>"
    )
    (folder / "faq.csv").write_text("question,answer\nDo you ship abroad?,Yes to 20 countries.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    (folder / "logo.png").write_bytes(b"\x89PNG not an article")
    write_pdf(
        folder / "more" / "assembly.pdf", "Assembly", [("Prices", "Assembly of a bed costs 30 pounds.")]
    )
    return folder


def test_bulk_import_of_a_folder_drafts_then_publishes_and_reports_bad_files(tmp_path):
    settings = Settings(data_dir=tmp_path, env="test")
    upgrade(settings.database_url)
    editor = account(settings.database_url, Role.EDITOR)
    folder = _folder(tmp_path)

    drafted = _bulk(tmp_path, folder, editor.username)
    assert drafted.returncode == 0, drafted.stderr
    assert "draft      returns.md -> returns v1" in drafted.stdout
    assert "draft      shipping.html -> shipping v1" in drafted.stdout
    assert "draft      faq.csv -> faq v1" in drafted.stdout
    assert "error      broken.pdf" in drafted.stderr and "logo.png" not in drafted.stdout + drafted.stderr
    assert "assembly" not in drafted.stdout  # sub-folders only with --recursive
    assert drafted.stdout.strip().endswith("3 draft, 1 error")
    studio = Studio(settings)
    assert {a.slug: a.status for a in studio.articles(editor)} == {
        "returns": "draft",
        "shipping": "draft",
        "faq": "draft",
    }

    published = _bulk(tmp_path, folder, editor.username, "--publish", "--recursive")
    assert published.returncode == 0, published.stderr
    assert "published  assembly.pdf -> more-assembly v1" in published.stdout
    assert "published  returns.md -> returns v1" in published.stdout  # the open draft had the same text
    statuses = {a.slug: a.status for a in studio.articles(editor)}
    assert statuses == {
        "returns": "published",
        "shipping": "published",
        "faq": "published",
        "more-assembly": "published",
    }
    entries = studio.audit_log(editor)
    assert {e.actor for e in entries} == {editor.username}
    assert {e.action for e in entries} == {"draft_saved", "published"}

    again = _bulk(tmp_path, folder, editor.username, "--publish")
    assert "unchanged  returns.md -> returns" in again.stdout

    verify = _run(tmp_path, "knowledge.reindex", "--verify", "--dry-run")
    assert verify.returncode == 0 and "consistent: 4 published chunks" in verify.stdout, verify.stdout


def test_bulk_import_refuses_a_wrong_password_a_non_editor_and_a_missing_folder(tmp_path):
    settings = Settings(data_dir=tmp_path, env="test")
    upgrade(settings.database_url)
    editor = account(settings.database_url, Role.EDITOR)
    agent = account(settings.database_url, Role.AGENT)
    folder = _folder(tmp_path)
    wrong = _bulk(tmp_path, folder, editor.username, password="not-the-password")
    assert wrong.returncode == 2 and "wrong username or password" in wrong.stderr
    refused = _bulk(tmp_path, folder, agent.username)
    assert refused.returncode == 2 and "editor" in refused.stderr
    missing = _run(tmp_path, "knowledge.bulk_import", str(tmp_path / "nope"), "--by", editor.username)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr
    assert Studio(settings).articles(editor) == []


def test_a_full_rebuild_reembeds_everything_and_prints_docs_per_second(tmp_path):
    settings = Settings(data_dir=tmp_path, env="test")
    upgrade(settings.database_url)
    editor = account(settings.database_url, Role.EDITOR)
    studio = Studio(settings)
    draft = studio.save_draft(
        editor, title="Returns", body="## Window\n\nReturn items within 30 days.\n\n## Refunds\n\nFive days."
    )
    studio.publish(editor, draft.id)  # no knowledge base in this process: the index is left behind
    stale = _run(tmp_path, "knowledge.reindex", "--verify", "--dry-run")
    assert stale.returncode == 1 and "2 published chunks are not embedded" in stale.stdout
    full = _run(tmp_path, "knowledge.reindex", "--full")
    assert full.returncode == 0, full.stderr
    assert "index: 2 published chunks, 2 embedded (" in full.stdout and "docs/s" in full.stdout
    assert _run(tmp_path, "knowledge.reindex", "--verify", "--dry-run").returncode == 0


def test_bulk_import_never_follows_a_symbolic_link_and_refuses_two_files_with_one_id(tmp_path):
    settings = Settings(data_dir=tmp_path, env="test")
    upgrade(settings.database_url)
    editor = account(settings.database_url, Role.EDITOR)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nNot for the help center.\n")
    folder = tmp_path / "import"
    folder.mkdir()
    (folder / "linked.md").symlink_to(outside / "secret.md")
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    (folder / "a-b.md").write_text("# One\n\nFirst text.\n")
    (folder / "a").mkdir()
    (folder / "a" / "b.md").write_text("# Two\n\nSecond text.\n")
    done = _bulk(tmp_path, folder, editor.username, "--recursive")
    assert done.returncode == 0, done.stderr
    assert "secret" not in done.stdout.lower() and "linked" not in done.stdout
    assert "the same article id (a-b)" in done.stderr
    assert [a.slug for a in Studio(settings).articles(editor)] == ["a-b"]


def test_bulk_import_goes_on_past_a_file_the_database_failed_on(tmp_path, monkeypatch, capsys):
    import io

    from sqlalchemy.exc import OperationalError

    from knowledge import bulk_import

    settings = Settings(data_dir=tmp_path, env="test")
    monkeypatch.setattr(bulk_import, "get_settings", lambda: settings)
    upgrade(settings.database_url)
    editor = account(settings.database_url, Role.EDITOR)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.md").write_text(f"# Article {name}\n\n## Part\n\nText of {name}.\n")
    real = Studio.import_upload

    def flaky(self, actor, filename, data, **kw):  # type: ignore[no-untyped-def]
        if filename == "a.md":
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(self, actor, filename, data, **kw)

    monkeypatch.setattr(Studio, "import_upload", flaky)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = bulk_import.main([str(folder), "--by", editor.username, "--password-stdin"])
    out = capsys.readouterr()
    assert code == 0 and "draft      b.md -> b v1" in out.out
    assert "error      a.md: not imported (OperationalError: server closed the connection)" in out.err
