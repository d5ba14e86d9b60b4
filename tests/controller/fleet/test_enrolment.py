"""Enrolment tokens and device credentials (controller/fleet/enrolment.py), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agent.protocol import DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.errors import Conflict, DomainError, PermissionDenied, Unauthenticated
from controller.fleet import enrolment
from controller.fleet.models import Device, EnrolmentToken
from tests.factories import enrol_request, make_organisation, make_site, make_user


def devices_count(db) -> int:
    return db.scalar(select(func.count()).select_from(Device))


def test_token_enrols_one_device_with_a_hashed_secret(db):
    site = make_site(db)
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))

    answer = enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)

    device = db.get(Device, answer.device_id)
    assert device.site_id == site.id and device.name == "pc-accueil"
    assert answer.device_secret not in device.secret_hash
    assert enrolment.authenticate_device(db, answer.device_id, answer.device_secret) == device
    assert issued.token not in {t.token_hash for t in db.scalars(select(EnrolmentToken))}


def test_reused_token_is_refused_and_changes_nothing(db):
    issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
    enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)
    before = devices_count(db)

    with pytest.raises(Conflict, match="already used"):
        enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)
    assert devices_count(db) == before


def test_expired_token_is_refused(db):
    issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
    issued.record.expires_at -= timedelta(hours=2)
    db.flush()

    with pytest.raises(DomainError, match="expired") as caught:
        enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)
    assert caught.value.status == 410
    assert devices_count(db) == 0


def test_unknown_token_is_refused(db):
    with pytest.raises(PermissionDenied, match="unknown"):
        enrolment.enrol(db, enrol_request("bet_not-a-real-token"), heartbeat_interval_s=10)


def test_token_for_a_kiosk_does_not_enrol_a_pc(db):
    issued = enrolment.create_token(
        db, "cli", make_site(db), ttl=timedelta(hours=1), kind=DeviceKind.KIOSK
    )
    with pytest.raises(DomainError, match="enrols a kiosk"):
        enrolment.enrol(db, enrol_request(issued.token, DeviceKind.PC), heartbeat_interval_s=10)
    assert db.get(EnrolmentToken, issued.record.id).used_at is None


def test_wrong_secret_and_unknown_device_get_the_same_refusal(db):
    issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
    answer = enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)

    with pytest.raises(Unauthenticated) as wrong_secret:
        enrolment.authenticate_device(db, answer.device_id, "nope")
    with pytest.raises(Unauthenticated) as unknown:
        enrolment.authenticate_device(db, "00000000-0000-0000-0000-000000000000", "nope")
    assert wrong_secret.value.message == unknown.value.message


def test_mediator_may_not_create_tokens(db):
    site = make_site(db)
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    with pytest.raises(PermissionDenied):
        enrolment.create_token(db, mediator, site, ttl=timedelta(hours=1))


def test_technician_creates_tokens_only_for_organisations_covered(db):
    mine, other = make_organisation(db), make_organisation(db)
    technician = make_user(db, Role.TECHNICIAN, organisations=[mine])

    enrolment.create_token(db, technician, make_site(db, mine), ttl=timedelta(hours=1))
    with pytest.raises(PermissionDenied, match="outside the places you cover"):
        enrolment.create_token(db, technician, make_site(db, other), ttl=timedelta(hours=1))


def test_token_creation_and_enrolment_are_audited(db):
    issued = enrolment.create_token(db, "cli", make_site(db), ttl=timedelta(hours=1))
    enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)

    actions = list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions[-2:] == ["token.create", "device.enrol"]


def test_a_revoked_token_enrols_nothing_and_a_used_one_cannot_be_revoked(db):
    site = make_site(db)
    withdrawn = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))
    used = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))
    enrolment.enrol(db, enrol_request(used.token), heartbeat_interval_s=10)

    enrolment.revoke_token(
        db, make_user(db, Role.TECHNICIAN, organisations=[site.organisation]), withdrawn.record.id
    )

    with pytest.raises(PermissionDenied, match="revoked"):
        enrolment.enrol(db, enrol_request(withdrawn.token), heartbeat_interval_s=10)
    with pytest.raises(Conflict, match="already used"):
        enrolment.revoke_token(db, "cli", used.record.id)
    with pytest.raises(PermissionDenied):  # outside the places a technician covers
        enrolment.revoke_token(
            db,
            make_user(db, Role.TECHNICIAN, organisations=[make_organisation(db)]),
            withdrawn.record.id,
        )


def test_a_retired_device_is_refused_and_its_history_kept(db):
    site = make_site(db)
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))
    answer = enrolment.enrol(db, enrol_request(issued.token), heartbeat_interval_s=10)
    device = enrolment.authenticate_device(db, answer.device_id, answer.device_secret)

    enrolment.retire_device(db, "cli", device)

    with pytest.raises(Unauthenticated, match="retired") as refused:
        enrolment.authenticate_device(db, answer.device_id, answer.device_secret)
    assert refused.value.code == "device_retired"
    assert db.get(Device, answer.device_id) is not None  # its history stays


def test_a_device_takes_the_tokens_note_as_its_name_else_its_host_name(db):
    site = make_site(db)
    named = enrolment.create_token(
        db, "cli", site, ttl=timedelta(hours=1), note=" PC by the window "
    )
    plain = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))

    by_note = enrolment.enrol(db, enrol_request(named.token), heartbeat_interval_s=10)
    by_host = enrolment.enrol(db, enrol_request(plain.token), heartbeat_interval_s=10)

    assert db.get(Device, by_note.device_id).name == "PC by the window"
    assert db.get(Device, by_host.device_id).name == "pc-accueil"  # the inventory's host name
