"""sessions that end: each account's session epoch, part of its sessions' cookies

Raising it ends every session of the account at once, copies of the cookie included: at
sign-out, and when the account is disabled.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
