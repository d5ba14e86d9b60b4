"""The portal with its hotspot's agent and the controller, all real processes on loopback: the
statistics reach the controller with no address, and the settings city IT sets on the controller
reach the portal without a restart."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.controller_process import (
    ControllerProcess,
    StaffClient,
    agent_process,
    wait_until,
)
from tests.e2e.portal_testkit import LivePortal, running_portal

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


def tap_connect(portal: LivePortal, **fields: str) -> int:
    """Tap Connect (with a typed code, if any); the status after the redirect to /online."""
    form = urllib.parse.urlencode({"accept": "1", **fields}).encode()
    try:
        with urllib.request.urlopen(f"{portal.url}/connect", data=form, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def splash(portal: LivePortal) -> str:
    with urllib.request.urlopen(f"{portal.url}/?lang=en", timeout=10) as page:
        return str(page.read().decode())


def test_a_tap_on_the_portal_is_counted_on_the_hotspots_page_without_any_address(
    live_controller: ControllerProcess, portal: LivePortal, hotspot: str
):
    live_controller.add_user("ana", PASSWORD, "admin")
    staff = StaffClient(live_controller.url).login("ana", PASSWORD)

    assert tap_connect(portal) == 200

    def hotspot_page() -> str:
        with staff.opener.open(f"{live_controller.url}/devices/{hotspot}", timeout=10) as page:
            return str(page.read().decode())

    assert wait_until(lambda: "<dt>Connected now</dt><dd>1</dd>" in hotspot_page(), timeout=20)
    page = hotspot_page()
    assert "Distinct devices on" in page and "</dt><dd>1</dd>" in page
    # Aggregates only: nothing the controller stored holds the device's address.
    stored = b"".join(p.read_bytes() for p in live_controller.data_dir.glob("borne.sqlite3*"))
    assert stored and b"127.0.0.1" not in stored


def test_code_mode_set_on_the_controller_reaches_the_portal_and_the_mediator_reads_the_code(
    live_controller: ControllerProcess, portal: LivePortal, hotspot: str
):
    live_controller.add_user("ana", PASSWORD, "admin")
    live_controller.add_user("mia", PASSWORD, "mediator", "--site", SITE)
    admin = StaffClient(live_controller.url).login("ana", PASSWORD)
    mediator = StaffClient(live_controller.url).login("mia", PASSWORD)
    assert 'id="code"' not in splash(portal)  # click mode: nothing to type

    status, answer = admin.api(
        "PUT",
        f"/api/v1/devices/{hotspot}/portal",
        {"mode": "code", "follow_site_hours": False, "session_min": 60},
    )
    assert status == 200, answer

    assert wait_until(lambda: 'id="code"' in splash(portal), timeout=20)

    def portal_as_the_mediator_sees_it() -> dict[str, Any]:
        status, seen = mediator.api("GET", f"/api/v1/devices/{hotspot}/portal")
        assert status == 200
        return dict(seen)

    assert wait_until(lambda: portal_as_the_mediator_sees_it()["delivery"] == "done", timeout=20)
    seen = portal_as_the_mediator_sees_it()
    assert seen["mode"] == "code"
    assert "code_secret" not in seen
    wrong = next(code for code in ("000 000", "111 111") if code != seen["code_of_the_day"])
    assert tap_connect(portal, code=wrong) == 403
    assert tap_connect(portal, code=seen["code_of_the_day"]) == 200

    status, _ = admin.api(
        "PUT",
        f"/api/v1/devices/{hotspot}/portal",
        {"mode": "click", "follow_site_hours": False, "session_min": 60},
    )
    assert status == 200
    assert wait_until(lambda: 'id="code"' not in splash(portal), timeout=20)
