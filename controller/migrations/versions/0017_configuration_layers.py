"""configuration in layers (organisation, site, device) with every version kept, and the
rollouts that carry a version to the devices, each device's command beside it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_layers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", controller.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "target_id"),
    )
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["layer_id"], ["config_layers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("layer_id", "version"),
    )
    op.create_table(
        "config_rollouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_site_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("spread_s", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", controller.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["first_site_id"], ["sites.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["layer_id"], ["config_layers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "config_rollout_targets",
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("due_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["command_id"], ["commands.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rollout_id"], ["config_rollouts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("rollout_id", "device_id"),
    )
    op.create_index(
        "ix_config_rollout_targets_due",
        "config_rollout_targets",
        ["rollout_id", "command_id", "due_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_config_rollout_targets_due", table_name="config_rollout_targets")
    op.drop_table("config_rollout_targets")
    op.drop_table("config_rollouts")
    op.drop_table("config_versions")
    op.drop_table("config_layers")
