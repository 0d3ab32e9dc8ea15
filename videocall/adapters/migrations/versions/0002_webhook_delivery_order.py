"""webhook deliveries: one per (endpoint, event), per-record order index, retry deadline

Revision ID: 0002_webhooks
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_webhooks"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        # Set at the first attempt: retries stop max-age after it (a delivery waiting behind an
        # earlier one of the same record does not age meanwhile).
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        # Several processes may materialise the same event: only one row per endpoint survives.
        batch_op.create_index(
            "uq_webhook_deliveries_endpoint_event", ["endpoint", "event_seq"], unique=True
        )
        batch_op.create_index(
            "ix_webhook_deliveries_order", ["endpoint", "record_id", "event_seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_order")
        batch_op.drop_index("uq_webhook_deliveries_endpoint_event")
        batch_op.drop_column("deadline_at")
