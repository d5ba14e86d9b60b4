"""The rules of a site's charging kiosks, and what each kiosk is told: those rules, the site's
opening hours and the PINs of the staff who may open its lockers.

A kiosk runs alone while the controller is away (agent/kiosk/bank.py), so it keeps everything it
needs, told in one ``update_config`` (:func:`settings_for`):

- the site's rules, which those who manage places set on the site's page (:class:`KioskRules`;
  a site never set has the defaults): the longest a phone may charge before only staff open its
  locker, where to ask for help, what happens to a phone left at closing time;
- the site's opening hours, so that a phone still there when the site closed is "forgotten";
- the city's time zone and the residents' language (French, for now: sites have none of their
  own);
- the PIN hashes of the staff who may open a locker at the kiosk: admins everywhere, technicians
  and mediators where their places cover the kiosk's site; never a manager (who acts on
  nothing), never a disabled account, never the PIN itself (accounts/kiosk_pin.py).

When: at enrolment (in the answer, :func:`at_enrolment`); when the rules or the site's opening
hours change (everything, :func:`send_settings`); when a member of staff's PIN, role, places or
active state changes (the PINs only, :func:`send_staff_pins`, to the kiosks of every place they
covered before or cover now). Each message carries the whole of what it sets, so whichever
arrives last is right; the commands wait for a kiosk that is away (:data:`SETTINGS_TTL`) and
reach it in the order they were made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from agent.protocol import DeviceKind
from controller import access, audit
from controller.access import Action, Role, StaffMember
from controller.accounts.models import User, UserScope
from controller.commands.models import Command
from controller.configuration import render
from controller.db import utcnow
from controller.errors import DomainError
from controller.fleet.models import Device
from controller.i18n import DEFAULT_LANGUAGE, _
from controller.lockers.models import KioskSettings, LockerBank
from controller.places.models import Site

DEFAULT_MAX_CHARGE_MIN = 180  # three hours: a phone charges fully, and the site is still open
MAX_CHARGE_MIN = (10, 24 * 60)  # what the kiosk's protocol takes (kiosk_max_charge_min)
TEXT_MAX = 300  # kiosk_help_text, kiosk_forgotten_text
# Who opens lockers at a kiosk with a PIN. A manager reads figures and acts on nothing.
STAFF_AT_KIOSKS = (Role.ADMIN, Role.TECHNICIAN, Role.MEDIATOR)
# update_config waits a day for an offline device; a kiosk's settings wait longer, so that a
# kiosk switched off for a site's summer closure still learns, when it is back, that a PIN it
# holds was removed. Each message carries the whole of what it sets: the last one wins.
SETTINGS_TTL = timedelta(days=60)
SYSTEM = "system"  # the actor of what is sent because of another change, itself audited


@dataclass(frozen=True)
class KioskRules:
    """What staff set for a site's kiosks; the defaults for a site never set."""

    max_charge_min: int = DEFAULT_MAX_CHARGE_MIN
    help_text: str = ""  # "": the kiosk's own words ("ask a member of staff")
    forgotten_text: str = ""  # "": the kiosk says nothing of it


def rules_of(session: Session, site: Site) -> KioskRules:
    """The rules ``site``'s kiosks follow (no access check: what the kiosks are told)."""
    row = session.get(KioskSettings, site.id)
    if row is None:
        return KioskRules()
    return KioskRules(row.max_charge_min, row.help_text, row.forgotten_text)


def site_rules(session: Session, user: StaffMember, site: Site) -> KioskRules:
    """The rules of ``site``'s kiosks, for someone who may change them."""
    access.require(user, Action.MANAGE_PLACES, site)
    return rules_of(session, site)


def set_rules(
    session: Session,
    user: StaffMember,
    site: Site,
    *,
    max_charge_min: int,
    help_text: str,
    forgotten_text: str,
    timezone: str,
) -> list[Command]:
    """Set the rules of ``site``'s kiosks and send them, with everything else a kiosk keeps, to
    each kiosk of the site (the caller pushes the commands after its commit). Audited.

    Texts are kept on one line, as the kiosk shows them in a paragraph. Refused with nothing
    changed: someone who may not manage the place, a time out of bounds, a text too long.
    Returns the commands issued: none for a site without a kiosk yet (one enrolled later gets
    the rules at enrolment)."""
    access.require(user, Action.MANAGE_PLACES, site)
    low, high = MAX_CHARGE_MIN
    if not low <= max_charge_min <= high:
        raise DomainError(
            _(
                "the longest charge must be between %(low)d and %(high)d minutes",
                low=low,
                high=high,
            ),
            code="bad_max_charge",
            status=422,
        )
    help_text, forgotten_text = one_line(help_text), one_line(forgotten_text)
    for text, what in (
        (help_text, _("where to ask for help")),
        (forgotten_text, _("what happens to a phone left at closing time")),
    ):
        if len(text) > TEXT_MAX:
            raise DomainError(
                _(
                    "%(what)s: %(max)d characters at most, not %(length)d",
                    what=what,
                    max=TEXT_MAX,
                    length=len(text),
                ),
                code="text_too_long",
                status=422,
            )
    before = rules_of(session, site)
    row = session.get(KioskSettings, site.id)
    if row is None:
        row = KioskSettings(site_id=site.id)
        session.add(row)
    row.max_charge_min = max_charge_min
    row.help_text = help_text
    row.forgotten_text = forgotten_text
    row.updated_at = utcnow()
    audit.record(
        session,
        user,
        "site.kiosk_settings",
        "site",
        site.id,
        f"charging kiosks at {site.name}: longest charge {max_charge_min} min",
        max_charge_min=max_charge_min,
        help_text=help_text,
        forgotten_text=forgotten_text,
        before={
            "max_charge_min": before.max_charge_min,
            "help_text": before.help_text,
            "forgotten_text": before.forgotten_text,
        },
    )
    return send_settings(session, user, [site.id], timezone=timezone, pushed=True)


