"""The portal's statistics reach the controller through the hotspot's agent, with no address:
a real portal, a real agent process and a real controller, on loopback."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.controller_process import (
    ControllerProcess,
    StaffClient,
    agent_process,
    wait_until,
)
from tests.e2e.test_portal_browser import LivePortal, running_portal

pytestmark = pytest.mark.e2e
SITE = "grenoble-bib-centre-ville"
PASSWORD = "a long password for the statistics test"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[LivePortal]:
    with running_portal(tmp_path / "portal") as live:
        yield live


@pytest.fixture
def hotspot(
    live_controller: ControllerProcess, portal: LivePortal, tmp_path: Path
) -> Iterator[str]:
    """The hotspot's agent, reading the portal's statistics every second; yields its id."""
    settings = {
        "BORNE_AGENT_ACTIONS": "simulated",
        "BORNE_AGENT_PORTAL_STATE_DIR": str(portal.directory / "state"),
        "BORNE_AGENT_PORTAL_STATS_INTERVAL_S": "1",
        "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "2",
    }
    with agent_process(live_controller, SITE, "hotspot", tmp_path / "agent", settings) as device:
        yield device


def tap_connect(portal: LivePortal) -> None:
    form = urllib.parse.urlencode({"accept": "1"}).encode()
    with urllib.request.urlopen(f"{portal.url}/connect", data=form, timeout=10) as answer:
        assert answer.status == 200  # the redirect to /online, followed


def test_a_tap_on_the_portal_is_counted_on_the_hotspots_page_without_any_address(
    live_controller: ControllerProcess, portal: LivePortal, hotspot: str
):
    live_controller.add_user("ana", PASSWORD, "admin")
    staff = StaffClient(live_controller.url).login("ana", PASSWORD)

    tap_connect(portal)

    def hotspot_page() -> str:
        with staff.opener.open(f"{live_controller.url}/devices/{hotspot}", timeout=10) as page:
            return str(page.read().decode())

    assert wait_until(lambda: "<dt>Connected now</dt><dd>1</dd>" in hotspot_page(), timeout=20)
    page = hotspot_page()
    assert "Distinct devices on" in page and "</dt><dd>1</dd>" in page
    # Aggregates only: nothing the controller stored holds the device's address.
    stored = b"".join(p.read_bytes() for p in live_controller.data_dir.glob("borne.sqlite3*"))
    assert stored and b"127.0.0.1" not in stored
