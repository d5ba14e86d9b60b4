"""The agents' Socket.IO channel on a real controller process (gevent, loopback)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import socketio
import websocket

from tests.e2e.controller_process import heartbeat, wait_until

pytestmark = pytest.mark.e2e


def connect(url: str, device_id: str, secret: str, protocol: int = 1) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.connect(
        url,
        namespaces=["/agent"],
        transports=["websocket"],
        wait_timeout=10,
        auth={"device_id": device_id, "secret": secret, "protocol": protocol},
    )
    return client


def test_events_are_acknowledged_after_storage_and_replays_are_not_stored_twice(live_controller):
    device_id, secret = live_controller.enrol_device("grenoble-bib-centre-ville")
    client = connect(live_controller.url, device_id, secret)
    try:
        first = client.call(
            "events", {"events": [heartbeat(1), heartbeat(2)]}, namespace="/agent", timeout=10
        )
        replay = client.call(
            "events", {"events": [heartbeat(2), heartbeat(3)]}, namespace="/agent", timeout=10
        )
    finally:
        client.disconnect()
    assert first == {"acked_seq": 2, "stored": 2}
    assert replay == {"acked_seq": 3, "stored": 1, "duplicates": 1}


@pytest.mark.parametrize(
    ("secret", "protocol", "reason"),
    [
        ("wrong secret", 1, "unknown device or wrong secret"),
        (None, 99, "protocol 99 is not spoken here"),
    ],
)
def test_bad_credentials_or_protocol_are_refused_at_connect(
    live_controller, secret, protocol, reason
):
    device_id, real_secret = live_controller.enrol_device("grenoble-bib-centre-ville")
    client = socketio.Client(reconnection=False)
    refusals: list[str] = []
    client.on("connect_error", lambda data: refusals.append(str(data)), namespace="/agent")
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            live_controller.url,
            namespaces=["/agent"],
            transports=["websocket"],
            wait_timeout=10,
            auth={"device_id": device_id, "secret": secret or real_secret, "protocol": protocol},
        )
    assert any(reason in r for r in refusals), refusals


def test_invalid_event_is_answered_with_an_error_and_not_stored(live_controller):
    device_id, secret = live_controller.enrol_device("grenoble-bib-centre-ville")
    client = connect(live_controller.url, device_id, secret)
    try:
        answer = client.call(
            "events", {"events": [{**heartbeat(1), "seq": -4}]}, namespace="/agent", timeout=10
        )
        after = client.call("events", {"events": [heartbeat(1)]}, namespace="/agent", timeout=10)
    finally:
        client.disconnect()
    assert answer["error"] == "invalid_event" and "seq" in answer["message"]
    assert after == {"acked_seq": 1, "stored": 1}  # seq 1 was never taken by the bad event


def test_one_hostile_device_never_fails_the_honest_ones_sending_at_the_same_moment(
    live_controller,
):
    # A sequence number past BIGINT and a datetime without a time zone used to fail the group
    # commit they shared with honest heartbeats: every honest device got 503 and sent again.
    honest = [live_controller.enrol_device("grenoble-bib-centre-ville") for _ in range(4)]
    hostile_id, hostile_secret = live_controller.enrol_device("grenoble-bib-centre-ville")
    naive = {**heartbeat(1), "at": "2026-11-22T10:00:00"}
    poison = [{"events": [heartbeat(2**63)]}, {"events": [naive]}]
    clients = [
        connect(live_controller.url, d, s) for d, s in [*honest, (hostile_id, hostile_secret)]
    ]
    answers: dict[int, object] = {}
    try:
        with ThreadPoolExecutor(max_workers=len(clients) + 1) as pool:
            futures = {
                i: pool.submit(
                    client.call,
                    "events",
                    {"events": [heartbeat(1)]},
                    namespace="/agent",
                    timeout=10,
                )
                for i, client in enumerate(clients[:-1])
            }
            hostile = [
                pool.submit(clients[-1].call, "events", body, namespace="/agent", timeout=10)
                for body in poison
            ]
            answers = {i: future.result() for i, future in futures.items()}
            refusals = [future.result() for future in hostile]
        over_http = live_controller.request(
            "POST",
            "/api/v1/agent/events",
            {"events": [heartbeat(2**63)]},
            auth=(hostile_id, hostile_secret),
        )
    finally:
        for client in clients:
            client.disconnect()
    assert all(answer == {"acked_seq": 1, "stored": 1} for answer in answers.values())
    assert [r["error"] for r in refusals] == ["invalid_event", "invalid_event"]
    assert over_http[0] == 422 and over_http[1]["error"] == "invalid_event"


def test_malformed_messages_give_one_line_not_a_traceback_each(live_controller):
    device_id, secret = live_controller.enrol_device("grenoble-bib-centre-ville")
    socket = websocket.create_connection(
        live_controller.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        timeout=10,
    )
    try:
        socket.recv()  # the Engine.IO handshake
        auth = json.dumps({"device_id": device_id, "secret": secret, "protocol": 1})
        socket.send(f"40/agent,{auth}")
        socket.recv()  # connected to /agent
        for payload in ["42/agent,{not json", '42/agent,["events", 12', "4Z", "42/agent,1"] * 5:
            socket.send(payload)
        socket.send("3")  # a pong: the connection is still served
    finally:
        socket.close()
    wait_until(lambda: "malformed Socket.IO message" in live_controller.log_path.read_text())
    log = live_controller.log_path.read_text()
    assert "Traceback" not in log
    assert log.count("malformed Socket.IO message") == 1
