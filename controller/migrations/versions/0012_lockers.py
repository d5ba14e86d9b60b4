"""charging kiosks' lockers: each kiosk's latest report (its lock board answering or not), its
lockers, the phones charged (anonymous, once per kiosk event) and the incidents still open

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "locker_banks",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("reported_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("driver_ok", sa.Boolean(), nullable=False),
        sa.Column("driver_message", sa.String(length=200), nullable=False),
        sa.Column("updated_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_locker_banks_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_locker_banks")),
    )
    op.create_table(
        "lockers",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("door", sa.String(length=16), nullable=False),
        sa.Column("since", controller.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_lockers_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "number", name=op.f("pk_lockers")),
    )
    op.create_table(
        "charging_sessions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("locker", sa.Integer(), nullable=False),
        sa.Column("started_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("ended_by", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_charging_sessions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_charging_sessions_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_sessions")),
        sa.UniqueConstraint("device_id", "seq", name="uq_charging_sessions_device_seq"),
    )
    op.create_index(
        "ix_charging_sessions_site_started", "charging_sessions", ["site_id", "started_at"]
    )
    op.create_table(
        "open_locker_incidents",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("locker", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("raised_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_open_locker_incidents_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "device_id", "kind", "locker", name=op.f("pk_open_locker_incidents")
        ),
    )


def downgrade() -> None:
    op.drop_table("open_locker_incidents")
    op.drop_index("ix_charging_sessions_site_started", table_name="charging_sessions")
    op.drop_table("charging_sessions")
    op.drop_table("lockers")
    op.drop_table("locker_banks")
