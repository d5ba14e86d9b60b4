"""Places from open data: organisations and sites imported from a CSV of the national schema of
digital-mediation places (standard-mediation-num v1.0.2: ``pivot``, ``typologie``, ``services``…,
``|`` between the values of one cell, ``date_maj``), plus borne's own columns (``organisation``,
and ``pcs``/``hotspots``/``kiosks`` that only the demo reads).

A file from the national map and borne's demo file both import: the national one names no
``organisation``, so a place's organisation is its ``structure_parente``, or the one given to
the command (``--organisation``). Every value is checked before anything is written, with the
line and the column of the first wrong one. borne's own offers put in ``services`` ("Wifi",
"Recharge de téléphone") are not values of the schema: they are dropped with a warning, since
the public pages and the export take a place's wifi, PCs and chargers from its devices.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import audit
from controller.errors import DomainError
from controller.hotspots import service as hotspots
from controller.i18n import _, ngettext
from controller.lockers import settings as lockers
from controller.places import vocabularies as vocab
from controller.places.models import Organisation, Site
from controller.places.open_data_fields import (
    SCHEMA_COLUMNS,
    VOCABULARIES,
    InvalidFields,
    OpenDataFields,
    check_fields,
    fold,
    split_values,
)
from controller.places.opening_hours import validate_opening_hours

REQUIRED_COLUMNS = {"id", "nom", "commune"}
ORGANISATION_COLUMNS = ("organisation", "structure_parente")  # borne's, then the schema's
DEVICE_OFFERS = {fold(offer) for offer in vocab.DEVICE_OFFERS}
LIMITS = {"id": 100, "nom": 200, "adresse": 300, "commune": 100, "organisation": 200}


@dataclass
class ImportResult:
    organisations_created: int = 0
    sites_created: int = 0
    sites_updated: int = 0
    hotspots_told: int = 0  # sent the new opening hours of their site
    warnings: list[str] = field(default_factory=list)  # what was dropped, and why


@dataclass
class PlaceRow:
    """One line of the file, checked."""

    line: int
    slug: str
    organisation: str
    name: str
    address: str
    postcode: str
    city: str
    latitude: float | None
    longitude: float | None
    opening_hours: str
    open_data: dict[str, Any]  # only the fields whose column the file has, tidied
    updated_on: date | None


def import_places(
    session: Session,
    actor: audit.Actor,
    path: Path,
    *,
    timezone: str,
    organisation: str = "",
    today: date | None = None,
) -> ImportResult:
    """Create or update organisations and sites from a CSV of places.

    The whole file is checked before anything is written: one bad value rejects the import with
    its line and column, and nothing is stored. ``organisation``: of the lines that name none.
    Open-data fields whose column the file lacks are kept as they are; a line without a
    ``date_maj`` dates its data ``today`` (in ``timezone``, the city's). Hotspots of a site
    whose opening hours changed are sent the new hours.
    """
    today = today or datetime.now(ZoneInfo(timezone)).date()
    dropped: Counter[str] = Counter()
    rows = _read_rows(path, organisation.strip(), dropped)
    result = ImportResult()
    result.warnings = [
        ngettext(
            "services: %(value)s dropped on %(num)d line: borne shows a place's wifi, PCs and "
            "chargers from its devices, and the national schema has no such value",
            "services: %(value)s dropped on %(num)d lines: borne shows a place's wifi, PCs and "
            "chargers from its devices, and the national schema has no such value",
            n,
            value=repr(value),
        )
        for value, n in sorted(dropped.items())
    ]
    hours_changed: list[Site] = []
    organisations = {o.name: o for o in session.scalars(select(Organisation))}
    for row in rows:
        owner = organisations.get(row.organisation)
        if owner is None:
            owner = Organisation(name=row.organisation)
            session.add(owner)
            organisations[owner.name] = owner
            result.organisations_created += 1
        site = session.scalar(select(Site).where(Site.slug == row.slug))
        if site is None:
            site = Site(slug=row.slug)
            session.add(site)
            result.sites_created += 1
        else:
            result.sites_updated += 1
            if site.opening_hours != row.opening_hours:
                hours_changed.append(site)
        site.organisation = owner
        site.name = row.name
        site.address = row.address
        site.postcode = row.postcode
        site.city = row.city
        site.latitude = row.latitude
        site.longitude = row.longitude
        site.opening_hours = row.opening_hours
        for name, value in row.open_data.items():
            setattr(site, name, value)
        site.data_updated_on = row.updated_on or today
    session.flush()
    audit.record(
        session,
        actor,
        "places.import",
        "file",
        path.name,
        f"imported {len(rows)} places from {path.name}",
        sites_created=result.sites_created,
        sites_updated=result.sites_updated,
        dropped={value: n for value, n in dropped.items()},
    )
    for site in hours_changed:
        told = hotspots.site_hours_changed(session, actor, site, timezone)
        result.hotspots_told += len(told)
    if hours_changed:
        # Charging kiosks keep their site's opening hours too (a phone left at closing time).
        lockers.send_settings(
            session, actor, [s.id for s in hours_changed], timezone=timezone, pushed=False
        )
    return result


def _read_rows(path: Path, organisation: str, dropped: Counter[str]) -> list[PlaceRow]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or ()]
            reader.fieldnames = columns
            missing = REQUIRED_COLUMNS - set(columns)
            if missing:
                raise DomainError(
                    _(
                        "%(file)s: missing column(s) %(columns)s",
                        file=path.name,
                        columns=", ".join(sorted(missing)),
                    )
                )
            lines = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(_("cannot read %(file)s: %(error)s", file=str(path), error=exc)) from exc
    rows = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(lines, start=2):
        try:
            row = _check_row(line, cells, set(columns), organisation, dropped)
        except _BadCell as bad:
            raise DomainError(
                _(
                    "%(file)s line %(line)d, column %(column)s: %(problem)s",
                    file=path.name,
                    line=line,
                    column=bad.column,
                    problem=bad.problem,
                )
            ) from None
        if row.slug in seen:
            raise DomainError(
                _(
                    "%(file)s line %(line)d, column id: %(id)s is already on line %(first)d",
                    file=path.name,
                    line=line,
                    id=repr(row.slug),
                    first=seen[row.slug],
                )
            )
        seen[row.slug] = line
        rows.append(row)
    return rows


class _BadCell(Exception):
    def __init__(self, column: str, problem: str):
        self.column, self.problem = column, problem


def _check_row(
    line: int,
    cells: dict[str, str | None],
    columns: set[str],
    organisation: str,
    dropped: Counter[str],
) -> PlaceRow:
    def cell(column: str) -> str:
        return (cells.get(column) or "").strip()

    for column in sorted(REQUIRED_COLUMNS):
        if not cell(column):
            raise _BadCell(column, _("empty"))
    owner = next((cell(c) for c in ORGANISATION_COLUMNS if cell(c)), organisation)
    if not owner:
        raise _BadCell(
            "organisation",
            _("empty: give each place's organisation (or structure_parente), or one for all"),
        )
    for column, longest in LIMITS.items():
        value = owner if column == "organisation" else cell(column)
        if len(value) > longest:
            raise _BadCell(column, _("longer than %(max)d characters", max=longest))
    postcode = cell("code_postal")
    if postcode and not vocab.POSTCODE.match(postcode):
        raise _BadCell(
            "code_postal", _("%(value)s is not a postcode (5 digits)", value=repr(postcode))
        )
    hours = cell("horaires")
    try:
        validate_opening_hours(hours)
    except DomainError as exc:
        raise _BadCell("horaires", exc.message) from None
    latitude, longitude = _coordinate(cell, "latitude", 90), _coordinate(cell, "longitude", 180)
    updated_on = None
    if cell("date_maj"):
        try:
            updated_on = date.fromisoformat(cell("date_maj"))
        except ValueError:
            raise _BadCell(
                "date_maj", _("%(value)s is not a date (YYYY-MM-DD)", value=repr(cell("date_maj")))
            ) from None
    return PlaceRow(
        line=line,
        slug=cell("id"),
        organisation=owner,
        name=cell("nom"),
        address=cell("adresse"),
        postcode=postcode,
        city=cell("commune"),
        latitude=latitude,
        longitude=longitude,
        opening_hours=hours,
        open_data=_open_data(cell, columns, dropped),
        updated_on=updated_on,
    )


def _coordinate(cell: Any, column: str, limit: int) -> float | None:
    text = cell(column)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _BadCell(column, _("%(value)s is not a number", value=repr(text))) from None
    if not -limit <= value <= limit:
        raise _BadCell(column, _("%(value)s is out of range", value=text))
    return value


def _open_data(cell: Any, columns: set[str], dropped: Counter[str]) -> dict[str, Any]:
    """The open-data fields of the columns the file has, checked and tidied."""
    present = [name for name, column in SCHEMA_COLUMNS.items() if column in columns]
    typed = OpenDataFields()
    for name in present:
        text = cell(SCHEMA_COLUMNS[name])
        if name not in VOCABULARIES:
            setattr(typed, name, text)
            continue
        values = split_values(text)
        if name == "services":
            for value in [v for v in values if fold(v) in DEVICE_OFFERS]:
                dropped[value] += 1
                values.remove(value)
        setattr(typed, name, values)
    try:
        tidy = check_fields(typed)
    except InvalidFields as exc:
        name, problem = next(iter(exc.problems.items()))
        raise _BadCell(SCHEMA_COLUMNS[name], problem) from None
    return {name: getattr(tidy, name) for name in present}
