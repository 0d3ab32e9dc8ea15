"""assist_readings: KTP OCR readings and face embeddings per analysed photo (officer assist)

Revision ID: 0004_assist
Revises: 0002_webhooks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_assist"
down_revision: str | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assist_readings",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_assist_readings_record_id_records")
        ),
        sa.PrimaryKeyConstraint("record_id", "subject", name=op.f("pk_assist_readings")),
    )
    with op.batch_alter_table("assist_readings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assist_readings_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assist_readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assist_readings_session_id"))
    op.drop_table("assist_readings")
