"""A partial index of the customer messages not answered yet, for the stuck-turn sweep

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STORED = sa.text("status = 'stored'")


def upgrade() -> None:
    # Built without blocking writes on PostgreSQL; SQLite ignores it.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_messages_unanswered",
            "messages",
            ["created_at"],
            postgresql_where=_STORED,
            sqlite_where=_STORED,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_messages_unanswered", table_name="messages", postgresql_concurrently=True)
