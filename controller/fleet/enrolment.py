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
from controller.access import Action, StaffMember, role_word
from controller.db import utcnow
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied, Unauthenticated
from controller.fleet.models import Device, DeviceStatus, EnrolmentToken
from controller.i18n import _
from controller.places import service as places
from controller.places.models import Organisation, Site

# A device's settings as ``update_config`` arguments, or None: what a domain keeps for it (its
# values of the settings it owns), or what enrolment sends a new device with its identity.
StartingSettings = Callable[[Session, Device], dict[str, Any] | None]
DOMAIN_SETTINGS = "borne.domain_settings"
STARTING_SETTINGS = "borne.starting_settings"

# "bet_" (borne enrolment token): recognisable in logs and by secret scanners.
TOKEN_PREFIX = "bet_"  # noqa: S105 (a prefix, not a secret)
# A technician may copy a token by hand from a screen to a PC: no letters or digits that look
# alike (0/o, 1/l/i, u/v), lowercase, in groups of four; 24 characters carry 117 bits.
TOKEN_ALPHABET = "23456789abcdefghjkmnpqrstwxyz"  # noqa: S105 (an alphabet, not a secret)
TOKEN_LENGTH = 24


def new_enrolment_token() -> str:
    """ "bet_7kq2-mx9p-…": random, read and typed without a doubt."""
    body = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
    return TOKEN_PREFIX + "-".join(body[i : i + 4] for i in range(0, TOKEN_LENGTH, 4))


