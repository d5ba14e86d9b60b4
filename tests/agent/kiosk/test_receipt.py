"""Receipts (agent/kiosk/receipt.py): the locker's number and code written to the printer's
device file; a printer that is missing, absent or stuck never keeps a resident waiting."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.kiosk.receipt import DeviceReceiptPrinter

AT = datetime(2025, 3, 4, 16, 30, tzinfo=ZoneInfo("Europe/Paris"))


def printer(path: Path, **kwargs: float) -> DeviceReceiptPrinter:
    return DeviceReceiptPrinter(path, clock=lambda: AT, **kwargs)


def test_the_receipt_goes_to_the_device_as_plain_text(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()

    printed = printer(device)(3, "048213")

    assert printed
    text = device.read_text(encoding="ascii")
    assert "Casier / Locker   3\n" in text
    assert "Code              048 213\n" in text
    assert "04/03/2025 16:30" in text
    assert text.endswith("\n" * 5)


def test_receipts_follow_one_another(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()

    printer(device)(3, "048213")
    printer(device)(4, "771002")

    text = device.read_text(encoding="ascii")
    assert text.index("048 213") < text.index("771 002")


def test_an_unplugged_printer_prints_nothing_and_creates_no_file(tmp_path: Path) -> None:
    device = tmp_path / "usb" / "lp0"

    assert not printer(device)(3, "048213")
    assert not device.exists()


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "printer.fifo"
    os.mkfifo(path)
    return path


def test_a_printer_nobody_reads_is_given_up_at_once(fifo: Path) -> None:
    # A FIFO without a reader is a device that is not there: opening it for writing without
    # blocking fails (ENXIO) instead of waiting for a reader.
    assert not printer(fifo)(3, "048213")


@pytest.fixture
def stuck_printer(fifo: Path) -> Iterator[int]:
    """A printer that took a little and then stopped: the FIFO's reader never reads, and its
    buffer is full."""
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        while True:
            os.write(writer, b"x" * 4096)
    except BlockingIOError:
        pass
    os.close(writer)
    yield reader
    os.close(reader)


def test_a_stuck_printer_is_given_up_after_its_timeout(fifo: Path, stuck_printer: int) -> None:
    done = threading.Event()
    result: list[bool] = []

    def print_it() -> None:
        result.append(printer(fifo, timeout_s=0.2)(3, "048213"))
        done.set()

    threading.Thread(target=print_it, daemon=True).start()

    assert done.wait(10), "printing blocked"
    assert result == [False]
