"""agent upgrades: a rollout that changes the release of borne a device runs says so, and halts
at any failed device beyond those a person already resumed past

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-16 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("config_rollouts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("upgrades_agent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("failures_accepted", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("config_rollouts", schema=None) as batch_op:
        batch_op.drop_column("failures_accepted")
        batch_op.drop_column("upgrades_agent")
