"""Run the Alembic migrations: `python -m core.migrate [upgrade|check|revision -m MSG]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

from core.config import get_settings

_HERE = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Bring the database at `url` (default: settings) to the newest schema."""
    command.upgrade(alembic_config(url), "head")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd")
    sub.add_parser("upgrade")
    sub.add_parser("check", help="fail if the models and the migrations disagree")
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    cfg = alembic_config()
    if args.cmd in (None, "upgrade"):
        command.upgrade(cfg, "head")
        print("database at head")
    elif args.cmd == "check":
        command.check(cfg)
    else:
        command.revision(cfg, message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
