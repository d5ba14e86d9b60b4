"""The GPIO driver: against the kernel's gpio-sim where the machine has it (a simulated chip whose
lines the test reads and pulls through sysfs), and its logic with a fake line request beside it.

gpio-sim needs root, configfs and the gpio-sim module (``CONFIG_GPIO_SIM``); where one is missing
the real tests are skipped with the reason, and the fake-request tests still run.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gpiod
import pytest
from gpiod.line import Direction, Value

from agent.kiosk.drivers import DriverError
from agent.kiosk.drivers.gpio import CONSUMER, GpioLocks
from agent.protocol import DoorState

CONFIGFS = Path("/sys/kernel/config")
GPIO_SIM = CONFIGFS / "gpio-sim"
LOCK_LINES = (0, 1, 2, 3)
DOOR_LINES = (8, 9, 10, 11)

# -- the kernel's gpio-sim ----------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.01)


def gpio_sim_ready() -> None:
    """Make gpio-sim's configfs directory appear, or skip saying exactly what is missing."""
    if GPIO_SIM.is_dir():
        return
    kernel = f"this kernel ({os.uname().release})"
    if os.geteuid() != 0:
        pytest.skip("gpio-sim is not set up and only root can set it up (modprobe, mount)")
    # Loading gpio-sim also loads configfs when that is a module.
    if shutil.which("modprobe") is None:
        modprobe = "modprobe is not installed (kmod), so gpio-sim cannot be loaded"
    else:
        loaded = subprocess.run(
            ["modprobe", "gpio-sim"], capture_output=True, text=True, check=False
        )
        modprobe = f"modprobe gpio-sim said: {loaded.stderr.strip() or loaded.returncode}"
        if loaded.returncode == 0:
            modprobe = "gpio-sim is loaded"
    if "configfs" not in Path("/proc/filesystems").read_text():
        pytest.skip(f"{kernel} has no configfs (CONFIG_CONFIGFS_FS) for gpio-sim; {modprobe}")
    if not os.path.ismount(CONFIGFS):
        mounted = subprocess.run(
            ["mount", "-t", "configfs", "configfs", str(CONFIGFS)],
            capture_output=True,
            text=True,
            check=False,
        )
        if mounted.returncode != 0:
            pytest.skip(f"configfs cannot be mounted on {CONFIGFS}: {mounted.stderr.strip()}")
    if not GPIO_SIM.is_dir():
        pytest.skip(f"{kernel} has no gpio-sim (CONFIG_GPIO_SIM): {modprobe}")


@dataclass
class SimChip:
    """A gpio-sim chip: its device file, and its lines' sysfs controls."""

    path: str
    sysfs: Path

    def output(self, line: int) -> str:
        """The level the driver puts on ``line``: "1" high, "0" low."""
        return (self.sysfs / f"sim_gpio{line}" / "value").read_text().strip()

    def pull(self, line: int, high: bool) -> None:
        """What the outside world does to input ``line`` (a door sensor)."""
        (self.sysfs / f"sim_gpio{line}" / "pull").write_text("pull-up" if high else "pull-down")


@pytest.fixture
def sim_chip() -> Iterator[SimChip]:
    gpio_sim_ready()
    device = GPIO_SIM / f"borne-kiosk-{uuid.uuid4().hex[:8]}"
    bank = device / "bank0"
    device.mkdir()
    try:
        bank.mkdir()
        (bank / "num_lines").write_text("16")
        (device / "live").write_text("1")
        chip_name = (bank / "chip_name").read_text().strip()
        dev_name = (device / "dev_name").read_text().strip()
        chip = SimChip(f"/dev/{chip_name}", Path("/sys/devices/platform") / dev_name / chip_name)
        wait_for(lambda: os.path.exists(chip.path), f"{chip.path} appearing")
        yield chip
    finally:
        if (device / "live").exists() and (device / "live").read_text().strip() == "1":
            (device / "live").write_text("0")
        if bank.exists():
            bank.rmdir()
        device.rmdir()


def gpio_locks(chip: str, **options: Any) -> GpioLocks:
    return GpioLocks(chip, lock_lines=LOCK_LINES, door_lines=DOOR_LINES, **options)


def test_unlock_drives_the_lock_line_and_every_lock_starts_engaged(sim_chip: SimChip) -> None:
    driver = gpio_locks(sim_chip.path)
    try:
        driver.unlock(2)
        assert [sim_chip.output(line) for line in LOCK_LINES] == ["0", "1", "0", "0"]

        driver.lock(2)
        assert [sim_chip.output(line) for line in LOCK_LINES] == ["0", "0", "0", "0"]
    finally:
        driver.close()


