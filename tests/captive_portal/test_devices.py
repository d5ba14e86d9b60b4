"""A device is what the neighbour table groups under one MAC: one client for the cap and the
statistics, and the addresses it starts using after its tap join its session."""

from __future__ import annotations

import ipaddress
import threading

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


def test_after_a_restart_idle_phones_are_still_one_device_each(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=1)
    portal.tap_connect()
    portal.neighbours.stale = {RESIDENT, "2001:db8:42::23"}  # idle: not heard from lately

    restarted = Admission(portal.settings, portal.access, portal.neighbours, portal.clock)

    assert restarted.devices_online() == 1
    assert restarted.connect(ipaddress.ip_address(RESIDENT)).outcome == ConnectOutcome.GRANTED


def test_tapping_from_ever_new_addresses_keeps_five_at_most(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()
    for n in range(1, 12):
        # Each new address is in use; the ones before it go quiet.
        portal.neighbours.stale = set(portal.neighbours.macs)
        portal.neighbours.macs[f"2001:db8:42::f:{n:x}"] = PHONE
        portal.clock.advance(seconds=1)
        assert portal.tap_connect(f"2001:db8:42::f:{n:x}").status_code == 303

    assert portal.access.count() == 5
    assert portal.remaining("2001:db8:42::f:b") is not None  # the newest is always out
    assert portal.app.extensions["borne_portal"].admission.devices_online() == 1


def test_a_sixth_address_is_refused_when_all_five_are_in_use(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()
    for n in range(1, 4):
        portal.neighbours.macs[f"2001:db8:42::f:{n:x}"] = PHONE
    portal.refresh()  # five in use now
    portal.neighbours.macs["2001:db8:42::f:9"] = PHONE

    assert portal.tap_connect("2001:db8:42::f:9").status_code == 503
    assert portal.access.count() == 5


def test_renewing_renews_every_address_of_the_device(tmp_path):
    portal = dual_stack_portal(tmp_path, session_s=600)
    for n in range(1, 4):
        portal.neighbours.macs[f"2001:db8:42::f:{n:x}"] = PHONE
    portal.tap_connect()
    portal.clock.advance(seconds=500)
    portal.neighbours.stale = {"2001:db8:42::f:3"}  # out, but quiet just now

    assert portal.tap_connect().status_code == 303

    assert {portal.remaining(a) for a in portal.neighbours.macs} == {600}


def test_an_address_given_by_dhcp_to_a_device_that_never_tapped_is_closed(tmp_path):
    portal = dual_stack_portal(tmp_path)
    portal.tap_connect()
    # The phone left; its IPv4 lease expired and went to a laptop, within the phone's session.
    portal.neighbours.macs = {RESIDENT: LAPTOP}

    portal.refresh()

    assert portal.remaining() is None
    assert portal.remaining("2001:db8:42::23") is not None  # the phone's own, until it ends
    assert portal.tap_connect().status_code == 303  # the laptop taps: a device of its own
    assert portal.app.extensions["borne_portal"].admission.devices_online() == 2


class HeldAccess(MemoryClientAccess):
    """The access list read by a refresh waits until the test lets it go: a tap lands while
    the portal reads, as it may when listing 10,000 nftables elements takes a while."""

    def __init__(self, clock) -> None:
        super().__init__(clock=clock)
        self.reading, self.go = threading.Event(), threading.Event()
        self.hold = False

    def remaining_all(self):
        read = super().remaining_all()
        if self.hold and threading.current_thread().name == "refresh":
            self.reading.set()
            assert self.go.wait(10)
        return read


def held_portal(tmp_path, **overrides):
    clock = FakeClock()
    access = HeldAccess(clock.monotonic)
    neighbours = FakeNeighbours()
    neighbours.macs.update({RESIDENT: PHONE, "2001:db8:42::23": PHONE})
    settings = portal_settings(tmp_path, client_subnet6="2001:db8:42::/64", **overrides)
    return Admission(settings, access, neighbours, clock), access, neighbours, clock


def during_a_refresh(admission, access, tap):
    """Run ``tap`` while a refresh is between reading the access list and using it."""
    access.hold = True
    refresh = threading.Thread(target=admission.refresh, name="refresh")
    refresh.start()
    assert access.reading.wait(10)
    outcome = run_within(5, tap)  # a tap must not wait for the refresh's slow read
    access.go.set()
    refresh.join(10)
    access.hold = False
    return outcome


def run_within(seconds, work):
    done = []
    worker = threading.Thread(target=lambda: done.append(work()))
    worker.start()
    worker.join(seconds)
    assert done, f"still waiting after {seconds} s"
    return done[0]


def test_a_new_device_tapping_during_a_refresh_is_counted(tmp_path):
    admission, access, neighbours, _ = held_portal(tmp_path)
    admission.connect(ipaddress.ip_address(RESIDENT))
    neighbours.macs["10.42.0.24"] = LAPTOP

    outcome = during_a_refresh(
        admission, access, lambda: admission.connect(ipaddress.ip_address("10.42.0.24"))
    )

    assert outcome.outcome == ConnectOutcome.GRANTED
    assert admission.devices_online() == 2
    admission.refresh()
    assert admission.devices_online() == 2


def test_a_refresh_does_not_shorten_a_session_renewed_while_it_reads(tmp_path):
    admission, access, neighbours, clock = held_portal(tmp_path, session_s=3600)
    admission.connect(ipaddress.ip_address(RESIDENT))
    clock.advance(seconds=3000)
    privacy = ipaddress.ip_address("2001:db8:42::7a3f")
    neighbours.macs[str(privacy)] = PHONE  # the refresh will see it as new

    during_a_refresh(admission, access, lambda: admission.connect(privacy))

    assert access.remaining(privacy) == 3600
    assert access.remaining(ipaddress.ip_address(RESIDENT)) == 3600


def test_a_tap_on_a_full_hotspot_does_not_wait_for_a_refresh(tmp_path):
    admission, access, _, clock = held_portal(tmp_path, max_clients=1)
    admission.connect(ipaddress.ip_address(RESIDENT))
    clock.advance(seconds=5)

    outcome = during_a_refresh(
        admission, access, lambda: admission.connect(ipaddress.ip_address("10.42.0.24"))
    )

    assert outcome.outcome == ConnectOutcome.FULL


def test_a_sibling_refused_by_nftables_still_lets_the_resident_out(tmp_path):
    portal = dual_stack_portal(tmp_path)
    grant = portal.access.grant

    def refuse_ipv6(address, seconds):
        if address.version == 6:
            raise NftError("Error: Could not process rule: No buffer space available")
        grant(address, seconds)

    portal.access.grant = refuse_ipv6  # type: ignore[method-assign]

    assert portal.tap_connect().status_code == 303
    assert portal.remaining() is not None


def test_the_book_keeps_an_address_that_joined_after_the_list_was_read():
    now = [100.0]
    book = DeviceBook(max_addresses=5, monotonic=lambda: now[0])
    old, new = ipaddress.ip_address("10.42.0.30"), ipaddress.ip_address("10.42.0.31")
    book.join(old, book.key("02:00:00:00:00:01", old))
    now[0] += 1
    read_at = book.now()  # the refresh reads the access list: neither is in it
    now[0] += 1
    book.join(new, book.key("02:00:00:00:00:02", new))  # a tap lands while it reads

    book.keep_only(authorised=set(), read_at=read_at)

    assert book.device_of(old) is None
    assert book.device_of(new) is not None


def test_after_a_restart_a_phone_that_left_is_not_counted(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=1)
    portal.tap_connect()
    portal.neighbours.macs.clear()  # it left, and the kernel dropped its idle entries

    restarted = Admission(portal.settings, portal.access, portal.neighbours, portal.clock)

    assert restarted.devices_online() == 0
    portal.neighbours.macs["10.42.0.24"] = LAPTOP
    assert restarted.connect(ipaddress.ip_address("10.42.0.24")).outcome == ConnectOutcome.GRANTED
    # Back in range: its addresses are one device again, and counted.
    portal.neighbours.macs.update({RESIDENT: PHONE, "2001:db8:42::23": PHONE})
    restarted.refresh()
    assert restarted.devices_online() == 2


def test_six_people_behind_an_extender_sharing_one_mac_are_six_devices(tmp_path):
    portal = make_portal(tmp_path, client_subnet6="2001:db8:42::/64")
    extender = "02:11:22:33:44:55"  # MAC-NAT: every client behind it shows this MAC
    people = [f"10.42.0.{n}" for n in range(30, 36)]
    for person in people:
        portal.neighbours.macs[person] = extender
        portal.clock.advance(seconds=30)
        assert portal.tap_connect(person).status_code == 303
        portal.neighbours.stale = {p for p in people if p != person}  # quiet for a while

    portal.neighbours.macs["10.42.0.99"] = extender  # someone who never tapped
    portal.neighbours.stale = set()
    portal.refresh()

    assert all(portal.remaining(person) is not None for person in people)
    assert portal.remaining("10.42.0.99") is None  # an IPv4 address never follows
    assert portal.app.extensions["borne_portal"].admission.devices_online() == 6


def test_a_session_tapped_while_a_refresh_reads_is_not_closed(tmp_path):
    admission, access, neighbours, clock = held_portal(tmp_path)
    neighbours.macs["10.42.0.24"] = LAPTOP
    looked_up, go_on = threading.Event(), threading.Event()
    lookup = neighbours.hardware_address

    def slow_lookup(address):
        looked_up.set()
        assert go_on.wait(10)
        return lookup(address)

    neighbours.hardware_address = slow_lookup  # type: ignore[method-assign]
    tap = threading.Thread(target=admission.connect, args=(ipaddress.ip_address("10.42.0.24"),))
    tap.start()
    assert looked_up.wait(10)  # the tap has begun
    clock.advance(seconds=2)
    access.hold = True
    refresh = threading.Thread(target=admission.refresh, name="refresh")
    refresh.start()
    assert access.reading.wait(10)  # the refresh has read the access list
    go_on.set()
    tap.join(10)  # the tap grants after that read
    access.go.set()
    refresh.join(10)

    snapshot = read_snapshot(admission.settings.state_dir)
    assert access.remaining(ipaddress.ip_address("10.42.0.24")) is not None
    assert snapshot.ended_sessions == []


class AfterEachUse:
    """A lock that runs ``then`` in the refresh's thread once it has released it ``times``
    times: a tap landing exactly between two steps of the refresh."""

    def __init__(self, times: int, then) -> None:
        self._lock, self._times, self._then, self._uses = threading.Lock(), times, then, 0

    def __enter__(self):
        self._lock.acquire()
        return self

    def __exit__(self, *exc_info):
        self._lock.release()
        if threading.current_thread().name == "refresh":
            self._uses += 1
            if self._uses == self._times:
                self._then()


def test_a_tap_between_two_steps_of_the_refresh_is_never_closed(tmp_path):
    portal = dual_stack_portal(tmp_path)
    admission = portal.app.extensions["borne_portal"].admission
    portal.tap_connect()
    portal.neighbours.macs = {RESIDENT: LAPTOP}  # DHCP gave the phone's IPv4 to a laptop
    answers = []
    for times in range(1, 6):  # after each of the refresh's first uses of the book
        admission._devices_lock = AfterEachUse(
            times, lambda: answers.append(admission.connect(ipaddress.ip_address(RESIDENT)))
        )
        refresh = threading.Thread(target=admission.refresh, name="refresh")
        refresh.start()
        refresh.join(10)
        assert answers[-1].outcome == ConnectOutcome.GRANTED, times
        assert portal.remaining() is not None, times  # the laptop tapped: it stays out
        portal.access.revoke(ipaddress.ip_address(RESIDENT))
        admission._devices_lock = threading.Lock()
        admission.refresh()  # forgets the laptop's device, for the next round
        portal.access.grant(ipaddress.ip_address(RESIDENT), 600)  # the phone's again
        admission._devices.join(ipaddress.ip_address(RESIDENT), admission._devices.key(PHONE, None))


def test_a_full_hotspot_whose_count_fails_says_come_back_not_500(tmp_path):
    portal = dual_stack_portal(tmp_path, max_clients=1)
    portal.tap_connect()
    portal.clock.advance(seconds=2)

    def listing_fails():
        raise NftError("Error: Could not process rule: No buffer space available")

    portal.access.remaining_all = listing_fails  # type: ignore[method-assign]

    assert portal.tap_connect("10.42.0.25").status_code == 503
