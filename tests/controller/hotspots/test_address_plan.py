"""The city's address plan of hotspot client networks (controller/hotspots/address_plan.py, its
API and its command line), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agent.protocol import DeviceKind
from controller.access import Role
from controller.audit import AuditLog
from controller.db import utcnow
from controller.errors import Conflict, DomainError, PermissionDenied
from controller.fleet import enrolment
from controller.hotspots import address_plan
from controller.hotspots.models import HotspotSubnet
from tests.controller.testkit import sign_in
from tests.factories import enrol_request, make_device, make_hotspot, make_site, make_user

PLAN = address_plan.AddressPlan.from_settings("10.64.0.0/20", 22)  # room for four /22


def test_hotspots_get_the_first_free_subnets_in_order(db):
    first, second = make_hotspot(db), make_hotspot(db)

    assert address_plan.allocate(db, first, PLAN).subnet == "10.64.0.0/22"
    assert address_plan.allocate(db, second, PLAN).subnet == "10.64.4.0/22"
    assert address_plan.allocate(db, first, PLAN).subnet == "10.64.0.0/22"  # kept


def test_a_chosen_subnet_is_skipped_by_the_allocation_it_overlaps(db):
    chosen, new = make_hotspot(db), make_hotspot(db)
    admin = make_user(db, Role.ADMIN)

    address_plan.choose(db, admin, chosen, "10.64.1.0/24", PLAN)

    # 10.64.0.0/22 contains the chosen /24, so the next hotspot gets the /22 after it.
    assert address_plan.allocate(db, new, PLAN).subnet == "10.64.4.0/22"


def test_a_full_range_names_the_settings_to_change(db):
    for _ in range(4):
        address_plan.allocate(db, make_hotspot(db), PLAN)

    with pytest.raises(Conflict, match="hotspot_supernet"):
        address_plan.allocate(db, make_hotspot(db), PLAN)


def test_a_retired_hotspots_subnet_goes_back_to_the_plan(db):
    old = make_hotspot(db)
    address_plan.allocate(db, old, PLAN)
    old.retired_at = utcnow()
    db.flush()

    assert address_plan.allocate(db, make_hotspot(db), PLAN).subnet == "10.64.0.0/22"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ten.64.0.0/22", "is not an IPv4 network"),
        ("10.64.0.0", "has no prefix length"),
        ("10.64.1.0/22", "did you mean 10.64.0.0/22"),
        ("192.168.1.0/24", "outside the hotspots' range 10.64.0.0/20"),
        ("10.64.0.0/30", "too small for a wifi portal"),
    ],
)
def test_a_bad_choice_says_what_is_wrong_and_changes_nothing(db, text, says):
    hotspot = make_hotspot(db)
    address_plan.allocate(db, hotspot, PLAN)

    with pytest.raises(DomainError, match=says):
        address_plan.choose(db, make_user(db, Role.ADMIN), hotspot, text, PLAN)

    assert address_plan.subnet_of(db, hotspot).subnet == "10.64.0.0/22"


def test_an_overlapping_choice_names_the_hotspot_it_overlaps(db):
    taken = make_hotspot(db, name="wifi-place-verdun")
    address_plan.allocate(db, taken, PLAN)
    other = make_hotspot(db)

    with pytest.raises(Conflict, match="wifi-place-verdun"):
        address_plan.choose(db, make_user(db, Role.ADMIN), other, "10.64.2.0/23", PLAN)
    assert address_plan.subnet_of(db, other) is None


def test_only_city_it_chooses_and_the_choice_is_audited(db):
    hotspot = make_hotspot(db)
    technician = make_user(db, Role.TECHNICIAN, organisations=[hotspot.site.organisation])

    with pytest.raises(PermissionDenied):
        address_plan.choose(db, technician, hotspot, "10.64.8.0/22", PLAN)
    address_plan.choose(db, make_user(db, Role.ADMIN), hotspot, "10.64.8.0/22", PLAN)

    entry = db.scalars(select(AuditLog).where(AuditLog.action == "hotspot.subnet")).one()
    assert entry.target_id == hotspot.id and entry.detail["after"] == "10.64.8.0/22"


def test_a_pc_has_no_client_network(db):
    with pytest.raises(DomainError, match="not a wifi hotspot"):
        address_plan.allocate(db, make_device(db), PLAN)


def test_the_portal_takes_its_subnet_and_gateway_from_the_plan():
    assert address_plan.portal_network("10.64.4.0/22") == {
        "client_subnet": "10.64.4.0/22",
        "listen_address": "10.64.4.1",
    }


def test_an_enrolled_hotspot_gets_its_client_network_at_once(client, db):
    site = make_site(db)
    issued = enrolment.create_token(db, "cli", site, ttl=timedelta(hours=1))
    db.commit()

    answer = client.post(
        "/api/v1/enrol", json=_json(enrol_request(issued.token, DeviceKind.HOTSPOT))
    )

    assert answer.status_code == 201, answer.get_json()
    row = db.get(HotspotSubnet, answer.get_json()["device_id"])
    assert row is not None and row.subnet.startswith("10.")


def test_the_api_reads_the_plan_and_refuses_an_overlap_with_409(client, db):
    first, second = make_hotspot(db), make_hotspot(db)
    sign_in(client, make_user(db, Role.ADMIN))

    read = client.get(f"/api/v1/devices/{first.id}/subnet")
    overlap = client.put(f"/api/v1/devices/{second.id}/subnet", json={"subnet": "10.64.0.0/16"})
    chosen = client.put(f"/api/v1/devices/{second.id}/subnet", json={"subnet": "10.65.0.0/24"})
    plan = client.get("/api/v1/hotspots/address-plan").get_json()

    assert read.status_code == 200 and read.get_json()["listen_address"].endswith(".1")
    assert overlap.status_code == 409 and first.name in overlap.get_json()["message"]
    assert chosen.status_code == 200 and chosen.get_json()["chosen"] is True
    assert [h["subnet"] for h in plan["hotspots"]] == [read.get_json()["subnet"], "10.65.0.0/24"]


def test_the_api_refuses_bad_input_with_a_clear_4xx(client, db):
    hotspot = make_hotspot(db)
    site = hotspot.site
    sign_in(client, make_user(db, Role.ADMIN))

    malformed = client.put(f"/api/v1/devices/{hotspot.id}/subnet", json={"net": "10.64.0.0/22"})
    not_a_network = client.put(f"/api/v1/devices/{hotspot.id}/subnet", json={"subnet": "x"})
    pc = make_device(db, site)
    not_a_hotspot = client.get(f"/api/v1/devices/{pc.id}/subnet")

    assert malformed.status_code == 422
    assert not_a_network.status_code == 400 and "IPv4" in not_a_network.get_json()["message"]
    assert not_a_hotspot.status_code == 400


def test_a_manager_may_not_read_the_plan(client, db):
    sign_in(client, make_user(db, Role.MANAGER))

    assert client.get("/api/v1/hotspots/address-plan").status_code == 403


def _json(request):
    import msgspec

    return msgspec.to_builtins(request)


def test_the_command_line_prints_the_plan_and_names_an_unknown_hotspot(run):
    printed = run("hotspot", "plan")
    unknown = run("hotspot", "subnet", "no-such-hotspot", "10.64.0.0/22")

    assert printed.exit_code == 0 and "10.64.0.0/12" in printed.output
    assert unknown.exit_code == 1 and "no-such-hotspot" in unknown.output


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"hotspot_supernet": "10.64.0.1/12"}, "hotspot_supernet"),
        ({"hotspot_supernet": "8.8.0.0/16"}, "private range"),
        ({"hotspot_subnet_prefixlen": 30}, "hotspot_subnet_prefixlen"),
        ({"hotspot_supernet": "10.64.0.0/24", "hotspot_subnet_prefixlen": 22}, "between 24"),
    ],
)
def test_a_bad_plan_setting_stops_the_start_naming_it(settings, says):
    from borne.settings import ImproperlyConfigured
    from controller.config import load_controller_settings

    with pytest.raises(ImproperlyConfigured, match=says):
        load_controller_settings(overrides=settings)
