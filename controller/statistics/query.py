"""What a reader asks the statistics for, read from a URL's query (the pages' and the API's):
``from`` and ``to`` (days as YYYY-MM-DD, default the last 30 days), ``organisation`` and
``site`` (row ids, default every place the reader covers), ``month`` (YYYY-MM, the report's)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from controller.api.io import MAX_ROW_ID
from controller.errors import DomainError
from controller.i18n import _
from controller.statistics.figures import Period, default_days, period_of
from controller.statistics.rollups import LocalTime

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_ROW_ID = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class StatisticsQuery:
    period: Period
    organisation_id: int | None
    site_id: int | None

    def args(self, **changed: object) -> dict[str, object]:
        """The query as URL arguments (links to the CSV files, to another selection)."""
        args: dict[str, object] = {
            "from": self.period.first_day.isoformat(),
            "to": self.period.last_day.isoformat(),
            "organisation": self.organisation_id,
            "site": self.site_id,
        }
        args.update(changed)
        return {name: value for name, value in args.items() if value not in (None, "")}


def read_query(args: Mapping[str, str], local: LocalTime, today: date) -> StatisticsQuery:
    """The query in ``args``; 400 for a value that is not what it should be, 422 for a period
    that ends before it starts."""
    first_default, last_default = default_days(today)
    first_day = _day(args, "from") or first_default
    last_day = _day(args, "to") or (last_default if first_day <= last_default else first_day)
    return StatisticsQuery(
        period=period_of(first_day, last_day, local),
        organisation_id=row_id(args, "organisation"),
        site_id=row_id(args, "site"),
    )


def _day(args: Mapping[str, str], name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    refusal = DomainError(
        _("%(name)s must be a day as YYYY-MM-DD, got %(value)s", name=name, value=repr(value[:40])),
        code="invalid_day",
    )
    if not _DAY.fullmatch(value):
        raise refusal
    try:
        return date.fromisoformat(value)
    except ValueError:  # 2026-02-30
        raise refusal from None


def row_id(args: Mapping[str, str], name: str) -> int | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    if not _ROW_ID.fullmatch(value) or not 1 <= int(value) <= MAX_ROW_ID:
        raise DomainError(
            _(
                "%(name)s must be a row id (a whole number from 1), got %(value)s",
                name=name,
                value=repr(value[:40]),
            ),
            code="invalid_id",
        )
    return int(value)


def read_month(args: Mapping[str, str], today: date) -> date:
    """The first day of the month in ``month`` (YYYY-MM); default the month before today's."""
    value = (args.get("month") or "").strip()
    if not value:
        previous = today.replace(day=1).toordinal() - 1
        return date.fromordinal(previous).replace(day=1)
    refusal = DomainError(
        _("month must be a month as YYYY-MM, got %(value)s", value=repr(value[:40])),
        code="invalid_month",
    )
    if not _MONTH.fullmatch(value):
        raise refusal
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise refusal from None
