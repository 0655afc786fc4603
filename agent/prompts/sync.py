"""Push the versioned prompt files to Langfuse prompt management: `python -m agent.prompts.sync`.

    python -m agent.prompts.sync [--dry-run] [--label production]

Each prompt module becomes one Langfuse text prompt named after its NAME, whose text is a JSON object of the
module's texts; a new Langfuse version is created only when the texts differ from the one under the label.
Needs LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY / LANGFUSE_HOST. Turns read them with
PROMPTS_FROM_LANGFUSE=true, and fall back to the files whenever Langfuse does not answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agent.prompts import MODULES
from agent.prompts.store import text_hash, texts_of
from core.config import get_settings
from core.logging import configure_logging


def sync(client: Any, *, label: str, dry_run: bool = False) -> list[tuple[str, str]]:
    """(prompt name, "unchanged" | "created" | "would create") for every prompt module."""
    done = []
    for module in MODULES:
        texts = texts_of(module)
        try:
            current = client.get_prompt(
                module.NAME, label=label, type="text", cache_ttl_seconds=0, max_retries=0
            )
            same = json.loads(current.prompt) == texts
        except Exception:  # not there yet (404), or not a JSON object of texts
            same = False
        if same:
            done.append((module.NAME, "unchanged"))
            continue
        if not dry_run:
            client.create_prompt(
                name=module.NAME,
                prompt=json.dumps(texts, indent=2, sort_keys=True),
                type="text",
                labels=[label],
                config={"file_version": module.VERSION, "hash": text_hash(texts)},
                commit_message=f"{module.NAME} v{module.VERSION} from the repository",
            )
        done.append((module.NAME, "would create" if dry_run else "created"))
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.prompts.sync",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be pushed, push nothing")
    parser.add_argument("--label", default=None, help="the Langfuse label to push to (default: PROMPT_LABEL)")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    settings = get_settings()
    if not (settings.langfuse_public_key and settings.langfuse_secret_key):
        print("error: set LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY (and LANGFUSE_HOST)", file=sys.stderr)
        return 2
    from langfuse import Langfuse

    client = Langfuse(
        public_key=settings.langfuse_public_key,
        secret_key=settings.langfuse_secret_key,
        host=settings.langfuse_host,
        timeout=settings.langfuse_timeout_s,
    )
    try:
        done = sync(client, label=args.label or settings.prompt_label, dry_run=args.dry_run)
    except Exception as exc:
        print(f"error: Langfuse refused or did not answer ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    for name, what in done:
        print(f"{what:<13}{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
