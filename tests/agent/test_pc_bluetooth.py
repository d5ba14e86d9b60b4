"""Bluetooth pairings (agent/pc/bluetooth.py): the residents' go at each reset, the staff's stay.

BlueZ's storage is laid out as bluetoothd writes it: ``<adapter>/<device>/info`` for a pairing,
``<adapter>/cache/<device>`` for a device it only saw, ``<adapter>/settings`` for the adapter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.pc.bluetooth import guest_pairings_left, record_staff_devices, remove_guest_pairings
from agent.pc.report import WipeReport

ADAPTER = "00:1A:7D:DA:71:13"
STAFF_KEYBOARD = "C8:3F:26:11:22:33"
RESIDENTS_PHONE = "F0:99:B6:44:55:66"
PASSING_HEADSET = "AC:80:0A:77:88:99"


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    root = tmp_path / "bluetooth"
    (root / ADAPTER / "cache").mkdir(parents=True)
    (root / ADAPTER / "settings").write_text("[General]\nDiscoverable=false\n")
    return root


def pair(storage: Path, device: str, name: str) -> Path:
    directory = storage / ADAPTER / device
    (directory / "cache").mkdir(parents=True)
    (directory / "info").write_text(f"[General]\nName={name}\n\n[LinkKey]\nKey=0A1B2C3D\n")
    (directory / "attributes").write_text("[1]\nUUID=00001800-0000-1000-8000-00805f9b34fb\n")
    see(storage, device, name)
    return directory


def see(storage: Path, device: str, name: str) -> Path:
    cached = storage / ADAPTER / "cache" / device
    cached.write_text(f"[General]\nName={name}\n")
    return cached


def test_a_residents_pairing_goes_and_the_staff_keyboard_stays(
    storage: Path, tmp_path: Path
) -> None:
    keyboard = pair(storage, STAFF_KEYBOARD, "Clavier accueil")
    record = tmp_path / "staff-devices.json"
    assert record_staff_devices(record, storage) == 2  # at setup: the pairing and its name
    phone = pair(storage, RESIDENTS_PHONE, "iPhone de Marie")
    headset = see(storage, PASSING_HEADSET, "Casque de Karim")
    report = WipeReport()

    remove_guest_pairings(report, record=record, storage=storage)

    assert not phone.exists() and not headset.exists()
    assert not (storage / ADAPTER / "cache" / RESIDENTS_PHONE).exists()
    assert (keyboard / "info").exists() and (storage / ADAPTER / "cache" / STAFF_KEYBOARD).exists()
    assert (storage / ADAPTER / "settings").exists()
    assert guest_pairings_left(record=record, storage=storage) == []
    assert report.clean and report.actions == ["forgot 1 Bluetooth pairing(s) made since setup"]
    assert not any("Marie" in action or RESIDENTS_PHONE in action for action in report.actions)


def test_without_a_record_of_the_staffs_devices_every_pairing_goes(
    storage: Path, tmp_path: Path
) -> None:
    keyboard = pair(storage, STAFF_KEYBOARD, "Clavier accueil")
    phone = pair(storage, RESIDENTS_PHONE, "iPhone de Marie")
    report = WipeReport()

    remove_guest_pairings(report, record=tmp_path / "never-recorded.json", storage=storage)

    assert not keyboard.exists() and not phone.exists()
    assert report.clean
    assert report.actions == [
        "no record of the staff's Bluetooth devices: every pairing goes",
        "forgot 2 Bluetooth pairing(s) made since setup",
    ]


def test_bluetoothd_is_asked_to_forget_each_pairing_first(storage: Path, tmp_path: Path) -> None:
    pair(storage, RESIDENTS_PHONE, "iPhone de Marie")
    asked: list[str] = []

    def bluetoothd_forgets(address: str) -> bool:
        asked.append(address)  # bluetoothd drops the device and deletes its storage itself
        (storage / ADAPTER / address / "info").unlink()
        (storage / ADAPTER / address / "attributes").unlink()
        (storage / ADAPTER / address / "cache").rmdir()
        (storage / ADAPTER / address).rmdir()
        return True

    report = WipeReport()
    remove_guest_pairings(
        report, record=tmp_path / "none.json", storage=storage, forget=bluetoothd_forgets
    )

    assert asked == [RESIDENTS_PHONE]
    assert guest_pairings_left(record=tmp_path / "none.json", storage=storage) == []
    assert report.clean


def test_no_bluetooth_on_this_pc_is_not_an_error(tmp_path: Path) -> None:
    report = WipeReport()

    remove_guest_pairings(report, record=tmp_path / "r.json", storage=tmp_path / "none")

    assert report.clean and report.actions == []
