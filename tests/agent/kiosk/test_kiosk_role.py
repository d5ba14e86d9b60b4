"""The ``kiosk`` role (agent/kiosk/__init__.py) in a real agent: its lockers run beside the
agent's loop, its touch page is served on 127.0.0.1, the controller's settings and its
``open_locker`` reach the bank, and its events reach the controller — later, when it was
unreachable. A kiosk that is also the hotspot runs both roles on one agent."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import SocketIOController, make_credentials, wait_for

from agent.daemon import Agent, build_agent
from agent.hotspot import PortalWatch
from agent.kiosk import KioskRole, KioskService
from agent.kiosk.bank import Bank
from agent.kiosk.codes import MIN_PIN_ITERATIONS, hash_staff_pin
from agent.kiosk.drivers import SimulatedBank
from agent.protocol import (
    ChargingSession,
    CommandName,
    DeviceKind,
    LockersReport,
    LockerState,
    OpenLockerArgs,
    StaffOpening,
    UpdateConfigArgs,
)
from agent.roles import Wiring
from agent.settings import AgentSettings, load_agent_settings
from borne.settings import ImproperlyConfigured

PIN_HASH = hash_staff_pin("4821", iterations=MIN_PIN_ITERATIONS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kiosk_of(agent: Agent) -> KioskRole:
    role = next(r for r in agent.roles.roles if isinstance(r, KioskRole))  # type: ignore[attr-defined]
    assert isinstance(role, KioskRole)
    return role


def bank_of(agent: Agent) -> Bank:
    bank = wait_for(lambda: kiosk_of(agent).bank, what="the lockers to run")
    assert isinstance(bank, Bank)
    return bank


def spooled(agent: Agent, kind: type[Any]) -> list[Any]:
    batch = agent.spool.pending_batch()
    return [e for e in (batch.events if batch else []) if isinstance(e, kind)]


def deposit(bank: Bank) -> tuple[int, str]:
    number = bank.choose()
    lockers = bank.driver
    assert isinstance(lockers, SimulatedBank)
    lockers.shut(number)
    return number, bank.deposit_done(number)


@pytest.fixture
def kiosk(state_dir: Path) -> Iterator[Callable[..., Agent]]:
    """Builds kiosk agents on one state directory (simulated lockers, a controller nobody
    answers at, the page on a free port) and closes them."""
    agents: list[Agent] = []

    def build(url: str = "http://127.0.0.1:1", **settings: Any) -> Agent:
        values: dict[str, Any] = {
            "state_dir": state_dir,
            "actions": "simulated",
            "kiosk_port": free_port(),
            "heartbeat_interval_s": 3600,
        }
        values.update(settings)
        agent = build_agent(AgentSettings(**values), make_credentials(url, kind=DeviceKind.KIOSK))
        agents.append(agent)
        return agent

    yield build
    for agent in agents:
        agent.link.close()
        agent.spool.close()


@contextmanager
def running(agent: Agent) -> Iterator[Agent]:
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(10)


def test_the_lockers_run_beside_the_agent_and_their_page_is_served(
    kiosk: Callable[..., Agent],
) -> None:
    agent = kiosk()
    service = kiosk_of(agent).lockers
    assert isinstance(service, KioskService) and agent.services == [service]

    with running(agent):
        bank = bank_of(agent)
        page = service.page
        assert page is not None
        port = page.port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as answer:
            home = answer.read().decode()
        number, code = deposit(bank)
        bank.retrieve(number, code)

    assert answer.status == 200 and "<html" in home
    [session] = spooled(agent, ChargingSession)
    assert session.locker == number
    reports = spooled(agent, LockersReport)
    assert len(reports[0].lockers) == 8
    assert kiosk_of(agent).bank is None, "stopped with the agent"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_the_sites_rules_reach_the_bank_and_survive_a_restart(
    kiosk: Callable[..., Agent], state_dir: Path
) -> None:
    agent = kiosk()
    assert agent.commands is not None
    with running(agent):
        bank = bank_of(agent)
        output = agent.commands.apply_config(
            UpdateConfigArgs(
                kiosk_max_charge_min=90,
                kiosk_help_text="Ask at the front desk",
                kiosk_opening_hours="Mo-Sa 09:00-18:00",
                kiosk_staff_pins={"alice": PIN_HASH, "bob": PIN_HASH},
                site_language="ar",
                out_of_service=True,
            )
        )
        config = bank.config

    assert output == (
        "applied: out_of_service = True, kiosk_max_charge_min = 90, "
        "kiosk_help_text = 'Ask at the front desk', "
        "kiosk_opening_hours = 'Mo-Sa 09:00-18:00', "
        "kiosk_staff_pins: 2 member(s) of staff (alice, bob), site_language = ar"
    )
    assert PIN_HASH not in output
    assert (config.max_charge_min, config.help_text, config.language) == (
        90,
        "Ask at the front desk",
        "ar",
    )
    assert config.out_of_service and set(config.staff_pins) == {"alice", "bob"}
    restarted = kiosk()
    with running(restarted):
        again = bank_of(restarted).config
    assert again == config
    assert restarted.spool_heartbeat().state == {"role": "kiosk", "service": "out_of_service"}


def test_settings_the_bank_cannot_use_are_refused_before_they_are_saved(
    kiosk: Callable[..., Agent], state_dir: Path
) -> None:
    agent = kiosk()
    assert agent.commands is not None

    output = agent.commands.apply_config(
        UpdateConfigArgs(
            kiosk_opening_hours="Mo-Sa 9h-18h",
            kiosk_staff_pins={"alice": PIN_HASH, "bob": "1234"},
        )
    )

    assert output.startswith("applied: kiosk_staff_pins: 1 member(s) of staff (alice); ")
    assert "kiosk_opening_hours 'Mo-Sa 9h-18h' is not OpenStreetMap syntax" in output
    assert "the opening hours in force are kept" in output
    assert "the PIN of 'bob' is refused" in output
    saved = json.loads((state_dir / "remote-settings.json").read_text())
    assert "kiosk_opening_hours" not in saved
    assert list(saved["kiosk_staff_pins"]) == ["alice"]


def test_the_controllers_open_locker_goes_through_the_role(kiosk: Callable[..., Agent]) -> None:
    agent = kiosk()
    role = kiosk_of(agent)
    args = OpenLockerArgs(locker=1, staff="bob", reason="a phone forgotten since yesterday")
    before = role.open_locker(args)

    with running(agent):
        bank = bank_of(agent)
        number, _ = deposit(bank)
        opened = role.open_locker(
            OpenLockerArgs(locker=number, staff="bob", reason="forgotten phone")
        )
        assert isinstance(bank.driver, SimulatedBank)
        bank.driver.failing = True
        down = role.open_locker(OpenLockerArgs(locker=2, staff="bob", reason="jam"))
        bank.driver.failing = False

    assert CommandName.OPEN_LOCKER in role.commands
    assert (before.ok, before.output) == (
        False,
        "the lockers are not running (the agent is starting or stopping)",
    )
    assert opened.ok and opened.output.startswith(f"locker {number} opened;")
    assert not down.ok
    assert down.output.startswith("locker 2 not opened: The lockers do not answer")
    [opening] = spooled(agent, StaffOpening)
    assert (opening.locker, opening.staff, opening.remote) == (number, "bob", True)


def test_a_kiosk_without_its_driver_setting_stops_at_start_naming_it(tmp_path: Path) -> None:
    role = KioskRole()
    [service] = role.wire(
        Wiring(
            settings=AgentSettings(state_dir=tmp_path),  # a real device: actions = "system"
            remote=UpdateConfigArgs(),
            events=None,  # type: ignore[arg-type]  # never reached
            actions=None,  # type: ignore[arg-type]
            wake=lambda: None,
        )
    )

    with pytest.raises(ImproperlyConfigured, match="kiosk_driver is required"):
        service.start()


def test_events_made_while_the_controller_is_unreachable_reach_it_later(
    kiosk: Callable[..., Agent], socketio_controller: SocketIOController
) -> None:
    received = socketio_controller.received
    secret, received.secret = received.secret, "not-yet"  # the controller turns the kiosk away
    agent = kiosk(socketio_controller.url, backoff_min_s=0.05, backoff_max_s=0.2)

    with running(agent):
        bank = bank_of(agent)
        number, code = deposit(bank)
        bank.retrieve(number, code)
        assert not any(e["type"] == "charging_session" for e in received.events)
        received.secret = secret
        sessions = wait_for(
            lambda: [e for e in received.events if e["type"] == "charging_session"],
            timeout=15,
            what="the charging session to reach the controller",
        )

    assert [(s["locker"], s["ended_by"]) for s in sessions] == [(number, "code")]
    states = [
        [locker["state"] for locker in e["lockers"] if locker["number"] == number]
        for e in received.events
        if e["type"] == "lockers"
    ]
    assert [LockerState.DEPOSIT] in states and [LockerState.OCCUPIED] in states


def test_a_kiosk_that_is_also_the_hotspot_runs_both_roles_on_one_agent(
    state_dir: Path, tmp_path: Path
) -> None:
    """BORNE_AGENT_ROLES=kiosk,hotspot: one agent, the lockers and the portal's watch."""
    settings = load_agent_settings(
        env={
            "BORNE_AGENT_ROLES": "kiosk,hotspot",
            "BORNE_AGENT_STATE_DIR": str(state_dir),
            "BORNE_AGENT_ACTIONS": "simulated",
            "BORNE_AGENT_PORTAL_STATE_DIR": str(tmp_path / "portal"),
            "BORNE_AGENT_KIOSK_PORT": str(free_port()),
            "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "3600",
        }
    )
    agent = build_agent(settings, make_credentials("http://127.0.0.1:1", kind=DeviceKind.KIOSK))
    try:
        assert agent.roles.name == "kiosk,hotspot"
        assert [type(s) for s in agent.services] == [KioskService, PortalWatch]
        assert agent.commands is not None
        assert CommandName.OPEN_LOCKER in agent.commands.role.commands
        with running(agent):
            bank = bank_of(agent)
            number, code = deposit(bank)
            bank.retrieve(number, code)
            heartbeat = agent.spool_heartbeat()
        assert heartbeat.state == {
            "role": "kiosk,hotspot",
            "service": "in_service",
            "portal": "not running",
            "portal_nearby": "1",  # it hands the portal the nearby places
        }
        [session] = spooled(agent, ChargingSession)
        assert session.locker == number
    finally:
        agent.link.close()
        agent.spool.close()
