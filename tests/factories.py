"""Builders for test data: defaults filled in, any field overridable."""

from __future__ import annotations

import itertools
import secrets
import uuid
from typing import Any

from sqlalchemy.orm import Session

from agent.protocol import DeviceKind, EnrolRequest, Inventory, PortalModeName
from controller.access import Role
from controller.accounts.models import User, UserScope
from controller.accounts.service import hash_password
from controller.fleet.enrolment import _digest
from controller.fleet.models import Device, DeviceStatus
from controller.hotspots import service as hotspot_portal
from controller.places.models import Organisation, Site

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run


def make_organisation(db: Session, **overrides: Any) -> Organisation:
    n = next(_counter)
    organisation = Organisation(**{"name": f"Organisation {n}", **overrides})
    db.add(organisation)
    db.flush()
    return organisation


def make_site(db: Session, organisation: Organisation | None = None, **overrides: Any) -> Site:
    n = next(_counter)
    site = Site(
        **{
            "organisation": organisation or make_organisation(db),
            "slug": f"site-{n}",
            "name": f"Site {n}",
            "city": "Grenoble",
            "latitude": 45.19,
            "longitude": 5.72,
            "opening_hours": "Mo-Fr 09:00-17:00",
            **overrides,
        }
    )
    db.add(site)
    db.flush()
    return site


def make_user(
    db: Session,
    role: Role | str = Role.ADMIN,
    *,
    organisations: list[Organisation] = (),
    sites: list[Site] = (),
    **overrides: Any,
) -> User:
    n = next(_counter)
    user = User(
        **{"username": f"user{n}", "password_hash": _PASSWORD_HASH, "role": Role(role), **overrides}
    )
    user.scopes = [UserScope(organisation_id=o.id) for o in organisations] + [
        UserScope(site_id=s.id) for s in sites
    ]
    db.add(user)
    db.flush()
    return user


def make_device(
    db: Session, site: Site | None = None, *, secret: str | None = None, **overrides: Any
) -> Device:
    n = next(_counter)
    device = Device(
        **{
            "id": str(uuid.uuid4()),
            "site": site or make_site(db),
            "kind": DeviceKind.PC,
            "name": f"pc-{n}",
            "secret_hash": _digest(secret or secrets.token_urlsafe(16)),
            "status": DeviceStatus.NEW,
            **overrides,
        }
    )
    db.add(device)
    db.flush()
    return device


def make_hotspot(
    db: Session, site: Site | None = None, *, mode: PortalModeName | None = None, **overrides: Any
) -> Device:
    """A hotspot; with ``mode``, one already set from the controller in that mode."""
    device = make_device(db, site, kind=DeviceKind.HOTSPOT, **overrides)
    if mode is not None:
        hotspot_portal.portal_config(db, device).mode = mode
        db.flush()
    return device


INVENTORY = Inventory(
    hostname="pc-accueil",
    os_name="Debian GNU/Linux",
    os_version="12",
    kernel="6.1.0",
    cpu_model="Intel Celeron",
    cpu_count=2,
    ram_bytes=4 << 30,
)


def enrol_request(token: str, kind: DeviceKind = DeviceKind.PC) -> EnrolRequest:
    """What an agent sends to enrol with ``token``."""
    return EnrolRequest(token=token, kind=kind, inventory=INVENTORY)
