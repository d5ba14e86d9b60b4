"""each hotspot's client network in the city's address plan (no two overlapping)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotspot_subnets",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("subnet", sa.String(length=18), nullable=False),
        sa.Column("chosen", sa.Boolean(), nullable=False),
        sa.Column("updated_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id"),
        sa.UniqueConstraint("subnet"),
    )


def downgrade() -> None:
    op.drop_table("hotspot_subnets")
