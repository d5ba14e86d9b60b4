"""events kept by receipt: retention counts from the controller's receipt time

The index moves from occurred_at (the device's clock, which a device may set to 2099) to
received_at, which pruning now reads.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_events_occurred_at"))
        batch_op.create_index(
            batch_op.f("ix_device_events_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_events_received_at"))
        batch_op.create_index(
            batch_op.f("ix_device_events_occurred_at"), ["occurred_at"], unique=False
        )
