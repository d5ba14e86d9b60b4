"""shared maintenance: alert rules (breaches, per-organisation overrides), teams, tickets and
their history, an e-mail outbox, staff e-mail addresses, devices out of service; one open alert
per device and kind

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("created_at", controller.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "team_organisations",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "organisation_id"),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("opened_by", sa.String(length=80), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("taken_at", controller.db.UTCDateTime(), nullable=True),
        sa.Column("solved_at", controller.db.UTCDateTime(), nullable=True),
        sa.Column("closed_at", controller.db.UTCDateTime(), nullable=True),
        sa.Column("take_due_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("solve_due_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("waiting_since", controller.db.UTCDateTime(), nullable=True),
        sa.Column("cause_gone_at", controller.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"]),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tickets_device_id", "tickets", ["device_id"])
    op.create_index("ix_tickets_organisation_id", "tickets", ["organisation_id"])
    op.create_index("ix_tickets_site_opened", "tickets", ["site_id", "opened_at"])
    op.create_index("ix_tickets_team_status", "tickets", ["team_id", "status"])
    op.create_table(
        "ticket_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])
    op.create_table(
        "alert_breaches",
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("since", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id", "kind"),
    )
    op.create_table(
        "alert_rule_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("tolerance_min", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", controller.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "kind", name="uq_alert_rule_org_kind"),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", controller.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", controller.db.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_mail_outbox_sent_at", "mail_outbox", ["sent_at"])
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_id", BigId, nullable=True))
        batch_op.create_foreign_key(
            "fk_alerts_ticket_id_tickets", "tickets", ["ticket_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_alerts_ticket_id", ["ticket_id"])
    # Before the unique index: two open alerts of one kind may exist from before it.
    op.execute(
        "UPDATE alerts SET resolved_at = raised_at, resolution = 'duplicate' "
        "WHERE resolved_at IS NULL AND id NOT IN (SELECT MAX(id) FROM alerts "
        "WHERE resolved_at IS NULL GROUP BY device_id, kind)"
    )
    op.create_index(
        "uq_alerts_open_device_kind",
        "alerts",
        ["device_id", "kind"],
        unique=True,
        sqlite_where=sa.text("resolved_at IS NULL"),
        postgresql_where=sa.text("resolved_at IS NULL"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email", sa.String(length=254), server_default="", nullable=False)
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("out_of_service_since", controller.db.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "out_of_service_reason", sa.String(length=200), server_default="", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("out_of_service_reason")
        batch_op.drop_column("out_of_service_since")
    op.drop_index("uq_alerts_open_device_kind", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_ticket_id")
        batch_op.drop_constraint("fk_alerts_ticket_id_tickets", type_="foreignkey")
        batch_op.drop_column("ticket_id")
    op.drop_index("ix_mail_outbox_sent_at", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("alert_rule_overrides")
    op.drop_table("alert_breaches")
    op.drop_index("ix_ticket_events_ticket_id", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_tickets_team_status", table_name="tickets")
    op.drop_index("ix_tickets_site_opened", table_name="tickets")
    op.drop_index("ix_tickets_organisation_id", table_name="tickets")
    op.drop_index("ix_tickets_device_id", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("team_members")
    op.drop_table("team_organisations")
    op.drop_table("teams")
