"""The fleet as staff see it (controller/fleet/service.py): each reads only the devices of the
places they cover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from agent.protocol import DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.errors import Conflict, DomainError, NotFound, PermissionDenied
from controller.fleet import enrolment
from controller.fleet import service as fleet
from controller.fleet.condition import Concern, concern_finders, device_conditions
from controller.fleet.models import DeviceStatus
from tests.factories import make_device, make_organisation, make_site, make_user


def test_mediator_sees_only_the_devices_of_their_sites(db):
    organisation = make_organisation(db)
    mine, other = make_site(db, organisation), make_site(db, organisation)
    my_device, other_device = make_device(db, mine), make_device(db, other)
    mediator = make_user(db, Role.MEDIATOR, sites=[mine])

    assert [d.id for d in fleet.list_devices(db, mediator)] == [my_device.id]
    assert fleet.get_device(db, mediator, my_device.id).id == my_device.id
    with pytest.raises(PermissionDenied):
        fleet.get_device(db, mediator, other_device.id)


def test_covering_an_organisation_covers_all_its_sites(db):
    organisation = make_organisation(db)
    sites = [make_site(db, organisation) for _ in range(3)]
    elsewhere = make_site(db)
    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation])

    visible = {summary.site.id for summary in fleet.list_sites(db, technician)}
    assert visible == {s.id for s in sites}
    assert elsewhere.id not in visible


def test_admin_sees_every_site(db):
    sites = [make_site(db) for _ in range(3)]
    admin = make_user(db, Role.ADMIN)
    assert {s.id for s in sites} <= {summary.site.id for summary in fleet.list_sites(db, admin)}


def test_unknown_device_is_not_found_rather_than_forbidden(db):
    with pytest.raises(NotFound):
        fleet.get_device(db, make_user(db, Role.ADMIN), "no-such-device")


# --- a device's condition, the fleet's filters and order ----------------------------------------


def _finders(**flagged):
    """Concern finders as other domains register them, flagging the devices given by concern."""
    return [
        (Concern(name), lambda session, devices, ids=ids: {d.id for d in devices} & set(ids))
        for name, ids in flagged.items()
    ]


def test_a_flagged_device_shows_its_concerns_whatever_its_presence(db):
    site = make_site(db)
    locked = make_device(db, site, status=DeviceStatus.ONLINE)
    fine = make_device(db, site, status=DeviceStatus.ONLINE)
    finders = _finders(login_locked=[locked.id], open_alert=[locked.id])

    conditions = device_conditions(db, [locked, fine], finders)

    assert conditions[locked.id].concerns == (Concern.LOGIN_LOCKED, Concern.OPEN_ALERT)
    assert conditions[locked.id].status is DeviceStatus.ONLINE
    assert conditions[fine.id].concerns == () and conditions[fine.id].live


def test_an_offline_devices_figures_are_not_live(db):
    gone = make_device(db, status=DeviceStatus.OFFLINE, metrics={"cpu_percent": 80.0})
    assert not device_conditions(db, [gone], [])[gone.id].live


def test_devices_are_found_by_name_or_host_name_kind_status_and_concern(db):
    site = make_site(db)
    window = make_device(
        db, site, name="PC by the window", inventory={"hostname": "pc-salle-7"},
        status=DeviceStatus.ONLINE,
    )  # fmt: skip
    kiosk = make_device(db, site, name="Borne", kind=DeviceKind.KIOSK, status=DeviceStatus.OFFLINE)
    locked = make_device(db, site, name="pc-accueil", status=DeviceStatus.ONLINE)
    admin = make_user(db, Role.ADMIN)
    finders = _finders(login_locked=[locked.id])

    def names(**wanted):
        found = fleet.find_devices(
            db, admin, fleet.DeviceFilter(site_id=site.id, **wanted), finders
        )
        return [d.name for d in found.devices]

    assert names(search="SALLE-7") == ["PC by the window"] == names(search="window")
    assert names(kind=DeviceKind.KIOSK) == ["Borne"]
    assert names(status=DeviceStatus.OFFLINE) == ["Borne"]
    assert names(concern=Concern.LOGIN_LOCKED) == ["pc-accueil"] == names(any_concern=True)
    assert names(sort=fleet.DeviceSort.STATUS) == ["pc-accueil", "Borne", "PC by the window"]
    assert names() == ["Borne", "PC by the window", "pc-accueil"]  # whatever the case
    assert {window.id, kiosk.id} <= {d.id for d in fleet.list_devices(db, admin, site.id)}


def test_last_seen_order_puts_the_most_recent_first_and_the_never_seen_last(db):
    site = make_site(db)
    now = datetime.now(UTC)
    make_device(db, site, name="never")
    make_device(db, site, name="old", last_seen_at=now - timedelta(hours=3))
    make_device(db, site, name="recent", last_seen_at=now)
    wanted = fleet.DeviceFilter(site_id=site.id, sort=fleet.DeviceSort.LAST_SEEN)

    found = fleet.find_devices(db, make_user(db, Role.ADMIN), wanted)

    assert [d.name for d in found.devices] == ["recent", "old", "never"]


def test_retired_devices_leave_the_lists_and_the_counts(db):
    site = make_site(db)
    make_device(db, site, name="in-service", status=DeviceStatus.ONLINE)
    retired = make_device(db, site, name="gone", status=DeviceStatus.OFFLINE)
    enrolment.retire_device(db, "cli", retired)
    admin = make_user(db, Role.ADMIN)

    assert [d.name for d in fleet.list_devices(db, admin, site.id)] == ["in-service"]
    assert [d.name for d in fleet.list_devices(db, admin, site.id, retired=True)] == ["gone"]
    summary = next(s for s in fleet.list_sites(db, admin) if s.site.id == site.id)
    assert summary.counts[DeviceStatus.OFFLINE] == 0 and summary.total == 1


# --- renaming and moving ------------------------------------------------------------------------


def test_a_technician_renames_a_device_and_the_audit_log_says_so(db):
    site = make_site(db)
    device = make_device(db, site, name="pc-salle-7")
    technician = make_user(db, Role.TECHNICIAN, sites=[site])

    fleet.rename_device(db, technician, device, "  PC by   the window ")

    assert device.name == "PC by the window"
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "device.rename")).one()
    assert entry.detail == {"before": "pc-salle-7", "after": "PC by the window"}
    with pytest.raises(DomainError):
        fleet.rename_device(db, technician, device, "   ")


def test_a_mediator_may_not_rename_a_device(db):
    site = make_site(db)
    device = make_device(db, site, name="pc-1")
    with pytest.raises(PermissionDenied):
        fleet.rename_device(db, make_user(db, Role.MEDIATOR, sites=[site]), device, "mine")
    assert device.name == "pc-1"


def test_a_device_moves_only_between_sites_the_technician_covers(db):
    here, there, elsewhere = make_site(db), make_site(db), make_site(db)
    device = make_device(db, here)
    technician = make_user(db, Role.TECHNICIAN, sites=[here, there])

    with pytest.raises(PermissionDenied):
        fleet.move_device(db, technician, device, elsewhere)
    assert device.site_id == here.id

    fleet.move_device(db, technician, device, there)

    assert device.site_id == there.id
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "device.move")).one()
    assert entry.detail == {"from_site_id": here.id, "to_site_id": there.id}
    outsider = make_user(db, Role.TECHNICIAN, sites=[elsewhere])
    with pytest.raises(PermissionDenied):
        fleet.move_device(db, outsider, device, elsewhere)  # the device's site is not theirs


def test_a_retired_device_does_not_move(db):
    here, there = make_site(db), make_site(db)
    device = make_device(db, here)
    enrolment.retire_device(db, "cli", device)
    with pytest.raises(Conflict):
        fleet.move_device(db, make_user(db, Role.ADMIN), device, there)


def test_a_pcs_own_word_on_its_guest_login_comes_before_its_last_wipe(app, db):
    # As the app wires it: public_pcs reports locked logins, maintenance open alerts.
    finders = concern_finders(app)
    site = make_site(db)
    says_locked = make_device(db, site, metrics={"state": {"guest_login": "locked"}})
    says_open = make_device(db, site, metrics={"state": {"guest_login": "open"}})
    kiosk = make_device(db, site, kind=DeviceKind.KIOSK, metrics={"state": {"guest_login": "x"}})

    conditions = device_conditions(db, [says_locked, says_open, kiosk], finders)

    assert conditions[says_locked.id].concerns == (Concern.LOGIN_LOCKED,)
    assert conditions[says_open.id].concerns == () == conditions[kiosk.id].concerns
