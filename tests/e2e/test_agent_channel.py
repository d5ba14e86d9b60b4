"""The agents' Socket.IO channel on a real controller process (gevent, loopback)."""

from __future__ import annotations

import pytest
import socketio

from tests.e2e.controller_process import heartbeat

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
