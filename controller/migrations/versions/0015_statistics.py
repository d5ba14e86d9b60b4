"""statistics: hourly rollups per device, per site and hour, per site and day, and the clocks
of the periodic rollups

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

MEASURES = (
    "pc_sessions",
    "pc_in_use_s",
    "pc_ended_logout",
    "pc_ended_idle",
    "pc_ended_max_duration",
    "pc_ended_command",
    "pc_ended_local",
    "pc_open_s",
    "charging_sessions",
    "charging_s",
    "wifi_connections",
    "observed_s",
    "usable_s",
)


def _measures() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in MEASURES]


def _site(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "statistics_device_hours",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("hour", controller.db.UTCDateTime(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("weekhour", sa.SmallInteger(), nullable=False),
        *_measures(),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_statistics_device_hours_device_id_devices"),
            ondelete="CASCADE",
        ),
        _site("statistics_device_hours"),
        sa.PrimaryKeyConstraint("device_id", "hour", name=op.f("pk_statistics_device_hours")),
    )
    op.create_index(
        "ix_statistics_device_hours_site_hour",
        "statistics_device_hours",
        ["site_id", "hour"],
        unique=False,
    )
    op.create_table(
        "statistics_site_hours",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("hour", controller.db.UTCDateTime(), nullable=False),
        sa.Column("weekhour", sa.SmallInteger(), nullable=False),
        *_measures(),
        _site("statistics_site_hours"),
        sa.PrimaryKeyConstraint("site_id", "hour", name=op.f("pk_statistics_site_hours")),
    )
    op.create_table(
        "statistics_site_days",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_measures(),
        _site("statistics_site_days"),
        sa.PrimaryKeyConstraint("site_id", "day", name=op.f("pk_statistics_site_days")),
    )
    op.create_table(
        "statistics_clocks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("at", controller.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_statistics_clocks")),
    )


def downgrade() -> None:
    op.drop_table("statistics_clocks")
    op.drop_table("statistics_site_days")
    op.drop_table("statistics_site_hours")
    op.drop_index("ix_statistics_device_hours_site_hour", table_name="statistics_device_hours")
    op.drop_table("statistics_device_hours")
