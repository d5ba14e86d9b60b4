"""agent features: what each device's agent said it reads, at enrolment and in its heartbeats,
which decides the update_config settings it is sent

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-17 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty for the devices already enrolled: their next heartbeat fills it (a new agent), or
    # their heartbeat's state keys keep saying what they read (an older one).
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agent_features", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("agent_features")
