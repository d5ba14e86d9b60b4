"""The device's roles (agent/roles.py): registered by name, wired by the daemon without it knowing
them, several on one device; heartbeats and commands are those of all its roles."""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from agent_testkit import make_credentials, wait_for

from agent import daemon
from agent.daemon import Agent, build_agent
from agent.hotspot import PortalWatch
from agent.protocol import CommandName, DeviceKind, PortalModeName, UpdateConfigArgs
from agent.roles import EVERY_DEVICE, ROLES, SCREEN, Service, Wiring, role_for
from agent.settings import AgentSettings
from captive_portal.managed import read_managed_settings
from captive_portal.snapshot import PortalSnapshot, write_snapshot


@pytest.fixture
def built(state_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Builds agents (simulated actions, a controller nobody answers at) and closes them."""
    agents: list[Agent] = []

    def build(kind: DeviceKind, **settings: Any) -> Agent:
        values: dict[str, Any] = {
            "state_dir": state_dir,
            "actions": "simulated",
            "portal_state_dir": tmp_path / "portal",
        }
        values.update(settings)
        agent = build_agent(
            AgentSettings(**values), make_credentials("http://127.0.0.1:1", kind=kind)
        )
        agents.append(agent)
        return agent

    yield build
    for agent in agents:
        agent.link.close()
        agent.spool.close()


def portal_with_clients(portal_dir: Path, clients: int) -> None:
    portal_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    write_snapshot(
        portal_dir,
        PortalSnapshot(
            at=now,
            day=date.today(),
            clients_now=clients,
            connections_by_hour={},
            unique_devices_today=clients,
            ended_sessions=[],
        ),
    )


def read_portal(agent: Agent) -> None:
    """What the portal watch does every half minute, once."""
    for service in agent.services:
        if isinstance(service, PortalWatch):
            service.tick()


def test_every_device_kind_has_a_role_of_its_name() -> None:
    assert set(ROLES) == set(DeviceKind)
    assert all(role_for(kind).name == kind for kind in DeviceKind)


def test_one_role_heartbeats_are_what_they_were(
    built: Callable[..., Agent], tmp_path: Path
) -> None:
    portal_with_clients(tmp_path / "portal", 2)
    hotspot = built(DeviceKind.HOTSPOT)
    read_portal(hotspot)
    pc = built(DeviceKind.PC, state_dir=tmp_path / "pc")

    assert msgspec.json.encode(hotspot.spool_heartbeat().state) == (
        b'{"role":"hotspot","portal":"running","portal_clients":"2","portal_nearby":"1"}'
    )
    assert msgspec.json.encode(pc.spool_heartbeat().state) == (
        b'{"role":"pc","session":"none","guest_login":"open","language":"fr",'
        b'"service":"in_service"}'
    )


def test_a_kiosk_that_is_also_the_hotspot_reports_both_and_takes_both_commands(
    built: Callable[..., Agent], tmp_path: Path
) -> None:
    portal_with_clients(tmp_path / "portal", 5)
    agent = built(DeviceKind.KIOSK, roles=("kiosk", "hotspot"))
    read_portal(agent)

    heartbeat = agent.spool_heartbeat()

    assert heartbeat.state == {
        "role": "kiosk,hotspot",
        "service": "in_service",
        "portal": "running",
        "portal_clients": "5",
        "portal_nearby": "1",  # it hands the portal the nearby places
    }
    assert agent.commands is not None
    handled = agent.commands.role.commands
    assert handled == role_for("kiosk").commands | role_for("hotspot").commands
    assert CommandName.LOCK_SCREEN in handled and CommandName.RESET_SESSION not in handled


def test_a_kiosk_that_is_also_the_hotspot_hands_the_portal_its_settings(
    built: Callable[..., Agent], tmp_path: Path
) -> None:
    agent = built(DeviceKind.KIOSK, roles=("kiosk", "hotspot"))
    assert agent.commands is not None
    apply_config = agent.commands.apply_config

    output = apply_config(UpdateConfigArgs(portal_mode=PortalModeName.CLOSED, portal_revision=2))
    late = apply_config(UpdateConfigArgs(portal_mode=PortalModeName.CLICK, portal_revision=1))

    assert output == "applied: portal_mode = 'closed', portal_revision = 2"
    assert late == (
        "nothing to change; portal settings of revision 1 ignored: revision 2 is in force"
    )
    managed = read_managed_settings(tmp_path / "portal")
    assert managed is not None and managed.mode == "closed"


class Lockers:
    """A kiosk's lockers, as they may come: a service beside the agent's loop."""

    def __init__(self) -> None:
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


class KioskWithLockers:
    """A role the daemon has never heard of, registered under the kiosk's name."""

    name = DeviceKind.KIOSK
    commands: ClassVar[frozenset[CommandName]] = EVERY_DEVICE | SCREEN
    redacts_residents = False

    def __init__(self) -> None:
        self.lockers = Lockers()
        self.wiring: Wiring | None = None
        self.told: list[tuple[UpdateConfigArgs, UpdateConfigArgs, UpdateConfigArgs]] = []

    def state(self) -> dict[str, str]:
        return {"lockers_free": "3"}

    def wire(self, wiring: Wiring) -> list[Service]:
        self.wiring = wiring
        return [self.lockers]

    def screen_update(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs
    ) -> tuple[UpdateConfigArgs, list[str]]:
        if update.device_name == "Locker 13":
            return msgspec.structs.replace(update, device_name=None), ["no locker 13 here"]
        return update, []

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        self.told.append((update, previous, in_force))
        return ["lockers told"]


def test_a_new_role_registered_by_name_is_wired_and_gets_its_settings(
    built: Callable[..., Agent], monkeypatch: pytest.MonkeyPatch, state_dir: Path
) -> None:
    role = KioskWithLockers()
    monkeypatch.setitem(ROLES, DeviceKind.KIOSK, lambda: role)
    agent = built(DeviceKind.KIOSK)
    assert agent.commands is not None

    first = agent.commands.apply_config(UpdateConfigArgs(heartbeat_interval_s=5))
    second = agent.commands.apply_config(UpdateConfigArgs(device_name="Locker 13"))

    assert role.wiring is not None and role.wiring.events is agent.spool
    assert agent.services == [role.lockers]
    running = threading.Thread(target=agent.run, daemon=True)
    running.start()
    wait_for(lambda: role.lockers.running, what="the lockers to start with the agent")
    agent.stop()
    running.join(10)
    assert not role.lockers.running
    assert agent.spool_heartbeat().state == {"role": "kiosk", "lockers_free": "3"}
    assert first == "applied: heartbeat_interval_s = 5, lockers told"
    assert second == "applied: lockers told; no locker 13 here"
    (update, previous, in_force), (_, after_first, _) = role.told
    assert (update.heartbeat_interval_s, previous, in_force.heartbeat_interval_s) == (
        5,
        UpdateConfigArgs(),
        5,
    )
    assert after_first.heartbeat_interval_s == 5
    assert json.loads((state_dir / "remote-settings.json").read_text()) == {
        "heartbeat_interval_s": 5
    }


def test_the_daemon_knows_no_role_by_name() -> None:
    tree = ast.parse(Path(daemon.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    role_modules = ("agent.hotspot", "agent.kiosk", "agent.pc")
    assert [m for m in imported for r in role_modules if m == r or m.startswith(r + ".")] == []


class KioskThatRefusesLongCharges(KioskWithLockers):
    """A role whose hardware cannot take one of the values it is sent."""

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        if (in_force.kiosk_max_charge_min or 0) > 600:
            raise OSError("the lock board's timer holds at most 600 minutes")
        return super().update_config(update, previous=previous, in_force=in_force)


def test_settings_that_cannot_be_applied_leave_the_previous_ones_in_force_and_say_so(
    built: Callable[..., Agent], monkeypatch: pytest.MonkeyPatch, state_dir: Path
) -> None:
    role = KioskThatRefusesLongCharges()
    monkeypatch.setitem(ROLES, DeviceKind.KIOSK, lambda: role)
    agent = built(DeviceKind.KIOSK)
    assert agent.commands is not None
    agent.commands.apply_config(UpdateConfigArgs(heartbeat_interval_s=5, kiosk_max_charge_min=120))

    outcome = agent.commands._dispatch(
        CommandName.UPDATE_CONFIG,
        UpdateConfigArgs(heartbeat_interval_s=30, kiosk_max_charge_min=900),
    )

    assert not outcome.ok
    assert "600 minutes" in outcome.output and "previous ones are kept" in outcome.output
    assert json.loads((state_dir / "remote-settings.json").read_text()) == {
        "heartbeat_interval_s": 5,
        "kiosk_max_charge_min": 120,
    }
    assert agent.heartbeat_interval_s == 5  # live again, not only on disk
