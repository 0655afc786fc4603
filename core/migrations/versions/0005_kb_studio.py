"""Knowledge base studio: soft delete, change notes and provenance, the served revision, the audit log,
customer feedback on replies

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("article_versions") as batch:
        batch.add_column(sa.Column("change_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("based_on", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
    op.create_table(
        "kb_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    kb_state = sa.table(
        "kb_state",
        sa.column("id", sa.Integer),
        sa.column("revision", sa.Integer),
        sa.column("updated_at", sa.DateTime),
    )
    op.bulk_insert(kb_state, [{"id": 1, "revision": 0, "updated_at": datetime.now(UTC).replace(tzinfo=None)}])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_feedback_conversation_id", "feedback", ["conversation_id"])
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_index("ix_feedback_conversation_id", table_name="feedback")
    op.drop_table("feedback")
    for name in ("created_at", "target", "action", "actor"):
        op.drop_index(f"ix_audit_log_{name}", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("kb_state")
    with op.batch_alter_table("article_versions") as batch:
        batch.drop_column("provenance")
        batch.drop_column("based_on")
        batch.drop_column("change_note")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("deleted_by")
        batch.drop_column("deleted_at")
