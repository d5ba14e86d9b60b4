"""A device is what the neighbour table groups under one MAC: one client for the cap and the
statistics, and the addresses it starts using after its tap join its session."""

from __future__ import annotations

from captive_portal.snapshot import read_snapshot
from tests.captive_portal.portal_app import RESIDENT, make_portal

PHONE = "3c:52:82:1a:2b:3c"
LAPTOP = "aa:bb:cc:dd:ee:0f"


def dual_stack_portal(tmp_path, **overrides):
    portal = make_portal(tmp_path, client_subnet6="2001:db8:42::/64", **overrides)
    portal.neighbours.macs.update({RESIDENT: PHONE, "2001:db8:42::23": PHONE})
    return portal


def test_a_new_ipv6_privacy_address_joins_the_session_at_the_next_refresh(tmp_path):
    portal = dual_stack_portal(tmp_path, session_s=3600)
    portal.tap_connect()
    portal.clock.advance(minutes=50)
    # The phone makes a new temporary address and starts using it.
    portal.neighbours.macs["2001:db8:42::7a3f"] = PHONE
    assert portal.remaining("2001:db8:42::7a3f") is None

    portal.refresh()

    # Only the time the session has left, not a new session.
    assert portal.remaining("2001:db8:42::7a3f") == portal.remaining() == 600


def test_only_a_connected_devices_addresses_on_the_client_network_follow(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()
    portal.neighbours.macs.update(
        {
            "2001:db8:99::5": PHONE,  # another network
            "10.42.0.1": PHONE,  # the gateway's own address
            "10.42.0.24": LAPTOP,  # a device that never tapped
            "2001:db8:42::24": LAPTOP,
        }
    )

    portal.refresh()

    for address in ("2001:db8:99::5", "10.42.0.1", "10.42.0.24", "2001:db8:42::24"):
        assert portal.remaining(address) is None, address


def test_following_stops_at_four_addresses_besides_the_one_that_tapped(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()  # RESIDENT and 2001:db8:42::23
    for n in range(0x100, 0x100 + 50):
        portal.neighbours.macs[f"2001:db8:42::{n:x}"] = PHONE

    portal.refresh()

    assert portal.access.count() == 1 + 4


def test_an_expired_device_brings_no_address_back(tmp_path):
    portal = dual_stack_portal(tmp_path, session_s=600)
    portal.tap_connect()
    portal.clock.advance(seconds=601)
    portal.neighbours.macs["2001:db8:42::7a3f"] = PHONE

    portal.refresh()

    assert portal.access.count() == 0


def test_a_dual_stack_phone_is_one_client_for_the_cap(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=2)
    assert portal.tap_connect().status_code == 303  # two addresses, one device
    portal.neighbours.macs["10.42.0.24"] = LAPTOP

    assert portal.tap_connect("10.42.0.24").status_code == 303
    assert portal.tap_connect("10.42.0.25").status_code == 503


def test_a_full_hotspot_still_takes_a_device_online_tapping_from_a_new_address(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=1)
    portal.tap_connect()
    portal.neighbours.macs["2001:db8:42::7a3f"] = PHONE  # before the refresh follows it

    assert portal.tap_connect("2001:db8:42::7a3f").status_code == 303
    assert portal.tap_connect("10.42.0.25").status_code == 503


def test_room_counted_at_a_tap_is_freed_by_an_expiry_without_waiting_for_a_refresh(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=1, session_s=600)
    portal.tap_connect()
    portal.clock.advance(seconds=601)

    assert portal.tap_connect("10.42.0.25").status_code == 303


def test_clients_now_counts_devices_not_addresses(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()
    portal.tap_connect("10.42.0.25")  # a device the kernel has no MAC for: itself
    portal.neighbours.macs["2001:db8:42::7a3f"] = PHONE

    portal.refresh()

    snapshot = read_snapshot(portal.settings.state_dir)
    assert snapshot is not None
    assert portal.access.count() == 4
    assert snapshot.clients_now == 2
