"""records.reference: a short reference people can read out (8 Crockford base32 characters)

Revision ID: 0003_reference
Revises: 0002_webhooks
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from videocall.reference import new_reference

revision: str = "0003_reference"
down_revision: str | None = "0002_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added NOT NULL with an empty default, filled, then made unique: SQLite can add such a column
    # in place (a batch copy of `records` would trip the foreign keys pointing at it).
    op.add_column(
        "records", sa.Column("reference", sa.String(8), nullable=False, server_default="")
    )
    records = sa.table("records", sa.column("id", sa.String), sa.column("reference", sa.String))
    conn = op.get_bind()
    ids = conn.execute(sa.select(records.c.id).where(records.c.reference == "")).scalars().all()
    taken: set[str] = set()
    for record_id in ids:
        reference = new_reference()
        while reference in taken:
            reference = new_reference()
        taken.add(reference)
        conn.execute(records.update().where(records.c.id == record_id).values(reference=reference))
    if conn.dialect.name == "postgresql":
        op.alter_column("records", "reference", server_default=None)
    op.create_index("uq_records_reference", "records", ["reference"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_records_reference", table_name="records")
    op.drop_column("records", "reference")  # SQLite 3.35+ drops a column in place
