"""A charging kiosk and its controller, end to end (issue 15): a real ``borne agent run`` with the
kiosk role and its simulated bank, its touch page in Chromium, a real controller process.

A resident leaves a phone; the controller's page knows the locker is occupied (and nothing
else); a technician opens it from afar with a reason; the kiosk opens it, says so, and the
controller's audit log has who and why, and the anonymous charging session.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import Error as BrowserError
from playwright.sync_api import expect

from tests.e2e.controller_process import StaffClient, agent_process, wait_until
from tests.postgres import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SITE = "grenoble-mdh-teisseire"
PASSWORD = "a long technician password"


def rows(database: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_a_phone_left_in_a_locker_is_opened_from_afar_by_staff_with_a_reason(
    live_controller, browser, tmp_path
):
    live_controller.add_user("tech", PASSWORD, "technician", "--site", SITE)
    port = free_port()
    settings = {
        "BORNE_AGENT_ACTIONS": "simulated",
        "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "1",
        "BORNE_AGENT_BACKOFF_MIN_S": "0.2",
        "BORNE_AGENT_BACKOFF_MAX_S": "1",
        "BORNE_AGENT_KIOSK_PORT": str(port),
        "BORNE_AGENT_KIOSK_SIMULATED_HAND_S": "0.5",  # a hand shuts each door
    }
    with agent_process(live_controller, SITE, "kiosk", tmp_path / "kiosk", settings) as kiosk:
        page = browser.new_page(viewport={"width": 1080, "height": 1920})
        wait_until(lambda: _answers(page, f"http://127.0.0.1:{port}/"), message="the page")
        page.get_by_role("button", name=re.compile("^Recharger mon téléphone")).click()
        number = int(re.search(r"\d+", page.get_by_role("heading", level=1).inner_text())[0])
        expect(page.get_by_role("status")).to_contain_text("fermée", timeout=10_000)
        page.get_by_role("button", name="Terminé").click()
        code = page.locator(".code").inner_text().replace(" ", "")
        assert re.fullmatch(r"\d{6}", code)

        technician = StaffClient(live_controller.url).login("tech", PASSWORD)

        def occupied():
            _, body = technician.api("GET", f"/api/v1/devices/{kiosk}/lockers")
            lockers = {item["number"]: item for item in (body or {}).get("lockers", [])}
            return lockers.get(number, {}).get("state") == "occupied" and lockers

        lockers = wait_until(occupied, message="the controller sees the locker occupied")
        assert code not in str(lockers)

        status, body = technician.api(
            "POST",
            f"/api/v1/devices/{kiosk}/lockers/{number}/open",
            {"reason": "the resident lost the code"},
        )
        assert status in (200, 201, 202), body

        audit = live_controller.data_dir / "borne.sqlite3"
        opened = wait_until(
            lambda: rows(
                audit,
                "SELECT actor, detail FROM audit_log WHERE action = 'locker.open'",
            ),
            message="the kiosk's report of the opening in the audit log",
        )
        page.close()

    [(actor, detail)] = opened
    assert actor == "tech" and "the resident lost the code" in detail
    [(ended_by,)] = rows(audit, "SELECT ended_by FROM charging_sessions")
    assert ended_by == "remote"


def _answers(page, url: str) -> bool:
    try:
        page.goto(url)
    except BrowserError:  # the agent is still starting its page
        return False
    return True
