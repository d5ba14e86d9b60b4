"""The agent's channels against real servers on loopback: python-socketio and http.server."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from agent_testkit import (
    DEVICE_ID,
    SECRET,
    HttpController,
    SocketIOController,
    spool_heartbeats,
    wait_for,
)

from agent.protocol import AGENT_FEATURES
from agent.spool import Spool
from agent.transport import (
    BatchRejected,
    ControllerLink,
    CredentialsRefused,
    HttpChannel,
    SocketIOChannel,
    TransportError,
)


def make_link(spool: Spool, url: str, secret: str = SECRET, **kwargs: float) -> ControllerLink:
    return ControllerLink(
        spool,
        SocketIOChannel(url, DEVICE_ID, secret, timeout_s=5),
        HttpChannel(url, DEVICE_ID, secret, timeout_s=5),
        **kwargs,
    )


@pytest.fixture
def spool(tmp_path: Path):
    spool = Spool(tmp_path / "spool.sqlite3")
    yield spool
    spool.close()


def test_socketio_connect_sends_device_auth(socketio_controller: SocketIOController) -> None:
    channel = SocketIOChannel(socketio_controller.url, DEVICE_ID, SECRET, timeout_s=5)
    channel.connect()
    try:
        assert channel.connected
        assert socketio_controller.received.auths == [
            {
                "device_id": DEVICE_ID,
                "secret": SECRET,
                "protocol": 1,
                "features": list(AGENT_FEATURES),
            }
        ]
    finally:
        channel.close()
    assert not channel.connected


def test_events_arrive_in_order_and_acks_empty_the_spool(
    socketio_controller: SocketIOController, spool: Spool
) -> None:
    seqs = spool_heartbeats(spool, 1200)  # more than two batches of MAX_BATCH (500)
    link = make_link(spool, socketio_controller.url)
    try:
        assert link.flush() == math.inf  # connected, nothing left to send
        assert socketio_controller.received.seqs == seqs
        assert [len(b["events"]) for b in socketio_controller.received.batches] == [500, 500, 200]
        assert len(spool) == 0
        assert socketio_controller.received.basic_auth == []  # HTTP fallback unused
    finally:
        link.close()


def test_events_spooled_while_connected_follow_the_earlier_ones(
    socketio_controller: SocketIOController, spool: Spool
) -> None:
    link = make_link(spool, socketio_controller.url)
    try:
        spool_heartbeats(spool, 3)
        link.flush()
        spool_heartbeats(spool, 2)
        link.flush()
        assert socketio_controller.received.seqs == [1, 2, 3, 4, 5]
        assert len(spool) == 0
    finally:
        link.close()


def test_only_the_invalid_event_is_set_aside_so_the_queue_does_not_jam(
    socketio_controller: SocketIOController, spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool_heartbeats(spool, 3)
    socketio_controller.received.reject_seqs = {2}
    link = make_link(spool, socketio_controller.url)
    try:
        link.flush()
        assert len(spool) == 0
        assert "rejected events 1..3 as invalid" in caplog.text
        assert "rejected event 2 (heartbeat) as invalid" in caplog.text
        socketio_controller.received.reject_seqs = set()
        spool_heartbeats(spool, 1)
        link.flush()
        # The events around the faulty one still count, and whole batches go again after it.
        assert socketio_controller.received.seqs == [1, 3, 4]
    finally:
        link.close()


def test_refused_credentials_raise_with_the_servers_message(
    socketio_controller: SocketIOController,
) -> None:
    channel = SocketIOChannel(socketio_controller.url, DEVICE_ID, "wrong", timeout_s=5)
    with pytest.raises(CredentialsRefused, match="wrong secret"):
        channel.connect()
    assert not channel.connected


def test_refused_link_says_to_re_enrol_and_waits_near_max_backoff(
    socketio_controller: SocketIOController, spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool_heartbeats(spool, 2)
    now = [1000.0]
    link = ControllerLink(
        spool,
        SocketIOChannel(socketio_controller.url, DEVICE_ID, "wrong", timeout_s=5),
        HttpChannel(socketio_controller.url, DEVICE_ID, "wrong", timeout_s=5),
        backoff_min_s=1,
        backoff_max_s=60,
        clock=lambda: now[0],
    )
    with caplog.at_level(logging.ERROR):
        due = link.flush()
    assert link.refused
    assert 30 <= due - now[0] <= 60
    assert "enrol it again" in caplog.text
    attempts = len(socketio_controller.received.auths)
    link.flush()  # called again before it is due: no new attempt, no spin
    assert len(socketio_controller.received.auths) == attempts
    assert len(spool) == 2  # nothing lost while refused
    link.close()


def test_http_fallback_posts_with_basic_auth_when_socketio_is_unavailable(
    http_controller: HttpController, spool: Spool
) -> None:
    seqs = spool_heartbeats(spool, 4)
    link = make_link(spool, http_controller.url)
    try:
        due = link.flush()
        assert http_controller.received.seqs == seqs
        assert len(spool) == 0
        assert http_controller.received.basic_auth == [
            "Basic ZGV2LTAwMDE6czNjcmV0LWZvci10ZXN0cw=="  # base64 of dev-0001:s3cret-for-tests
        ]
        assert due < math.inf  # still wants the Socket.IO channel back
    finally:
        link.close()


def test_http_fallback_refusal_is_reported_as_credentials_refused(
    http_controller: HttpController, spool: Spool
) -> None:
    spool_heartbeats(spool, 1)
    channel = HttpChannel(http_controller.url, DEVICE_ID, "wrong", timeout_s=5)
    batch = spool.pending_batch()
    assert batch is not None
    with pytest.raises(CredentialsRefused, match="wrong secret"):
        channel.send(batch)


@pytest.mark.parametrize("code", ["invalid_event", "invalid_request"])
def test_http_fallback_invalid_batch_is_rejected(
    http_controller: HttpController, spool: Spool, code: str
) -> None:
    spool_heartbeats(spool, 1)
    http_controller.received.reject_seqs = {1}
    http_controller.received.reject_code = code  # the REST layer answers 422 invalid_request
    batch = spool.pending_batch()
    assert batch is not None
    with pytest.raises(BatchRejected):
        HttpChannel(http_controller.url, DEVICE_ID, SECRET, timeout_s=5).send(batch)


def test_unreachable_controller_keeps_events_and_backs_off(tmp_path: Path, spool: Spool) -> None:
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spool_heartbeats(spool, 3)
    now = [50.0]
    link = ControllerLink(
        spool,
        SocketIOChannel(f"http://127.0.0.1:{port}", DEVICE_ID, SECRET, timeout_s=2),
        HttpChannel(f"http://127.0.0.1:{port}", DEVICE_ID, SECRET, timeout_s=2),
        backoff_min_s=1,
        backoff_max_s=60,
        clock=lambda: now[0],
    )
    due = link.flush()
    assert len(spool) == 3
    assert 51.0 <= due <= 52.0  # first retry between min and 2 * min
    with pytest.raises(TransportError):
        HttpChannel(f"http://127.0.0.1:{port}", DEVICE_ID, SECRET, timeout_s=2).send(
            spool.pending_batch()  # type: ignore[arg-type]
        )
    link.close()


def test_link_reconnects_after_a_drop_and_replays_in_order(
    socketio_controller: SocketIOController, spool: Spool
) -> None:
    woken = []
    socket = SocketIOChannel(
        socketio_controller.url,
        DEVICE_ID,
        SECRET,
        timeout_s=5,
        on_disconnect=lambda: woken.append(1),
    )
    link = ControllerLink(spool, socket, HttpChannel(socketio_controller.url, DEVICE_ID, SECRET))
    try:
        spool_heartbeats(spool, 2)
        link.flush()
        socketio_controller.drop_all()
        wait_for(lambda: woken and not socket.connected, what="the agent to see the drop")
        spool_heartbeats(spool, 3)  # collected while disconnected
        link.flush()
        assert socket.connected
        assert socketio_controller.received.seqs == [1, 2, 3, 4, 5]
        assert len(socketio_controller.received.auths) == 2
        assert len(spool) == 0
    finally:
        link.close()


def test_a_device_whose_spool_was_lost_sends_its_events_again_after_the_controllers(
    socketio_controller: SocketIOController, spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: the controller acknowledged them as replays of events 1..3 it had, and the
    # agent forgot them, a wipe report with leftovers among them.
    socketio_controller.received.known_through = 5000
    spool_heartbeats(spool, 3)
    link = make_link(spool, socketio_controller.url)
    try:
        link.flush()
        assert socketio_controller.received.seqs == [5001, 5002, 5003]
        assert len(spool) == 0
        assert "restarted at 1" in caplog.text
    finally:
        link.close()