def canonical_token(typed: str) -> str:
    """A token as typed (capitals, spaces, missing dashes) in the form it was issued in.

    Tokens issued before the grouped form pass through unchanged."""
    token = typed.strip()
    body = token.removeprefix(TOKEN_PREFIX)
    letters = "".join(body.split()).replace("-", "").lower()
    if len(letters) != TOKEN_LENGTH or any(c not in TOKEN_ALPHABET for c in letters):
        return token
    return TOKEN_PREFIX + "-".join(letters[i : i + 4] for i in range(0, TOKEN_LENGTH, 4))


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
        raise DomainError(_("a token lives between a minute and 30 days"))
    token = new_enrolment_token()
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

    ``starting_settings``: what a new device gets with its identity (a public PC its site's
    session limits), so it does not wait for a first ``update_config``: in the app, the one
    provider of :func:`starting_settings_of`, which keeps what the agent said it reads.
    """
    now = utcnow()
    record = session.scalar(
        select(EnrolmentToken).where(
            EnrolmentToken.token_hash == _digest(canonical_token(request.token))
        )
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
        # The token's note names the device ("PC by the window"); else its host name, which
        # then follows the inventory the agent reports (ingest).
        name=record.note.strip() or inventory.hostname,
        secret_hash=_digest(secret),
        status=DeviceStatus.NEW,
        heartbeat_interval_s=heartbeat_interval_s,
        inventory=msgspec.to_builtins(inventory),
        inventory_at=now,
        agent_features=sorted(set(request.features)),
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
        f"{request.kind.value} {device.name} ({inventory.hostname}) enrolled with token "
        f"{record.id}",
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
    """The providers' settings for the new device together; None when none has any.

    A hotspot gets nothing: its portal follows its own settings file (the mode or hours city IT
    wrote there) until staff save its portal on the controller, and an agent older than the
    portal settings could not even read an answer carrying them.
    """
    settings: dict[str, Any] = {}
    for provider in providers:
        settings.update(provider(session, device) or {})
    return msgspec.convert(settings, UpdateConfigArgs) if settings else None


class SecretToPromote(Exception):
    """A read-only authentication met a device's new secret in first use: promoting it writes,
    so authenticate again in a writing transaction."""


def authenticate_device(
    session: Session, device_id: str, secret: str, *, read_only: bool = False
) -> Device:
    """The device these credentials belong to; one message for every failure, on purpose.

    During a secret rotation the device's new secret, while pending, is accepted beside the
    current one, and its first use makes it the only one (audited ``device.secret_rotated``):
    the caller commits. ``read_only`` callers get :class:`SecretToPromote` instead.
    """
    device = session.get(Device, device_id) if _is_uuid(device_id) else None
    digest = _digest(secret)
    expected = device.secret_hash if device else _digest("no such device")
    current = hmac.compare_digest(expected, digest)
    pending = device is not None and hmac.compare_digest(device.pending_secret_hash or "", digest)
    if not (current or pending) or device is None:
        raise Unauthenticated("unknown device or wrong secret", code="bad_credentials")
    if device.retired_at is not None:  # its own secret: it may learn why
        raise Unauthenticated(
            f"this device was retired on {device.retired_at:%Y-%m-%d}: enrol it again with a "
            "new token to bring it back",
            code="device_retired",
        )
    if pending and not current:
        if read_only:
            raise SecretToPromote(device.id)
        _promote_pending_secret(session, device, digest)
    return device


def _promote_pending_secret(session: Session, device: Device, digest: str) -> None:
    """The device used its new secret: it is saved there, so the old one goes."""
    # Conditional, so that of two first uses at once (the channel and an HTTP call) one
    # promotes and audits; and a pending secret replaced meanwhile is not promoted.
    promoted = session.execute(
        update(Device)
        .where(Device.id == device.id, Device.pending_secret_hash == digest)
        .values(secret_hash=digest, pending_secret_hash=None, secret_rotation_requested_at=None)
    )
    session.refresh(device)
    if promoted.rowcount != 1:  # type: ignore[attr-defined]
        if not hmac.compare_digest(device.secret_hash, digest):
            raise Unauthenticated("unknown device or wrong secret", code="bad_credentials")
        return  # the other first use promoted it
    audit.record(
        session,
        "system",
        "device.secret_rotated",
        "device",
        device.id,
        f"{device.name} at {device.site.name} now uses its new secret; the old one is refused",
    )


def request_secret_rotation(session: Session, actor: audit.Actor, device: Device) -> Device:
    """Ask the device for a new secret: its agent fetches one at its next acknowledgement and
    keeps the old one valid until it uses the new one. Asking again while one is waiting
    changes nothing."""
    _require_may_manage(actor, device)
    if device.retired_at is not None:
        raise Conflict(
            _("%(device)s is retired: a retired device gets no new secret", device=device.name)
        )
    if device.secret_rotation_requested_at is None:
        device.secret_rotation_requested_at = utcnow()
        audit.record(
            session,
            actor,
            "device.secret_rotation_requested",
            "device",
            device.id,
            f"new secret asked for {device.name} at {device.site.name}",
        )
    return device


def issue_new_secret(session: Session, device: Device) -> str:
    """A fresh secret for an authenticated device that staff asked to rotate; only its hash is
    kept, as pending: the current secret keeps working until the new one is first used.

    Asked again (the agent crashed before saving the previous answer), a new one replaces the
    pending one, which was never used."""
    secret = secrets.token_urlsafe(32)
    # Conditional: a rotation that ended meanwhile (its new secret was just used) gets none.
    issued = session.execute(
        update(Device)
        .where(Device.id == device.id, Device.secret_rotation_requested_at.is_not(None))
        .values(pending_secret_hash=_digest(secret))
    )
    if issued.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "nobody asked for a new secret for this device", code="no_rotation_requested"
        )
    session.refresh(device)
    return secret


def _require_may_manage(actor: audit.Actor, device: Device) -> None:
    """Only staff who may enrol devices, on a site they cover. The refusal names nothing: the
    asker may not know what is at a site outside their places."""
    if isinstance(actor, str):
        return
    if not access.covers_site(actor, device.site):
        raise PermissionDenied(_("this device is outside the places you cover"))
    if not access.can(actor, Action.ENROL_DEVICE):
        raise PermissionDenied(
            _(
                "a %(role)s may not change a device's secret",
                role=role_word(actor.role),
            )
        )


def may_rotate_secret(user: StaffMember, device: Device) -> bool:
    """Whether ``user`` may ask ``device`` for a new secret (the device page shows the form)."""
    return (
        device.retired_at is None
        and access.can(user, Action.ENROL_DEVICE)
        and access.covers_site(user, device.site)
    )


def revoke_token(session: Session, actor: audit.Actor, token_id: int) -> EnrolmentToken:
    """Withdraw an enrolment token nobody has used yet: it enrols nothing any more."""
    record = session.get(EnrolmentToken, token_id)
    if record is None:
        raise NotFound(_("no enrolment token %(id)s", id=token_id))
    if not isinstance(actor, str):
        access.require(actor, Action.ENROL_DEVICE, record.site)
    if record.used_at is not None:
        raise Conflict(_("this token was already used: retire the device it enrolled instead"))
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
        device.secret_rotation_requested_at = device.pending_secret_hash = None
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
    """Let a domain say what it keeps for a device: its values of the ``update_config``
    settings it owns (its ``init_app`` calls this). They reach a new device with its identity,
    and the device's settings page, through the controller's one renderer of settings
    (controller/configuration/render.py), which keeps what the agent reads."""
    domain_settings_of(app).append(provider)


def domain_settings_of(app: Flask) -> list[StartingSettings]:
    """The domains' providers: the app's own list, which the domains' ``init_app`` fill."""
    providers: list[StartingSettings] = app.extensions.setdefault(DOMAIN_SETTINGS, [])
    return providers


def set_starting_settings(app: Flask, renderer: StartingSettings) -> None:
    """Name what enrolment gives a new device: the settings renderer's one provider, which
    gathers the domains' (configuration's ``init_app`` calls this)."""
    app.extensions[STARTING_SETTINGS] = renderer


def starting_settings_of(app: Flask) -> list[StartingSettings]:
    """What :func:`enrol` calls for a new device's settings in ``app``."""
    renderer: StartingSettings | None = app.extensions.get(STARTING_SETTINGS)
    return [renderer] if renderer is not None else []
