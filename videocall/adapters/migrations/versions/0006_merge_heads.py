"""Join the branches made side by side: short references, assist readings, hand-off links.

Revision ID: 0006_merge
Revises: 0003_reference, 0004_assist, 0005_handoff
"""

from __future__ import annotations

revision: str = "0006_merge"
down_revision: tuple[str, ...] = ("0003_reference", "0004_assist", "0005_handoff")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