def test_an_active_low_relay_is_driven_low_to_unlock(sim_chip: SimChip) -> None:
    driver = gpio_locks(sim_chip.path, lock_active_low=True)
    try:
        driver.door(1)  # the first call requests the lines: every lock engaged (high)
        assert [sim_chip.output(line) for line in LOCK_LINES] == ["1", "1", "1", "1"]

        driver.unlock(4)
        assert sim_chip.output(LOCK_LINES[3]) == "0"
    finally:
        driver.close()


def test_the_door_is_read_from_its_sensor_line_at_the_configured_level(sim_chip: SimChip) -> None:
    high_when_shut = gpio_locks(sim_chip.path)
    try:
        sim_chip.pull(DOOR_LINES[0], high=True)
        sim_chip.pull(DOOR_LINES[1], high=False)
        assert high_when_shut.door(1) is DoorState.CLOSED
        assert high_when_shut.door(2) is DoorState.OPEN
    finally:
        high_when_shut.close()

    low_when_shut = gpio_locks(sim_chip.path, door_active_low=True)  # a reed switch to ground
    try:
        assert low_when_shut.door(1) is DoorState.OPEN
        assert low_when_shut.door(2) is DoorState.CLOSED
    finally:
        low_when_shut.close()


def test_a_line_held_by_another_program_is_a_driver_error_and_changes_nothing(
    sim_chip: SimChip,
) -> None:
    holder = gpiod.request_lines(
        sim_chip.path,
        config={DOOR_LINES[2]: gpiod.LineSettings(direction=Direction.INPUT)},
        consumer="someone-else",
    )
    driver = gpio_locks(sim_chip.path)
    try:
        with pytest.raises(DriverError, match=r"already used by another program.*gpioinfo"):
            driver.unlock(1)
        assert sim_chip.output(LOCK_LINES[0]) == "0"  # the request failed whole: no line moved

        holder.release()
        driver.unlock(1)  # requested again at the next call
        assert sim_chip.output(LOCK_LINES[0]) == "1"
    finally:
        driver.close()
        holder.release()


def test_a_line_the_chip_does_not_have_names_the_settings(sim_chip: SimChip) -> None:
    driver = GpioLocks(sim_chip.path, lock_lines=(0, 1), door_lines=(8, 40))

    with pytest.raises(DriverError, match="kiosk_gpio_lock_lines and kiosk_gpio_door_lines"):
        driver.door(2)


# -- the real gpiod, without a chip ------------------------------------------------------------


def test_a_missing_chip_is_a_driver_error_naming_the_setting() -> None:
    driver = gpio_locks("/dev/gpiochip-borne-missing")

    with pytest.raises(DriverError, match="does not exist: check kiosk_gpio_chip"):
        driver.unlock(1)


def test_a_file_that_is_not_a_gpio_chip_is_a_driver_error() -> None:
    driver = gpio_locks("/dev/null")

    with pytest.raises(DriverError, match="/dev/null is not a GPIO chip"):
        driver.door(1)


# -- the driver's logic, with a fake line request ------------------------------------------------


@dataclass
class FakeLines:
    """A granted line request: the values the driver set, the levels the test gives inputs."""

    config: dict[tuple[int, ...], gpiod.LineSettings]
    values: dict[int, Value] = field(default_factory=dict)
    failure: OSError | None = None
    released: bool = False

    def __post_init__(self) -> None:
        for lines, settings in self.config.items():
            for line in lines:
                self.values[line] = settings.output_value

    def set_value(self, line: int, value: Value) -> None:
        if self.failure:
            raise self.failure
        self.values[line] = value

    def get_value(self, line: int) -> Value:
        if self.failure:
            raise self.failure
        return self.values[line]

    def release(self) -> None:
        self.released = True


@dataclass
class FakeChip:
    """Stands for :func:`gpiod.request_lines`: grants requests, or refuses them with ``refusal``."""

    granted: list[FakeLines] = field(default_factory=list)
    refusal: Exception | None = None
    consumers: list[str | None] = field(default_factory=list)

    def request_lines(
        self,
        path: str,
        config: dict[tuple[int, ...], gpiod.LineSettings],
        consumer: str | None = None,
    ) -> FakeLines:
        self.consumers.append(consumer)
        if self.refusal is not None:
            raise self.refusal
        self.granted.append(FakeLines(config))
        return self.granted[-1]

    @property
    def lines(self) -> FakeLines:
        return self.granted[-1]


@pytest.fixture
def chip() -> FakeChip:
    return FakeChip()


