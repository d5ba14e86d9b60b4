"""Builders for the portal's unit tests: an app on a fake clock, a client that looks local.

Not fixtures in a conftest: the network half's tests share this folder, and a builder that
takes overrides (``make_portal(tmp_path, mode="code")``) reads better at the call site.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from captive_portal.access import ClientAddress, MemoryClientAccess
from captive_portal.anonymity import Neighbour
from captive_portal.server import create_portal_app
from captive_portal.settings import PortalSettings, load_portal_settings

GATEWAY = "10.42.0.1"
HTTP_PORT = 8080
BASE_URL = f"http://{GATEWAY}:{HTTP_PORT}"
SPLASH_URL = f"{BASE_URL}/"
RESIDENT = "10.42.0.23"
# Tuesday 24 November 2026, 10:00 in Grenoble.
TUESDAY_10H = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """An aware "now" the test moves by hand; also drives MemoryClientAccess's expiry."""

    def __init__(self, now: datetime = TUESDAY_10H) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeNeighbours:
    """The kernel's neighbour table as a dict: address -> MAC; addresses in ``stale`` have not
    been heard from lately."""

    def __init__(self) -> None:
        self.macs: dict[str, str] = {}
        self.stale: set[str] = set()

    def hardware_address(self, address: ClientAddress) -> str | None:
        return self.macs.get(str(address))

    def addresses_of(self, mac: str) -> list[ClientAddress]:
        return [n.address for n in self.entries() if n.mac == mac and n.in_use]

    def entries(self) -> list[Neighbour]:
        return [
            Neighbour(ipaddress.ip_address(address), mac, address not in self.stale)
            for address, mac in self.macs.items()
        ]


class GatewayClient(FlaskClient):
    """Requests as a resident's browser sends them: to the gateway, from a client address."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("base_url", BASE_URL)
        environ = kwargs.setdefault("environ_overrides", {})
        environ.setdefault("REMOTE_ADDR", RESIDENT)
        return super().open(*args, **kwargs)


@dataclasses.dataclass
class Portal:
    app: Flask
    client: GatewayClient
    access: MemoryClientAccess
    clock: FakeClock
    neighbours: FakeNeighbours
    settings: PortalSettings

    def tap_connect(self, address: str = RESIDENT, **form: str) -> Any:
        return self.client.post(
            "/connect", data={"accept": "1", **form}, environ_overrides={"REMOTE_ADDR": address}
        )

    def remaining(self, address: str = RESIDENT) -> int | None:
        return self.access.remaining(ipaddress.ip_address(address))

    def refresh(self) -> None:
        """What the server does every few seconds."""
        self.app.extensions["borne_portal"].admission.refresh()


def portal_settings(tmp_path: Path, **overrides: Any) -> PortalSettings:
    values: dict[str, Any] = {
        "enforcement": "memory",
        "state_dir": str(tmp_path / "state"),
        "runtime_dir": str(tmp_path / "run"),
        "http_port": HTTP_PORT,
        "timezone": "Europe/Paris",
    }
    values.update(overrides)
    return load_portal_settings(overrides=values)


def make_portal(tmp_path: Path, clock: FakeClock | None = None, **overrides: Any) -> Portal:
    """A portal app on ``clock`` (Tuesday 10:00 by default) with ``overrides`` of its settings."""
    clock = clock or FakeClock()
    settings = portal_settings(tmp_path, **overrides)
    access = MemoryClientAccess(clock=clock.monotonic)
    neighbours = FakeNeighbours()
    app = create_portal_app(settings, access, clock, neighbours=neighbours)
    app.test_client_class = GatewayClient
    client = app.test_client()
    assert isinstance(client, GatewayClient)
    return Portal(app, client, access, clock, neighbours, settings)
