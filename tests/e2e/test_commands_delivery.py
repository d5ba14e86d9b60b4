"""Commands end to end on real controller processes: pushed at once, queued while offline,
run once, refused when late, and across two processes sharing PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.controller_process import DEMO_PLACES, ControllerProcess, StaffClient, wait_until
from tests.e2e.fake_agent import ScriptedAgent
from tests.postgres import create_database
from tests.redis_server import redis_server

pytestmark = pytest.mark.e2e
SITE = "grenoble-bib-centre-ville"
PASSWORD = "a long admin password"


@pytest.fixture
def admin(live_controller) -> StaffClient:
    live_controller.add_user("admin", PASSWORD)
    return StaffClient(live_controller.url).login("admin", PASSWORD)


def command_state(staff: StaffClient, command_id: str) -> dict:
    status, body = staff.api("GET", f"/api/v1/commands/{command_id}")
    assert status == 200, body
    return body


def test_a_command_reaches_an_online_agent_at_once_and_runs_once(live_controller, admin):
    device_id, secret = live_controller.enrol_device(SITE)
    agent = ScriptedAgent(live_controller.url, device_id, secret).connect()
    try:
        status, [command] = admin.api(
            "POST", "/api/v1/commands", {"name": "lock_screen", "device_ids": [device_id]}
        )
        assert status == 201
        done = wait_until(
            lambda: command_state(admin, command["id"])["state"] == "done",
            timeout=15,
            message="the command done",
        )
        assert done
        assert agent.ran == [command["id"]]
        assert command_state(admin, command["id"])["output"] == "lock_screen: done"
    finally:
        agent.close()


def test_a_command_for_an_offline_agent_waits_for_its_connection(live_controller, admin):
    device_id, secret = live_controller.enrol_device(SITE)
    status, [command] = admin.api(
        "POST",
        "/api/v1/commands",
        {
            "name": "show_message",
            "device_ids": [device_id],
            "args": {"text": "Closing in 10 minutes"},
        },
    )
    assert status == 201 and command["state"] == "queued"

    agent = ScriptedAgent(live_controller.url, device_id, secret).connect()
    try:
        wait_until(lambda: agent.ran == [command["id"]], timeout=15, message="delivery")
        assert agent.received[0]["args"] == {"text": "Closing in 10 minutes"}
    finally:
        agent.close()


def test_pushing_twice_still_runs_once(live_controller, admin):
    device_id, secret = live_controller.enrol_device(SITE)
    _, [command] = admin.api(
        "POST", "/api/v1/commands", {"name": "reboot", "device_ids": [device_id]}
    )
    # The agent sees it, does not claim it, and reconnects: the command comes again.
    silent = ScriptedAgent(live_controller.url, device_id, secret, claim=False).connect()
    wait_until(lambda: silent.received, message="first delivery")
    silent.close()
    agent = ScriptedAgent(live_controller.url, device_id, secret).connect()
    try:
        wait_until(lambda: agent.ran, message="second delivery")
        wait_until(
            lambda: command_state(admin, command["id"])["state"] == "done", message="the result"
        )
        extra = live_controller.request(
            "POST", f"/api/v1/agent/commands/{command['id']}/claim", {}, auth=(device_id, secret)
        )
        assert extra[0] == 409 and extra[1]["error"] == "claimed"
        assert agent.ran == [command["id"]]
    finally:
        agent.close()


def test_an_expired_command_is_never_run(live_controller, admin):
    device_id, secret = live_controller.enrol_device(SITE)
    status, [command] = admin.api(
        "POST", "/api/v1/commands", {"name": "reboot", "device_ids": [device_id], "ttl_s": 10}
    )
    wait_until(
        lambda: command_state(admin, command["id"])["state"] == "expired",
        timeout=30,
        message="expiry",
    )
    status, body = live_controller.request(
        "POST", f"/api/v1/agent/commands/{command['id']}/claim", {}, auth=(device_id, secret)
    )
    assert status == 410 and body["error"] == "expired"
    assert live_controller.request("GET", "/api/v1/agent/commands", auth=(device_id, secret)) == (
        200,
        [],
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "format_disk", "device_ids": ["x"]}, 400, "unknown_command"),
        (
            {"name": "show_message", "device_ids": ["{device}"], "args": {"txt": "hi"}},
            422,
            "invalid_args",
        ),
        (
            {"name": "reboot", "device_ids": ["00000000-0000-0000-0000-000000000000"]},
            404,
            "not_found",
        ),
        ({"name": "reboot"}, 400, "bad_request"),
    ],
)
def test_bad_commands_get_a_clear_4xx_and_nothing_runs(live_controller, admin, body, status, code):
    device_id, _ = live_controller.enrol_device(SITE)
    body = {**body, "device_ids": [d.format(device=device_id) for d in body.get("device_ids", [])]}
    answer = admin.api("POST", "/api/v1/commands", body)
    assert answer[0] == status and answer[1]["error"] == code, answer
    assert admin.api("GET", f"/api/v1/commands?device_id={device_id}") == (200, [])


@pytest.fixture
def two_controllers(tmp_path: Path, postgres_base_url: str) -> Iterator[list[ControllerProcess]]:
    url = create_database(postgres_base_url, "borne_two_processes")
    with redis_server() as redis_url:
        # The periodic sweep would also deliver, within a minute here: only Redis is quick.
        env = {"BORNE_HOUSEKEEPING_INTERVAL_S": "60", "BORNE_SECRET_KEY": "shared-secret"}
        first = ControllerProcess(
            tmp_path / "a", database_url=url, redis_url=redis_url, extra_env=env
        )
        second = ControllerProcess(
            tmp_path / "b", database_url=url, redis_url=redis_url, extra_env=env
        )
        first.data_dir.mkdir(parents=True)
        second.data_dir.mkdir(parents=True)
        first.migrate()
        first.cli("places", "import", str(DEMO_PLACES))
        first.start()
        second.start()
        try:
            yield [first, second]
        finally:
            second.stop()
            first.stop()


def test_a_command_issued_on_one_process_runs_on_an_agent_of_another(two_controllers):
    first, second = two_controllers
    first.add_user("admin", PASSWORD)
    device_id, secret = first.enrol_device(SITE)
    agent = ScriptedAgent(second.url, device_id, secret).connect()
    try:
        staff = StaffClient(first.url).login("admin", PASSWORD)
        status, [command] = staff.api(
            "POST", "/api/v1/commands", {"name": "lock_screen", "device_ids": [device_id]}
        )
        assert status == 201
        wait_until(
            lambda: agent.ran == [command["id"]],
            timeout=10,
            message="the agent on the second process running the command",
        )
        wait_until(
            lambda: command_state(staff, command["id"])["state"] == "done",
            timeout=10,
            message="the result seen from the first process",
        )
    finally:
        agent.close()
