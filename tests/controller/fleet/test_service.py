"""The fleet as staff see it (controller/fleet/service.py): each reads only the devices of the
places they cover."""

from __future__ import annotations

import pytest

from controller.access import Role
from controller.errors import NotFound, PermissionDenied
from controller.fleet import service as fleet
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
