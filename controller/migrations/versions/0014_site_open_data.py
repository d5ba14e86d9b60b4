"""sites' fields of the national open-data schema of digital-mediation places
(standard-mediation-num v1.0.2): SIRET/RNA, typology, publics, access and support modes, fees,
contacts, a short presentation, the INSEE code and the date the data was last updated

Every column has a server default (empty text, empty list, no date) so the sites already there
keep working; a site missing a required field is simply left out of the export.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TEXTS = (
    ("pivot", 14),
    ("accessibility_url", 500),
    ("website", 500),
    ("phone", 20),
    ("email", 254),
    ("summary", 280),
    ("insee_code", 5),
)
LISTS = ("typology", "publics", "access_modes", "support_modes", "fees")


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        for name, length in TEXTS:
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), server_default="", nullable=False)
            )
        for name in LISTS:
            batch_op.add_column(
                sa.Column(name, sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
            )
        batch_op.add_column(sa.Column("data_updated_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("data_updated_on")
        for name in reversed(LISTS):
            batch_op.drop_column(name)
        for name, _length in reversed(TEXTS):
            batch_op.drop_column(name)
