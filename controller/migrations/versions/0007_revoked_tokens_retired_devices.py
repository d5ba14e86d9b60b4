"""revoked tokens, retired devices: an unused enrolment token can be withdrawn, a device taken
out of service for good (its secret refused, its history kept)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", controller.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", controller.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
