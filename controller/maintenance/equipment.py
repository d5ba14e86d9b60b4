"""The equipment of the places: what each device is, from its agent's last inventory, and the
public PCs too weak or too old for public use, listed for a reconditioning partner (the plan's
"PC solidaire" channel: a machine that no longer serves a public place can still serve a home).

Nothing is stored: each row is worked out from the device's inventory and the thresholds of the
settings (``reconditioning_*``, 0 turns a criterion off) when a page or an export asks.

Only public PCs are held to the thresholds. A charging kiosk or a hotspot gateway is a small box
made to run with little memory and a small disk: it is listed, never flagged.

Figures are counted as a reconditioning partner reads a machine:

* memory as installed: the kernel and the integrated graphics keep part of it, so a PC with
  4 GB reports about 3.7 GiB; rounded up to a whole GiB, it is the 4 GB on its label;
* disk as the system sees it: its filesystems added up, one per device, leaving out what is
  mounted under ``/media`` or ``/run/media`` (a resident's USB stick is not the PC's disk);
  rounded to a whole GiB;
* age in whole years, from the older of the firmware's date (``firmware_date``, "YYYY-MM-DD",
  reported by newer agents) and the day the device was first seen (its enrolment). The
  firmware's date is close to when the machine was made, but an update makes a machine look
  younger; a PC may have served elsewhere before it came here: the older date is the better
  guess.

A device is compared on the rounded figures it shows, so the words never say "50 GB of disk,
below 50 GB".
"""

from __future__ import annotations

import csv
import enum
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from agent.protocol import DeviceKind
from controller import access
from controller.access import Action, Place, StaffMember
from controller.config import ControllerSettings
from controller.errors import PermissionDenied
from controller.fleet import service as fleet
from controller.fleet.models import Device
from controller.i18n import _, ngettext
from controller.spreadsheet import safe_cell

GIB = 1 << 30
# Where desktops mount removable media (udisks2): a stick plugged in at inventory time.
REMOVABLE_MOUNTS = ("/media/", "/run/media/")
# Firmware dates before the first PC or after today are a clock or a reading gone wrong.
EARLIEST_FIRMWARE = date(1981, 1, 1)


class AgeSource(enum.StrEnum):
    FIRMWARE = "firmware"  # the firmware's release date
    FIRST_SEEN = "first_seen"  # the device's enrolment here


class Verdict(enum.StrEnum):
    """What the equipment page says of a device."""

    TO_RECONDITION = "to_recondition"  # a public PC below a threshold
    FIT = "fit"  # a public PC that meets them all
    NO_INVENTORY = "no_inventory"  # a public PC whose agent has not reported what it is yet
    NOT_JUDGED = "not_judged"  # a kiosk or a hotspot: never held to the thresholds


class Shortfall(enum.StrEnum):
    """What a public PC falls short on."""

    MEMORY = "memory"
    DISK = "disk"
    AGE = "age"


@dataclass(frozen=True)
class Thresholds:
    """Below these, a public PC is to recondition; 0 turns a criterion off."""

    min_memory_gib: int
    min_disk_gib: int
    max_age_years: int

    @classmethod
    def of(cls, settings: ControllerSettings) -> Thresholds:
        return cls(
            min_memory_gib=settings.reconditioning_min_memory_gib,
            min_disk_gib=settings.reconditioning_min_disk_gib,
            max_age_years=settings.reconditioning_max_age_years,
        )


@dataclass(frozen=True)
class Reason:
    """Why a public PC is flagged: its figure and the threshold it crosses."""

    shortfall: Shortfall
    value: int  # GiB, or whole years
    limit: int
    age_source: AgeSource | None = None  # for an age: where it comes from


@dataclass(frozen=True)
class Equipment:
    """One device as the equipment page and its CSV show it."""

    device_id: str
    name: str
    kind: DeviceKind
    site_id: int
    site_name: str
    inventoried: bool  # its agent reported an inventory
    vendor: str
    model: str
    serial: str
    processor: str
    cores: int | None
    memory_gib: int | None  # None: not known (no inventory yet)
    disk_gib: int | None
    system: str  # "Debian GNU/Linux 12"
    firmware_date: date | None
    first_seen: date
    age_years: int
    age_source: AgeSource
    judged: bool  # held to the thresholds: a public PC
    reasons: tuple[Reason, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)

    @property
    def verdict(self) -> Verdict:
        if self.reasons:  # a PC without inventory may be flagged on its age alone
            return Verdict.TO_RECONDITION
        if not self.judged:
            return Verdict.NOT_JUDGED
        return Verdict.FIT if self.inventoried else Verdict.NO_INVENTORY


# --- Pure: figures from an inventory ----------------------------------------------------------


def memory_gib(ram_bytes: Any) -> int | None:
    """Memory as installed, in GiB (the reported total rounded up); None when not reported."""
    if not isinstance(ram_bytes, int) or isinstance(ram_bytes, bool) or ram_bytes <= 0:
        return None
    return math.ceil(ram_bytes / GIB)