def one_line(text: str) -> str:
    """``text`` as the kiosk shows it: one line, single spaces, no control characters."""
    return " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())


# --- what a kiosk is told -----------------------------------------------------------------------


def settings_for(session: Session, site: Site, *, timezone: str) -> dict[str, Any]:
    """Everything a kiosk of ``site`` keeps from the controller, as ``update_config``
    arguments: the site's rules and opening hours, the city's ``timezone`` and the residents'
    language, and the staff's PINs (:func:`staff_pins`)."""
    rules = rules_of(session, site)
    return {
        "kiosk_max_charge_min": rules.max_charge_min,
        "kiosk_help_text": rules.help_text,
        "kiosk_forgotten_text": rules.forgotten_text,
        "kiosk_opening_hours": site.opening_hours or "",
        "site_timezone": timezone,
        "site_language": DEFAULT_LANGUAGE,
        "kiosk_staff_pins": staff_pins(session, site),
    }


def staff_pins(session: Session, site: Site) -> dict[str, str]:
    """The PIN hash of each member of staff who may open a locker at ``site``'s kiosks, by
    username: active admins, and active technicians and mediators whose places cover the site
    (the site itself, or its organisation). A kiosk takes 200 at most (the protocol's bound,
    which refuses the command with a message saying so)."""
    covering = select(UserScope.user_id).where(
        or_(UserScope.site_id == site.id, UserScope.organisation_id == site.organisation_id)
    )
    rows = session.execute(
        select(User.username, User.kiosk_pin_hash)
        .where(
            User.active.is_(True),
            User.kiosk_pin_hash.is_not(None),
            User.role.in_(STAFF_AT_KIOSKS),
            or_(User.role == Role.ADMIN, User.id.in_(covering)),
        )
        .order_by(User.username)
    )
    return {username: pin_hash for username, pin_hash in rows if pin_hash}


def kiosks_at(session: Session, site_ids: Iterable[int]) -> list[Device]:
    """The kiosks in service at ``site_ids``, by site and name: charging kiosks, and any device
    that reported lockers (a kiosk enrolled as the place's hotspot, running both roles)."""
    wanted = sorted(set(site_ids))
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Device)
            .where(Device.site_id.in_(wanted), Device.retired_at.is_(None))
            .where(
                or_(
                    Device.kind == DeviceKind.KIOSK,
                    Device.id.in_(select(LockerBank.device_id)),
                )
            )
            .order_by(Device.site_id, Device.name)
        )
    )


def send_settings(
    session: Session,
    actor: audit.Actor,
    site_ids: Iterable[int],
    *,
    timezone: str,
    pushed: bool,
) -> list[Command]:
    """Send every kiosk of ``site_ids`` all it keeps (:func:`settings_for`), one
    ``update_config`` per kiosk. ``pushed``: the caller pushes them after its commit (else they
    wait, ``queued``, for the next sweep of a controller process)."""
    return _send(
        session,
        actor,
        site_ids,
        lambda site: settings_for(session, site, timezone=timezone),
        pushed=pushed,
    )


def send_staff_pins(
    session: Session, site_ids: Iterable[int], *, pushed: bool = False
) -> list[Command]:
    """Send every kiosk of ``site_ids`` the staff's PINs as they are now: after a PIN, a role,
    places or an account's state changed (the caller may be the command line: by default the
    commands wait, ``queued``, for the next sweep of a controller process, seconds away)."""
    return _send(
        session,
        SYSTEM,
        site_ids,
        lambda site: {"kiosk_staff_pins": staff_pins(session, site)},
        pushed=pushed,
    )


def _send(
    session: Session,
    actor: audit.Actor,
    site_ids: Iterable[int],
    args_of: Callable[[Site], dict[str, Any]],
    *,
    pushed: bool,
) -> list[Command]:
    by_site: dict[int, list[str]] = {}
    for kiosk in kiosks_at(session, site_ids):
        by_site.setdefault(kiosk.site_id, []).append(kiosk.id)
    issued: list[Command] = []
    for site_id, device_ids in by_site.items():
        site = session.get(Site, site_id)
        assert site is not None  # a device's site
        issued += render.send_settings(
            session,
            actor,
            device_ids,
            args_of(site),
            owner=render.Owner.LOCKERS,
            ttl=SETTINGS_TTL,
            pushed=pushed,
        )
    return issued


def at_enrolment(session: Session, device: Device, *, timezone: str) -> dict[str, Any] | None:
    """What a new charging kiosk starts with (nothing for other kinds): all it keeps, in the
    answer to its enrolment, so that it opens for staff and knows its site's closing time
    before any command reaches it."""
    if device.kind != DeviceKind.KIOSK:
        return None
    site = session.get(Site, device.site_id)
    assert site is not None
    return settings_for(session, site, timezone=timezone)
