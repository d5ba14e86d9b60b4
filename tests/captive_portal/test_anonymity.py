"""A device is a hash of its MAC salted per day: countable today, unlinkable tomorrow, never in
clear on disk."""

from __future__ import annotations

import ipaddress
import json
import stat
import subprocess
from datetime import date
from pathlib import Path

from captive_portal.anonymity import DailyLedger, KernelNeighbours, Neighbour
from captive_portal.nft import in_netns
from captive_portal.settings import load_portal_settings
from tests.captive_portal.netns import scratch_netns
from tests.captive_portal.portal_app import make_portal

PHONE_MAC = "3c:28:6d:aa:bb:cc"
MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)


def everything_written(state_dir) -> str:
    return "".join(p.read_text(errors="replace") for p in state_dir.iterdir() if p.is_file())


def test_no_mac_or_ip_address_is_written_in_clear(tmp_path):
    portal = make_portal(tmp_path)
    portal.neighbours.macs["10.42.0.23"] = PHONE_MAC
    portal.tap_connect("10.42.0.23")
    portal.tap_connect("10.42.0.77")  # no MAC known: its IP stands in, hashed
    portal.clock.advance(hours=5)
    portal.refresh()

    written = (
        everything_written(portal.settings.state_dir)
        + everything_written(portal.settings.runtime_dir)
    ).lower()

    assert PHONE_MAC not in written
    assert PHONE_MAC.replace(":", "") not in written
    assert "10.42.0.23" not in written and "10.42.0.77" not in written


def test_the_days_salt_and_hashes_are_readable_by_the_portal_only_and_never_on_disk(tmp_path):
    portal = make_portal(tmp_path)
    portal.tap_connect()

    ledger = portal.settings.runtime_dir / "today.json"

    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    assert not (portal.settings.state_dir / "today.json").exists()
    assert load_portal_settings().runtime_dir == Path("/run/borne-portal")  # tmpfs


def test_the_same_device_is_the_same_id_all_day_and_another_one_the_next_day(tmp_path):
    ledger = DailyLedger(tmp_path)

    morning = ledger.device_id(f"mac:{PHONE_MAC}", MONDAY)
    evening = ledger.device_id(f"mac:{PHONE_MAC}", MONDAY)
    next_day = ledger.device_id(f"mac:{PHONE_MAC}", TUESDAY)

    assert morning == evening
    assert next_day != morning


def test_yesterdays_salt_is_deleted_at_day_change(tmp_path):
    ledger = DailyLedger(tmp_path)
    monday_id = ledger.device_id(f"mac:{PHONE_MAC}", MONDAY)
    ledger.note_connected(monday_id, MONDAY)
    monday_salt = json.loads((tmp_path / "today.json").read_text())["salt"]

    ledger.device_id(f"mac:{PHONE_MAC}", TUESDAY)

    written = (tmp_path / "today.json").read_text()
    assert monday_salt not in written
    assert monday_id not in written
    assert json.loads(written)["day"] == TUESDAY.isoformat()


def test_a_restart_the_same_day_keeps_counting_right(tmp_path):
    first = DailyLedger(tmp_path)
    device = first.device_id(f"mac:{PHONE_MAC}", MONDAY)
    first.note_connected(device, MONDAY)

    after_restart = DailyLedger(tmp_path)
    again = after_restart.device_id(f"mac:{PHONE_MAC}", MONDAY)
    after_restart.note_connected(again, MONDAY)

    assert again == device
    assert after_restart.unique_devices(MONDAY) == 1


def test_a_randomised_mac_simply_counts_as_another_device(tmp_path):
    portal = make_portal(tmp_path)
    portal.neighbours.macs["10.42.0.23"] = PHONE_MAC
    portal.tap_connect("10.42.0.23")
    portal.neighbours.macs["10.42.0.24"] = "7a:11:22:33:44:55"  # same phone, new random MAC
    portal.tap_connect("10.42.0.24")

    snapshot = json.loads((portal.settings.state_dir / "stats.json").read_text())

    assert snapshot["unique_devices_today"] == 2


def test_the_same_phone_tapping_twice_is_one_device(tmp_path):
    portal = make_portal(tmp_path)
    portal.neighbours.macs["10.42.0.23"] = PHONE_MAC
    portal.tap_connect("10.42.0.23")
    portal.clock.advance(hours=5)
    portal.tap_connect("10.42.0.23")

    snapshot = json.loads((portal.settings.state_dir / "stats.json").read_text())

    assert snapshot["unique_devices_today"] == 1


def test_the_kernel_has_no_mac_for_a_loopback_address():
    assert KernelNeighbours().hardware_address(ipaddress.ip_address("127.0.0.1")) is None


def test_the_kernels_neighbour_table_says_which_addresses_are_in_use():
    phone, laptop, gone = "3c:52:82:1a:2b:3c", "aa:bb:cc:dd:ee:0f", "02:00:00:00:00:01"
    with scratch_netns() as netns:
        ip = ["ip", "-n", netns]
        subprocess.run([*ip, "link", "add", "wifi0", "type", "veth", "peer", "phone0"], check=True)
        for link in ("wifi0", "phone0"):
            subprocess.run([*ip, "link", "set", link, "up"], check=True)
        for address, mac, state in [
            ("10.42.0.23", phone, "reachable"),
            ("2001:db8:42::23", phone, "delay"),
            ("fe80::3e52:82ff:fe1a:2b3c", phone, "reachable"),  # link-local: never granted
            ("10.42.0.24", laptop, "permanent"),
            ("10.42.0.25", gone, "stale"),  # not heard from lately: maybe someone else's now
        ]:
            subprocess.run(
                [*ip, "neigh", "add", address, "lladdr", mac, "dev", "wifi0", "nud", state],
                check=True,
            )
        subprocess.run([*ip, "neigh", "add", "10.42.0.99", "dev", "wifi0", "nud", "failed"],
                       check=True)  # fmt: skip

        with in_netns(netns):
            entries = KernelNeighbours().entries()
            phones_addresses = KernelNeighbours().addresses_of(phone.upper())
            gone_mac = KernelNeighbours().hardware_address(ipaddress.ip_address("10.42.0.25"))

    assert sorted(entries, key=lambda n: str(n.address)) == [
        Neighbour(ipaddress.ip_address("10.42.0.23"), phone, in_use=True),
        Neighbour(ipaddress.ip_address("10.42.0.24"), laptop, in_use=True),
        Neighbour(ipaddress.ip_address("10.42.0.25"), gone, in_use=False),
        Neighbour(ipaddress.ip_address("2001:db8:42::23"), phone, in_use=True),
    ]
    assert phones_addresses == [
        ipaddress.ip_address("10.42.0.23"),
        ipaddress.ip_address("2001:db8:42::23"),
    ]
    assert gone_mac == gone  # the tapping address itself has just been heard from