def disk_gib(disks: Any) -> int | None:
    """The filesystems' total in whole GiB, removable media left out; None when none is known."""
    if not isinstance(disks, list):
        return None
    seen: set[str] = set()
    total = 0
    for disk in disks:
        if not isinstance(disk, Mapping):
            continue
        device, mountpoint = str(disk.get("device", "")), str(disk.get("mountpoint", ""))
        size = disk.get("total_bytes")
        if device in seen or mountpoint.startswith(REMOVABLE_MOUNTS) or not isinstance(size, int):
            continue
        seen.add(device)
        total += size
    if not seen or total <= 0:
        return None
    return math.floor(total / GIB + 0.5)


def firmware_day(text: Any, today: date) -> date | None:
    """The firmware's date from its ISO text; None when absent, unreadable or impossible."""
    if not isinstance(text, str) or not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST_FIRMWARE <= day <= today else None


def whole_years(since: date, today: date) -> int:
    """Full years from ``since`` to ``today``, as a person's age is counted."""
    years = today.year - since.year - ((today.month, today.day) < (since.month, since.day))
    return max(years, 0)


def age_of(firmware: date | None, first_seen: date, today: date) -> tuple[int, AgeSource]:
    """The age in whole years from the older of the two dates, and which one it was."""
    if firmware is not None and firmware <= first_seen:
        return whole_years(firmware, today), AgeSource.FIRMWARE
    return whole_years(first_seen, today), AgeSource.FIRST_SEEN


def reasons_for(
    memory: int | None, disk: int | None, age: int, source: AgeSource, thresholds: Thresholds
) -> tuple[Reason, ...]:
    """What a public PC with these figures falls short on; an unknown figure is not held
    against it."""
    found = []
    if memory is not None and memory < thresholds.min_memory_gib:
        found.append(Reason(Shortfall.MEMORY, memory, thresholds.min_memory_gib))
    if disk is not None and disk < thresholds.min_disk_gib:
        found.append(Reason(Shortfall.DISK, disk, thresholds.min_disk_gib))
    if thresholds.max_age_years and age > thresholds.max_age_years:
        found.append(Reason(Shortfall.AGE, age, thresholds.max_age_years, source))
    return tuple(found)


def equipment_of(device: Device, thresholds: Thresholds, today: date) -> Equipment:
    """One device's row, from its last inventory (``inventory`` loaded with it)."""
    inventory: Mapping[str, Any] = device.inventory or {}
    firmware = firmware_day(inventory.get("firmware_date"), today)
    first_seen = device.enrolled_at.date()
    age, source = age_of(firmware, first_seen, today)
    memory, disk = memory_gib(inventory.get("ram_bytes")), disk_gib(inventory.get("disks"))
    judged = device.kind == DeviceKind.PC
    cores = inventory.get("cpu_count")
    system = " ".join(filter(None, [_text(inventory, "os_name"), _text(inventory, "os_version")]))
    return Equipment(
        device_id=device.id,
        name=device.name,
        kind=DeviceKind(device.kind),
        site_id=device.site_id,
        site_name=device.site.name,
        inventoried=bool(inventory),
        vendor=_text(inventory, "vendor"),
        model=_text(inventory, "model"),
        serial=_text(inventory, "serial"),
        processor=_text(inventory, "cpu_model"),
        cores=cores if isinstance(cores, int) and not isinstance(cores, bool) and cores else None,
        memory_gib=memory,
        disk_gib=disk,
        system=system,
        firmware_date=firmware,
        first_seen=first_seen,
        age_years=age,
        age_source=source,
        judged=judged,
        reasons=reasons_for(memory, disk, age, source, thresholds) if judged else (),
    )


def _text(inventory: Mapping[str, Any], key: str) -> str:
    value = inventory.get(key)
    return value.strip() if isinstance(value, str) else ""


def by_attention(row: Equipment) -> tuple[Any, ...]:
    """Flagged PCs first, then the other PCs, kiosks and hotspots, each by name."""
    return (not row.flagged, list(DeviceKind).index(row.kind), row.name.casefold(), row.device_id)


# --- Who may read it, and the rows they may read ------------------------------------------------


def may_read_equipment(user: StaffMember, site: Place | None = None) -> bool:
    """Technicians and admins (of ``site``): what to repair or replace is theirs to plan."""
    # Technicians and admins are the roles that enrol devices (access.ALLOWED), as for the
    # inventory's technical details (fleet.service.may_manage).
    if not access.can(user, Action.ENROL_DEVICE):
        return False
    return site is None or access.covers_site(user, site)


def require_equipment_reader(user: StaffMember, site: Place | None = None) -> None:
    if not access.can(user, Action.ENROL_DEVICE):
        raise PermissionDenied(
            _(
                "a %(role)s may not read the equipment of the places",
                role=access.role_word(user.role),
            )
        )
    if site is not None:
        access.require(user, Action.VIEW_FLEET, site)  # says the site is not theirs


