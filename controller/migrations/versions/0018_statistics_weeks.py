"""statistics: each site's hours of the week by local month, so that occupancy by hour of the
week over a year reads a site's months, not its 9,000 hours; filled from the site-hours kept

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import controller.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# The measures of 0015, as they were then.
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
BATCH = 5_000


def local_day(hour: datetime, weekhour: int) -> date:
    """The local day a UTC hour starts on, from its local hour of the week (kept with it): the
    city's offset is the difference of the two hours of the week, within half a week. The time
    zone is the controller's setting, which a migration does not read; the rows know it."""
    utc_weekhour = hour.weekday() * 24 + hour.hour
    offset = (weekhour - utc_weekhour) % 168
    if offset >= 84:
        offset -= 168
    # A zone half an hour off (India) gives the whole hours below it: the same local day.
    return (hour + timedelta(hours=offset)).date()


def upgrade() -> None:
    op.create_table(
        "statistics_site_week_hours",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("weekhour", sa.SmallInteger(), nullable=False),
        *[sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in MEASURES],
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_statistics_site_week_hours_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "site_id", "month", "weekhour", name=op.f("pk_statistics_site_week_hours")
        ),
        sqlite_with_rowid=False,
    )
    site_hours = sa.table(
        "statistics_site_hours",
        sa.column("site_id", sa.Integer()),
        sa.column("hour", controller.db.UTCDateTime()),
        sa.column("weekhour", sa.SmallInteger()),
        *[sa.column(name, sa.Integer()) for name in MEASURES],
    )
    week_hours = sa.table(
        "statistics_site_week_hours",
        sa.column("site_id", sa.Integer()),
        sa.column("month", sa.Date()),
        sa.column("weekhour", sa.SmallInteger()),
        *[sa.column(name, sa.Integer()) for name in MEASURES],
    )
    sums: dict[tuple[int, date, int], list[int]] = defaultdict(lambda: [0] * len(MEASURES))
    bind = op.get_bind()
    for row in bind.execute(sa.select(site_hours)):
        month = local_day(row.hour, row.weekhour).replace(day=1)
        added = sums[(row.site_id, month, row.weekhour)]
        for index, name in enumerate(MEASURES):
            added[index] += getattr(row, name) or 0
    rows = [
        {
            "site_id": site_id,
            "month": month,
            "weekhour": weekhour,
            **dict(zip(MEASURES, values, strict=True)),
        }
        for (site_id, month, weekhour), values in sums.items()
    ]
    for first in range(0, len(rows), BATCH):
        bind.execute(sa.insert(week_hours), rows[first : first + BATCH])


def downgrade() -> None:
    op.drop_table("statistics_site_week_hours")
