"""A device is what the neighbour table groups under one MAC: one client for the cap and the
statistics, and the addresses it starts using after its tap join its session."""

from __future__ import annotations

import ipaddress
import threading
import time

from captive_portal.access import MemoryClientAccess
from captive_portal.admission import Admission, ConnectOutcome
from captive_portal.devices import DeviceBook
from captive_portal.nft import NftError
from captive_portal.snapshot import read_snapshot
from tests.captive_portal.portal_app import (
    RESIDENT,
    FakeClock,
    FakeNeighbours,
    make_portal,
    portal_settings,
)

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


def test_a_phone_rotating_addresses_stays_one_device_with_five_addresses_at_most(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=2)
    portal.tap_connect()
    for round_ in range(4):
        # Each refresh the phone shows five new addresses, and the old ones leave the table
        # (garbage-collected) while their access lasts.
        portal.neighbours.macs = {RESIDENT: PHONE}
        for n in range(5):
            portal.neighbours.macs[f"2001:db8:42::{round_:x}:{n:x}"] = PHONE
        portal.refresh()

    assert portal.access.count() == 5  # over the whole session, not per look at the table
    assert read_snapshot(portal.settings.state_dir).clients_now == 1
    portal.neighbours.macs["10.42.0.24"] = LAPTOP
    assert portal.tap_connect("10.42.0.24").status_code == 303


def test_a_phone_that_left_counts_once_until_its_session_ends(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=2, session_s=600)
    portal.tap_connect()
    portal.neighbours.macs.clear()  # gone out of range: the kernel forgets it

    portal.refresh()

    assert read_snapshot(portal.settings.state_dir).clients_now == 1
    assert portal.tap_connect("10.42.0.24").status_code == 303
    assert portal.tap_connect("10.42.0.25").status_code == 503
    portal.clock.advance(seconds=601)
    portal.refresh()
    assert read_snapshot(portal.settings.state_dir).clients_now == 0


def test_the_gateways_own_ipv6_address_never_follows(tmp_path):
    portal = dual_stack_portal(tmp_path)
    gateway6 = portal.settings.gateway_address6
    portal.neighbours.macs[gateway6] = PHONE  # a spoofed neighbour advertisement
    portal.tap_connect()

    portal.refresh()

    assert portal.remaining(gateway6) is None


def test_a_wrong_code_gives_its_place_back(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=1, mode="code", code_secret="s" * 32)

    assert portal.tap_connect(code="000000").status_code == 403
    assert portal.app.extensions["borne_portal"].admission.devices_online() == 0


def test_after_a_restart_the_portal_knows_its_devices_by_mac(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=2)
    portal.tap_connect()
    portal.neighbours.macs["10.42.0.24"] = LAPTOP
    portal.tap_connect("10.42.0.24")

    # A new portal on the same sets and neighbour table (what a restart sees).
    restarted = Admission(portal.settings, portal.access, portal.neighbours, portal.clock)

    assert restarted.devices_online() == 2
    assert restarted.connect(ipaddress.ip_address("10.42.0.25")).outcome == ConnectOutcome.FULL


def test_a_grant_refused_by_nftables_does_not_stop_the_others(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()
    refused = ipaddress.ip_address("2001:db8:42::bad")
    portal.neighbours.macs.update({str(refused): PHONE, "2001:db8:42::600d": PHONE})
    grant = portal.access.grant

    def grant_but_one(address, seconds):
        if address == refused:
            raise NftError("Error: Could not process rule: No buffer space available")
        grant(address, seconds)

    portal.access.grant = grant_but_one  # type: ignore[method-assign]
    portal.refresh()

    assert portal.remaining("2001:db8:42::600d") is not None
    assert read_snapshot(portal.settings.state_dir).clients_now == 1


class SlowAccess(MemoryClientAccess):
    """Reading the access list takes a while, as listing 10,000 nftables elements does."""

    def remaining_all(self):
        time.sleep(0.05)
        return super().remaining_all()


def test_refreshes_and_taps_at_once_never_pass_the_cap(tmp_path):
    settings = portal_settings(tmp_path, max_clients=20)
    clock = FakeClock()
    access = SlowAccess(clock=clock.monotonic)
    admission = Admission(settings, access, FakeNeighbours(), clock)
    start = threading.Barrier(4)

    def tap(first: int) -> None:
        start.wait()
        for n in range(first, first + 15):
            admission.connect(ipaddress.ip_address(f"10.42.1.{n}"))
            clock.advance(seconds=1)  # let full taps count again

    def refresh() -> None:
        start.wait()
        for _ in range(10):
            admission.refresh()

    threads = [threading.Thread(target=tap, args=(n,)) for n in (0, 100)]
    threads += [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert access.count() == 20
    assert admission.devices_online() == 20
    admission.refresh()
    assert admission.devices_online() == 20


def test_the_book_keeps_an_address_that_joined_after_the_list_was_read():
    now = [100.0]
    book = DeviceBook(max_addresses=5, monotonic=lambda: now[0])
    old, new = ipaddress.ip_address("10.42.0.30"), ipaddress.ip_address("10.42.0.31")
    book.join(old, book.reserve())
    now[0] += 1
    read_at = book.now()  # the refresh reads the access list: neither is in it
    now[0] += 1
    book.join(new, book.reserve())  # a tap lands while it reads

    book.keep_only(authorised=set(), read_at=read_at)

    assert book.device_of([old]) is None
    assert book.device_of([new]) is not None