def site_equipment(
    session: Session, user: StaffMember, site: Place, thresholds: Thresholds, today: date
) -> list[Equipment]:
    """The devices in service at ``site``, flagged PCs first."""
    require_equipment_reader(user, site)
    devices = fleet.list_devices(session, user, site.id)
    return sorted((equipment_of(d, thresholds, today) for d in devices), key=by_attention)


def to_recondition(
    session: Session, user: StaffMember, thresholds: Thresholds, today: date
) -> list[Equipment]:
    """The flagged public PCs of every site ``user`` covers (an admin: the city's), by site."""
    require_equipment_reader(user)
    rows = (equipment_of(d, thresholds, today) for d in fleet.list_devices(session, user))
    return sorted(
        (row for row in rows if row.flagged),
        key=lambda row: (row.site_name.casefold(), row.name.casefold(), row.device_id),
    )


# --- In words -------------------------------------------------------------------------------------


def reason_words(reason: Reason) -> str:
    """A reason as the page and the CSV say it: "3 GB of memory, below 4 GB"."""
    if reason.shortfall is Shortfall.MEMORY:
        return _(
            "%(value)d GB of memory, below %(limit)d GB", value=reason.value, limit=reason.limit
        )
    if reason.shortfall is Shortfall.DISK:
        return _("%(value)d GB of disk, below %(limit)d GB", value=reason.value, limit=reason.limit)
    if reason.age_source is AgeSource.FIRST_SEEN:
        return ngettext(
            "first seen %(num)d year ago, more than %(limit)d",
            "first seen %(num)d years ago, more than %(limit)d",
            reason.value,
            limit=reason.limit,
        )
    return ngettext(
        "%(num)d year old, more than %(limit)d",
        "%(num)d years old, more than %(limit)d",
        reason.value,
        limit=reason.limit,
    )


def threshold_words(thresholds: Thresholds) -> list[str]:
    """The criteria in force, each completing "a public PC is to recondition when it …", to be
    joined with "or"."""
    words = []
    if thresholds.min_memory_gib:
        words.append(_("has less than %(limit)d GB of memory", limit=thresholds.min_memory_gib))
    if thresholds.min_disk_gib:
        words.append(_("has less than %(limit)d GB of disk", limit=thresholds.min_disk_gib))
    if thresholds.max_age_years:
        words.append(
            ngettext(
                "is more than %(num)d year old",
                "is more than %(num)d years old",
                thresholds.max_age_years,
            )
        )
    return words


# --- CSV for a reconditioning partner -----------------------------------------------------------

# A cell starting with one of these is a formula to a spreadsheet (CSV injection): names, models
# and serial numbers come from agents and staff, so they get a leading apostrophe, as OWASP
# advises (as the audit log's export does).
# Spreadsheets open a UTF-8 file as such only when it starts with a byte order mark; without
# it Excel shows "MÃ©diathÃ¨que". Python reads it with encoding="utf-8-sig".
BYTE_ORDER_MARK = "\ufeff"


def csv_columns() -> list[str]:
    """The header, in the reader's language: the file is read by people at the partner's."""
    return [
        _("Site"),
        _("Device"),
        _("Kind"),
        _("Vendor"),
        _("Model"),
        _("Serial number"),
        _("Processor"),
        _("Cores"),
        _("Memory (GB)"),
        _("Disk (GB)"),
        _("Operating system"),
        _("Firmware date"),
        _("First seen"),
        _("Age (years)"),
        _("Age from"),
        _("Reconditioning"),
        _("Reasons"),
    ]


def csv_text(rows: Iterable[Equipment], kind_words: Mapping[DeviceKind, str]) -> str:
    """The rows as CSV (RFC 4180: commas, CRLF, quotes doubled), a byte order mark first."""
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    writer = csv.writer(buffer)
    writer.writerow(csv_columns())
    sources = {AgeSource.FIRMWARE: _("firmware"), AgeSource.FIRST_SEEN: _("first seen")}
    for row in rows:
        writer.writerow(
            [
                safe_cell(row.site_name),
                safe_cell(row.name),
                kind_words[row.kind],
                safe_cell(row.vendor),
                safe_cell(row.model),
                safe_cell(row.serial),
                safe_cell(row.processor),
                _number(row.cores),
                _number(row.memory_gib),
                _number(row.disk_gib),
                safe_cell(row.system),
                row.firmware_date.isoformat() if row.firmware_date else "",
                row.first_seen.isoformat(),
                str(row.age_years),
                sources[row.age_source],
                verdict_words(row.verdict),
                "; ".join(reason_words(reason) for reason in row.reasons),
            ]
        )
    return buffer.getvalue()


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def verdict_words(verdict: Verdict) -> str:
    return {
        Verdict.TO_RECONDITION: _("To recondition"),
        Verdict.FIT: _("Fit for public use"),
        Verdict.NO_INVENTORY: _("No inventory yet"),
        Verdict.NOT_JUDGED: _("Not a public PC"),
    }[verdict]


def tally(rows: Sequence[Equipment]) -> dict[Verdict, int]:
    """How many rows have each verdict, every verdict present."""
    counted = dict.fromkeys(Verdict, 0)
    for row in rows:
        counted[row.verdict] += 1
    return counted
