"""Observability: the hash of each prompt's text in the turn record

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("turn_records") as batch:
        batch.add_column(sa.Column("prompt_hashes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turn_records") as batch:
        batch.drop_column("prompt_hashes")
