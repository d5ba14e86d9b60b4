"""Enrolment: one-time tokens, trading one for a device identity, and device authentication."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from agent.protocol import DeviceKind, EnrolRequest, EnrolResponse, UpdateConfigArgs
from controller import access, audit, signals
from controller.access import Action, StaffMember
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied, Unauthenticated
from controller.fleet.models import Device, DeviceStatus, EnrolmentToken
from controller.places import service as places
from controller.places.models import Organisation, Site

# What a domain sends a new device with its identity: ``update_config`` arguments, or None.
StartingSettings = Callable[[Session, Device], dict[str, Any] | None]
STARTING_SETTINGS = "borne.starting_settings"

# "bet_" (borne enrolment token): recognisable in logs and by secret scanners.
TOKEN_PREFIX = "bet_"  # noqa: S105 (a prefix, not a secret)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    record: EnrolmentToken


def create_token(
    session: Session,
    actor: audit.Actor,
    site: Site,
    *,
    ttl: timedelta,
    kind: DeviceKind | None = None,
    note: str = "",
) -> IssuedToken:
    """Make a one-time token that enrols one device on ``site`` until it expires."""
    if not isinstance(actor, str):
        access.require(actor, Action.ENROL_DEVICE, site)
    if ttl <= timedelta(0) or ttl > timedelta(days=30):
        raise DomainError("a token lives between a minute and 30 days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    record = EnrolmentToken(
        token_hash=_digest(token),
        site_id=site.id,
        kind=kind,
        note=note.strip()[:200],
        created_by_id=audit.actor_id(actor),
        expires_at=utcnow() + ttl,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        "site",
        site.id,
        f"enrolment token for {kind or 'any device'} at {site.name}",
        token_id=record.id,
        kind=kind,
        expires_at=record.expires_at.isoformat(),
    )
    return IssuedToken(token, record)


def enrol(
    session: Session,
    request: EnrolRequest,
    *,
    heartbeat_interval_s: int,
    starting_settings: Sequence[StartingSettings] = (),
) -> EnrolResponse:
    """Trade a valid token for a new device id and secret. Refused tokens change nothing.

    ``starting_settings``: what each domain sends a new device of its kind with its identity
    (a public PC its site's session limits), so it does not wait for a first ``update_config``.
    """
    now = utcnow()
    record = session.scalar(
        select(EnrolmentToken).where(EnrolmentToken.token_hash == _digest(request.token))
    )
    if record is None:
        raise PermissionDenied("this enrolment token is unknown", code="token_unknown")
    if record.revoked_at is not None:
        raise PermissionDenied(
            "this enrolment token was revoked; ask for a new one", code="token_revoked"
        )
    if record.used_at is not None:
        raise Conflict(
            "this enrolment token was already used; ask for a new one", code="token_used"
        )
    if record.expires_at <= now:
        raise DomainError(
            f"this enrolment token expired at {record.expires_at:%Y-%m-%d %H:%M} UTC",
            code="token_expired",
            status=410,
        )
    if record.kind is not None and record.kind != request.kind:
        raise DomainError(
            f"this token enrols a {record.kind}, not a {request.kind.value}", code="token_kind"
        )

    # Claim the token atomically: of two devices racing with one token, only one wins.
    claimed = session.execute(
        update(EnrolmentToken)
        .where(EnrolmentToken.id == record.id, EnrolmentToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "this enrolment token was already used; ask for a new one", code="token_used"
        )

    secret = secrets.token_urlsafe(32)
    inventory = request.inventory
    device = Device(
        id=str(uuid.uuid4()),
        site_id=record.site_id,
        kind=request.kind,
        name=inventory.hostname,
        secret_hash=_digest(secret),
        status=DeviceStatus.NEW,
        heartbeat_interval_s=heartbeat_interval_s,
        inventory=msgspec.to_builtins(inventory),
        inventory_at=now,
    )
    session.add(device)
    session.flush()
    session.execute(
        update(EnrolmentToken).where(EnrolmentToken.id == record.id).values(device_id=device.id)
    )
    audit.record(
        session,
        "system",
        "device.enrol",
        "device",
        device.id,
        f"{request.kind.value} {inventory.hostname} enrolled with token {record.id}",
        site_id=record.site_id,
        token_id=record.id,
    )
    remote_settings = _starting_settings(session, device, starting_settings)
    signals.send_after_commit(
        session, signals.device_enrolled, device.id, site_id=device.site_id, kind=device.kind
    )
    return EnrolResponse(
        device_id=device.id,
        device_secret=secret,
        site_id=device.site_id,
        kind=request.kind,
        heartbeat_interval_s=heartbeat_interval_s,
        remote_settings=remote_settings,
    )


def _starting_settings(
    session: Session, device: Device, providers: Sequence[StartingSettings]
) -> UpdateConfigArgs | None:
    """The domains' settings for the new device together; None when none has any.

    A hotspot gets nothing: its portal follows its own settings file (the mode or hours city IT
    wrote there) until staff save its portal on the controller, and an agent older than the
    portal settings could not even read an answer carrying them.
    """
    settings: dict[str, Any] = {}
    for provider in providers:
        settings.update(provider(session, device) or {})
    return msgspec.convert(settings, UpdateConfigArgs) if settings else None


def authenticate_device(session: Session, device_id: str, secret: str) -> Device:
    """The device these credentials belong to; one message for every failure, on purpose."""
    device = session.get(Device, device_id) if _is_uuid(device_id) else None
    expected = device.secret_hash if device else _digest("no such device")
    if not hmac.compare_digest(expected, _digest(secret)) or device is None:
        raise Unauthenticated("unknown device or wrong secret", code="bad_credentials")
    if device.retired_at is not None:  # its own secret: it may learn why
        raise Unauthenticated(
            f"this device was retired on {device.retired_at:%Y-%m-%d}: enrol it again with a "
            "new token to bring it back",
            code="device_retired",
        )
    return device


def revoke_token(session: Session, actor: audit.Actor, token_id: int) -> EnrolmentToken:
    """Withdraw an enrolment token nobody has used yet: it enrols nothing any more."""
    record = session.get(EnrolmentToken, token_id)
    if record is None:
        raise NotFound(f"no enrolment token {token_id}")
    if not isinstance(actor, str):
        access.require(actor, Action.ENROL_DEVICE, record.site)
    if record.used_at is not None:
        raise Conflict("this token was already used: retire the device it enrolled instead")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record(
            session,
            actor,
            "token.revoke",
            "site",
            record.site_id,
            f"enrolment token {record.id} for {record.site.name} revoked",
            token_id=record.id,
        )
    return record


def retire_device(session: Session, actor: audit.Actor, device: Device) -> Device:
    """Take a device out of service for good: its secret is refused from now on, its history
    (events, sessions, wipes, commands) kept."""
    if not isinstance(actor, str):
        access.require(actor, Action.ENROL_DEVICE, device.site)
    if device.retired_at is None:
        device.retired_at = utcnow()
        audit.record(
            session,
            actor,
            "device.retire",
            "device",
            device.id,
            f"{device.name} at {device.site.name} retired",
        )
    return device


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return len(text) == 36


def enrolment_sites(session: Session, user: StaffMember) -> list[Site]:
    """Sites where ``user`` may enrol devices (none if the role may not enrol)."""
    if not access.can(user, Action.ENROL_DEVICE):
        return []
    query = places.visible_sites_query(user).join(Organisation)
    return list(session.scalars(query.order_by(Organisation.name, Site.name)))


def recent_tokens(session: Session, user: StaffMember, limit: int = 50) -> list[EnrolmentToken]:
    """Enrolment tokens of the sites the user covers, newest first. Only hashes are stored."""
    access.require(user, Action.ENROL_DEVICE)
    visible = places.visible_sites_query(user).with_only_columns(Site.id)
    query = (
        select(EnrolmentToken)
        .where(EnrolmentToken.site_id.in_(visible))
        .options(selectinload(EnrolmentToken.site))
        .order_by(EnrolmentToken.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def add_starting_settings(app: Flask, provider: StartingSettings) -> None:
    """Let a domain give new devices their first settings (its ``init_app`` calls this)."""
    app.extensions.setdefault(STARTING_SETTINGS, []).append(provider)


def starting_settings_of(app: Flask) -> list[StartingSettings]:
    providers: list[StartingSettings] = app.extensions.get(STARTING_SETTINGS, [])
    return providers