def fake_locks(chip: FakeChip, **options: Any) -> GpioLocks:
    return gpio_locks("/dev/gpiochip0", request_lines=chip.request_lines, **options)


def test_nothing_is_requested_before_the_first_call(chip: FakeChip) -> None:
    fake_locks(chip)

    assert chip.granted == []


def test_the_lines_are_requested_with_every_lock_engaged(chip: FakeChip) -> None:
    driver = fake_locks(chip, lock_active_low=True, door_active_low=True)

    driver.door(1)

    (lock_settings, door_settings) = (chip.lines.config[LOCK_LINES], chip.lines.config[DOOR_LINES])
    assert lock_settings.direction == Direction.OUTPUT
    assert lock_settings.output_value == Value.INACTIVE and lock_settings.active_low
    assert door_settings.direction == Direction.INPUT and door_settings.active_low
    assert chip.consumers == [CONSUMER]


def test_unlock_and_lock_touch_only_that_lockers_line(chip: FakeChip) -> None:
    driver = fake_locks(chip)

    driver.unlock(3)
    assert [chip.lines.values[line] for line in LOCK_LINES] == [
        Value.INACTIVE,
        Value.INACTIVE,
        Value.ACTIVE,
        Value.INACTIVE,
    ]
    driver.lock(3)
    assert chip.lines.values[LOCK_LINES[2]] == Value.INACTIVE
    assert len(chip.granted) == 1  # one request serves every call


def test_an_active_door_line_is_a_closed_door(chip: FakeChip) -> None:
    driver = fake_locks(chip)
    driver.door(1)
    chip.lines.values[DOOR_LINES[1]] = Value.ACTIVE

    assert driver.door(2) is DoorState.CLOSED
    assert driver.door(1) is DoorState.OPEN


@pytest.mark.parametrize(
    ("refusal", "says"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file"), "does not exist: check kiosk_gpio_chip"),
        (OSError(errno.EBUSY, "Device or resource busy"), "already used by another program"),
        (PermissionError(errno.EACCES, "Permission denied"), "gpio group, or a udev rule"),
        (OSError(errno.ENODEV, "No such device"), "is not a GPIO chip"),
        (ValueError("line offset of out range"), "kiosk_gpio_lock_lines"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    ],
)
def test_a_refused_request_is_a_driver_error_that_says_what_to_check(
    chip: FakeChip, refusal: Exception, says: str
) -> None:
    chip.refusal = refusal
    driver = fake_locks(chip)

    with pytest.raises(DriverError, match=says):
        driver.unlock(1)


def test_a_request_refused_once_is_tried_again_at_the_next_call(chip: FakeChip) -> None:
    chip.refusal = FileNotFoundError(errno.ENOENT, "No such file")
    driver = fake_locks(chip)
    with pytest.raises(DriverError):
        driver.door(1)

    chip.refusal = None  # the chip is back (a loose connector)
    driver.unlock(1)

    assert chip.lines.values[LOCK_LINES[0]] == Value.ACTIVE


def test_a_failed_write_releases_the_lines_and_the_next_request_engages_every_lock(
    chip: FakeChip,
) -> None:
    driver = fake_locks(chip)
    driver.unlock(1)
    first = chip.lines
    first.failure = OSError(errno.EIO, "Input/output error")

    with pytest.raises(DriverError, match=r"could not unlock locker 2 .*Input/output error"):
        driver.unlock(2)
    assert first.released

    driver.door(1)
    assert chip.lines is not first
    assert [chip.lines.values[line] for line in LOCK_LINES] == [Value.INACTIVE] * 4


def test_a_locker_outside_the_bank_requests_nothing(chip: FakeChip) -> None:
    driver = fake_locks(chip)

    with pytest.raises(ValueError, match="numbered 1 to 4"):
        driver.unlock(5)

    assert chip.granted == []


def test_close_releases_the_lines_and_later_calls_are_refused(chip: FakeChip) -> None:
    driver = fake_locks(chip)
    driver.door(1)

    driver.close()

    assert chip.lines.released
    with pytest.raises(DriverError, match="released"):
        driver.unlock(1)


@pytest.mark.parametrize(
    ("lock_lines", "door_lines"),
    [((0, 1), (2,)), ((0, 1), (1, 2)), ((), ()), ((-1,), (2,))],
)
def test_lines_must_be_one_lock_and_one_door_per_locker_each_used_once(
    lock_lines: tuple[int, ...], door_lines: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError):
        GpioLocks("/dev/gpiochip0", lock_lines=lock_lines, door_lines=door_lines)
