"""hand-off links: one-time, short-lived codes (stored hashed) that open a record's page

Revision ID: 0005_handoff
Revises: 0002_webhooks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_handoff"
down_revision: str | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoff_links",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "prefill",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_handoff_links_record_id_records")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_handoff_links")),
    )
    with op.batch_alter_table("handoff_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_links_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_handoff_links_record_id"), ["record_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoff_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_links_record_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_links_expires_at"))
    op.drop_table("handoff_links")
