"""Metrics and inventory read from the real machine must be valid protocol messages."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from agent.inventory import InventoryCollector, firmware_date
from agent.metrics import MetricsCollector
from agent.protocol import Inventory, Metrics


def _round_trip(value: msgspec.Struct, type_: type) -> object:
    return msgspec.json.decode(msgspec.json.encode(value), type=type_)


def test_metrics_of_this_machine_validate_against_the_protocol() -> None:
    collector = MetricsCollector()
    metrics = collector.collect()
    assert _round_trip(metrics, Metrics) == metrics
    assert metrics.memory_total_bytes > 0 and 0 <= metrics.cpu_percent <= 100
    assert metrics.uptime_s > 0 and len(metrics.load) == 3
    assert any(d.mountpoint == "/" for d in metrics.disks) or metrics.disks == []
    second = collector.collect()  # CPU since the previous reading, no sleeping in between
    assert 0 <= second.cpu_percent <= 100


def test_inventory_of_this_machine_validates_against_the_protocol() -> None:
    inventory = InventoryCollector(agent_version="0.1.0").collect()
    assert _round_trip(inventory, Inventory) == inventory
    assert inventory.hostname and inventory.kernel and inventory.cpu_count >= 1
    assert inventory.ram_bytes > 0 and inventory.agent_version == "0.1.0"
    assert "00:00:00:00:00:00" not in inventory.macs


def _fake_root(root: Path, *, serial: str | None, bios_date: str | None = None) -> Path:
    dmi = root / "sys/class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("LENOVO\n")
    if bios_date is not None:
        (dmi / "bios_date").write_text(bios_date + "\n")
    (dmi / "product_name").write_text("10MQS0E500\n")
    if serial is not None:
        (dmi / "product_serial").write_text(serial + "\n")
    (root / "proc").mkdir()
    (root / "proc/cpuinfo").write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i5-7500T\n"
    )
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nVERSION="12 (bookworm)"\n'
    )
    return root


def test_inventory_reads_dmi_cpu_and_os_release(tmp_path: Path) -> None:
    inventory = InventoryCollector(root=_fake_root(tmp_path, serial="PC0ABCDE")).collect()
    assert (inventory.vendor, inventory.model, inventory.serial) == (
        "LENOVO",
        "10MQS0E500",
        "PC0ABCDE",
    )
    assert inventory.cpu_model == "Intel(R) Core(TM) i5-7500T"
    assert (inventory.os_name, inventory.os_version) == ("Debian GNU/Linux", "12 (bookworm)")


def test_unreadable_serial_is_an_empty_string(tmp_path: Path) -> None:
    inventory = InventoryCollector(root=_fake_root(tmp_path, serial=None)).collect()
    assert inventory.serial == ""
    assert inventory.vendor == "LENOVO"


def test_inventory_uses_the_configured_device_name_over_the_host_name():
    from agent.inventory import InventoryCollector

    assert InventoryCollector(name="mdh-teisseire-pc-1").collect().hostname == "mdh-teisseire-pc-1"


def test_the_firmware_date_is_read_from_dmi_as_an_iso_date(tmp_path: Path) -> None:
    inventory = InventoryCollector(root=_fake_root(tmp_path, serial=None, bios_date="05/12/2017"))
    assert inventory.collect().firmware_date == "2017-05-12"


def test_without_a_firmware_date_the_inventory_says_nothing(tmp_path: Path) -> None:
    assert InventoryCollector(root=_fake_root(tmp_path, serial=None)).collect().firmware_date == ""


@pytest.mark.parametrize(
    ("bios_date", "iso"),
    [
        ("04/01/2014", "2014-04-01"),  # QEMU's SeaBIOS
        ("4/1/2014", "2014-04-01"),
        ("12/31/99", "1999-12-31"),  # before SMBIOS 2.3: two digits
        ("04/01/14", "2014-04-01"),
        ("00/00/0000", ""),  # firmwares that leave it blank their own way
        ("To be filled by O.E.M.", ""),
        ("02/30/2015", ""),
        ("01/01/1970", ""),  # a placeholder, not a PC's age
        ("2014-04-01", ""),  # not what DMI writes: not guessed
        ("", ""),
    ],
)
def test_firmware_dates_as_firmwares_write_them(bios_date: str, iso: str) -> None:
    assert firmware_date(bios_date) == iso
