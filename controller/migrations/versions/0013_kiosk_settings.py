"""charging kiosks' rules per site (longest charge, where to ask for help, phones left at
closing) and each member of staff's kiosk PIN, hashed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_settings",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("max_charge_min", sa.Integer(), nullable=False),
        sa.Column("help_text", sa.String(length=300), nullable=False),
        sa.Column("forgotten_text", sa.String(length=300), nullable=False),
        sa.Column("updated_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_kiosk_settings_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_kiosk_settings")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kiosk_pin_hash", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("kiosk_pin_hash")
    op.drop_table("kiosk_settings")
