"""device secret rotation: staff ask for a new device secret; the agent's new one waits beside
the current one until its first use

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("secret_rotation_requested_at", controller.db.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("pending_secret_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("pending_secret_hash")
        batch_op.drop_column("secret_rotation_requested_at")
