"""Places from open data: organisations and sites imported from a CSV of the national schema of
digital-mediation places (``shared/data`` format), plus borne's own columns."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller import audit
from controller.errors import DomainError
from controller.hotspots import service as hotspots
from controller.i18n import _
from controller.lockers import settings as lockers
from controller.places.models import Organisation, Site
from controller.places.opening_hours import validate_opening_hours

# Columns of the national schema of digital-mediation places, plus borne's own.
REQUIRED_COLUMNS = {"id", "organisation", "nom", "commune", "latitude", "longitude"}


@dataclass
class ImportResult:
    organisations_created: int = 0
    sites_created: int = 0
    sites_updated: int = 0
    hotspots_told: int = 0  # sent the new opening hours of their site


def import_places(
    session: Session, actor: audit.Actor, path: Path, *, timezone: str
) -> ImportResult:
    """Create or update organisations and sites from a CSV of places (``shared/data`` format).

    The whole file is checked before anything is written: one bad row rejects the import with
    its line number, and nothing is stored. Hotspots of a site whose opening hours changed are
    sent the new hours (``timezone``: the controller's, which they count hours in).
    """
    rows = _read_rows(path)
    result = ImportResult()
    hours_changed: list[Site] = []
    organisations = {o.name: o for o in session.scalars(select(Organisation))}
    for row in rows:
        organisation = organisations.get(row["organisation"])
        if organisation is None:
            organisation = Organisation(name=row["organisation"])
            session.add(organisation)
            organisations[organisation.name] = organisation
            result.organisations_created += 1
        site = session.scalar(select(Site).where(Site.slug == row["id"]))
        if site is None:
            site = Site(slug=row["id"])
            session.add(site)
            result.sites_created += 1
        else:
            result.sites_updated += 1
            if site.opening_hours != row.get("horaires", ""):
                hours_changed.append(site)
        site.organisation = organisation
        site.name = row["nom"]
        site.address = row.get("adresse", "")
        site.postcode = row.get("code_postal", "")
        site.city = row["commune"]
        site.latitude = float(row["latitude"])
        site.longitude = float(row["longitude"])
        site.opening_hours = row.get("horaires", "")
        site.services = [s for s in row.get("services", "").split("|") if s]
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


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
            if missing:
                raise DomainError(
                    _(
                        "%(file)s: missing column(s) %(columns)s",
                        file=path.name,
                        columns=", ".join(sorted(missing)),
                    )
                )
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DomainError(_("cannot read %(file)s: %(error)s", file=str(path), error=exc)) from exc
    for line, row in enumerate(rows, start=2):
        for column in REQUIRED_COLUMNS:
            if not (row.get(column) or "").strip():
                raise DomainError(
                    _(
                        "%(file)s line %(line)d: %(column)s is empty",
                        file=path.name,
                        line=line,
                        column=column,
                    )
                )
        try:
            validate_opening_hours(row.get("horaires") or "")
        except DomainError as exc:
            raise DomainError(
                _(
                    "%(file)s line %(line)d: %(problem)s",
                    file=path.name,
                    line=line,
                    problem=exc.message,
                )
            ) from None
        for column in ("latitude", "longitude"):
            try:
                float(row[column])
            except ValueError:
                raise DomainError(
                    _(
                        "%(file)s line %(line)d: %(column)s %(value)s is not a number",
                        file=path.name,
                        line=line,
                        column=column,
                        value=repr(row[column]),
                    )
                ) from None
    return rows
