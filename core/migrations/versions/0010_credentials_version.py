"""users.credentials_version: a password change, a deactivation or ended sessions void earlier logins

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table. Every existing login is
    # version 0, so tokens issued before this revision stay valid until the account's next change.
    op.add_column("users", sa.Column("credentials_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("credentials_version")
