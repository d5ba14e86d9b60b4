"""The kiosk_* settings choose and configure the locker driver; a bad one names itself at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.kiosk.drivers import DriverKind, KioskDriverSettings, SimulatedBank, make_driver
from agent.kiosk.drivers.gpio import GpioLocks
from agent.kiosk.drivers.modbus import ModbusLockBoard
from agent.settings import load_agent_settings
from borne.settings import ImproperlyConfigured

MODBUS = {"BORNE_AGENT_KIOSK_DRIVER": "modbus", "BORNE_AGENT_KIOSK_SERIAL_PORT": "/dev/ttyUSB0"}
GPIO = {
    "BORNE_AGENT_KIOSK_DRIVER": "gpio",
    "BORNE_AGENT_KIOSK_GPIO_CHIP": "/dev/gpiochip0",
    "BORNE_AGENT_KIOSK_LOCKERS": "3",
    "BORNE_AGENT_KIOSK_GPIO_LOCK_LINES": "5,6,13",
    "BORNE_AGENT_KIOSK_GPIO_DOOR_LINES": "16, 19, 20",
}


def test_the_defaults_are_eight_lockers_and_the_touch_page_on_port_8010() -> None:
    settings = load_agent_settings(env={})

    assert (settings.kiosk_driver, settings.kiosk_lockers, settings.kiosk_port) == ("", 8, 8010)
    assert (settings.kiosk_modbus_unit, settings.kiosk_modbus_baud) == (1, 9600)
    assert settings.kiosk_receipt_printer == ""


def test_an_unnamed_driver_is_the_simulated_bank_on_a_simulated_device() -> None:
    settings = load_agent_settings(env={"BORNE_AGENT_ACTIONS": "simulated"})

    driver = make_driver(KioskDriverSettings.from_agent_settings(settings))

    assert isinstance(driver, SimulatedBank) and driver.count == 8


def test_a_real_kiosk_must_name_its_driver() -> None:
    settings = load_agent_settings(env={})

    with pytest.raises(ImproperlyConfigured, match="kiosk_driver is required"):
        KioskDriverSettings.from_agent_settings(settings)


def test_the_modbus_settings_reach_the_board_driver(tmp_path: Path) -> None:
    config = tmp_path / "borne.toml"
    config.write_text(
        "[agent]\nkiosk_lockers = 12\nkiosk_modbus_unit = 3\nkiosk_modbus_first_coil = 16\n"
        "kiosk_modbus_first_input = 32\nkiosk_modbus_baud = 19200\n"
    )
    settings = load_agent_settings(config_file=config, env=MODBUS)

    driver = make_driver(KioskDriverSettings.from_agent_settings(settings))

    assert isinstance(driver, ModbusLockBoard)
    assert (driver.port, driver.count, driver.unit, driver.baudrate) == (
        "/dev/ttyUSB0",
        12,
        3,
        19200,
    )
    assert (driver.first_coil, driver.first_input) == (16, 32)


def test_the_gpio_settings_reach_the_gpio_driver_and_nothing_is_requested_yet() -> None:
    settings = load_agent_settings(env={**GPIO, "BORNE_AGENT_KIOSK_GPIO_DOOR_ACTIVE_LOW": "yes"})

    driver_settings = KioskDriverSettings.from_agent_settings(settings)
    driver = make_driver(driver_settings)

    assert driver_settings.driver is DriverKind.GPIO and driver_settings.gpio_door_active_low
    assert isinstance(driver, GpioLocks)
    assert (driver.chip, driver.count) == ("/dev/gpiochip0", 3)
    assert (driver.lock_lines, driver.door_lines) == ((5, 6, 13), (16, 19, 20))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BORNE_AGENT_KIOSK_DRIVER": "relays"}, "kiosk_driver"),
        ({"BORNE_AGENT_KIOSK_LOCKERS": "0"}, "kiosk_lockers"),
        ({"BORNE_AGENT_KIOSK_LOCKERS": "65"}, "kiosk_lockers"),
        ({"BORNE_AGENT_KIOSK_LOCKERS": "eight"}, "BORNE_AGENT_KIOSK_LOCKERS"),
        ({"BORNE_AGENT_KIOSK_PORT": "0"}, "kiosk_port"),
        ({"BORNE_AGENT_KIOSK_RECEIPT_PRINTER": "lp0"}, "kiosk_receipt_printer"),
        ({"BORNE_AGENT_KIOSK_DRIVER": "modbus"}, "kiosk_serial_port"),
        ({**MODBUS, "BORNE_AGENT_KIOSK_MODBUS_UNIT": "0"}, "kiosk_modbus_unit"),
        ({**MODBUS, "BORNE_AGENT_KIOSK_MODBUS_UNIT": "248"}, "kiosk_modbus_unit"),
        ({**MODBUS, "BORNE_AGENT_KIOSK_MODBUS_BAUD": "9601"}, "kiosk_modbus_baud"),
        ({**MODBUS, "BORNE_AGENT_KIOSK_MODBUS_FIRST_COIL": "-1"}, "kiosk_modbus_first_coil"),
        ({**MODBUS, "BORNE_AGENT_KIOSK_MODBUS_FIRST_INPUT": "65530"}, "kiosk_modbus_first_input"),
        ({"BORNE_AGENT_KIOSK_DRIVER": "gpio"}, "kiosk_gpio_chip"),
        ({**GPIO, "BORNE_AGENT_KIOSK_GPIO_LOCK_LINES": "5,6"}, "kiosk_gpio_lock_lines"),
        ({**GPIO, "BORNE_AGENT_KIOSK_GPIO_DOOR_LINES": "16,19,5"}, "kiosk_gpio_door_lines"),
        ({**GPIO, "BORNE_AGENT_KIOSK_GPIO_LOCK_LINES": "5,-6,13"}, "kiosk_gpio_lock_lines"),
        ({**GPIO, "BORNE_AGENT_KIOSK_GPIO_DOOR_LINES": "16,x,20"}, "KIOSK_GPIO_DOOR_LINES"),
    ],
)
def test_bad_kiosk_settings_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=named):
        load_agent_settings(env=env)


def test_a_driver_built_without_its_hardware_settings_names_them() -> None:
    with pytest.raises(ImproperlyConfigured, match="kiosk_serial_port"):
        make_driver(KioskDriverSettings(driver=DriverKind.MODBUS))
    with pytest.raises(ImproperlyConfigured, match="kiosk_gpio_chip"):
        make_driver(KioskDriverSettings(driver=DriverKind.GPIO))
    with pytest.raises(ImproperlyConfigured, match="kiosk_gpio_lock_lines"):
        make_driver(
            KioskDriverSettings(driver=DriverKind.GPIO, gpio_chip="/dev/gpiochip0", lockers=2)
        )
