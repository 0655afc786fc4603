"""An index on messages.reply_to: each turn looks up its message's reply, which scanned the whole table

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built without blocking writes on PostgreSQL (a large messages table takes a while); SQLite ignores it.
    with op.get_context().autocommit_block():
        op.create_index("ix_messages_reply_to", "messages", ["reply_to"], postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_messages_reply_to", table_name="messages", postgresql_concurrently=True)
