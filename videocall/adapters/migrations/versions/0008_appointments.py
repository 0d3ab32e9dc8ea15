"""appointments: bookings, per-slot counters, reminders sent, the weekly plan

Revision ID: 0008_appointments
Revises: 0007_privacy
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_appointments"
down_revision: str | None = "0007_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment_plan",
        sa.Column("weekday", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("officers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("weekday", "hour", name=op.f("pk_appointment_plan")),
    )
    op.create_table(
        "appointment_plan_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column(
            "plan",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_plan_changes")),
    )
    op.create_table(
        "appointment_slots",
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("start_at", name=op.f("pk_appointment_slots")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("live_record", sa.String(length=36), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_appointments_record_id_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("live_record", name=op.f("uq_appointments_live_record")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_start_at"), ["start_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_status"), ["status"], unique=False)

    op.create_table(
        "appointment_reminders",
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_reminders_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", "kind", name=op.f("pk_appointment_reminders")),
    )


def downgrade() -> None:
    op.drop_table("appointment_reminders")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_status"))
        batch_op.drop_index(batch_op.f("ix_appointments_start_at"))
        batch_op.drop_index(batch_op.f("ix_appointments_record_id"))

    op.drop_table("appointments")
    op.drop_table("appointment_slots")
    op.drop_table("appointment_plan_changes")
    op.drop_table("appointment_plan")
