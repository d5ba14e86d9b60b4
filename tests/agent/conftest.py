"""Real controllers on loopback for the agent's tests: a Socket.IO server and a plain HTTP one."""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import DEVICE_ID, HttpController, Received, SocketIOController

CLAIM_PATH = re.compile(r"/api/v1/agent/commands/(?P<id>[^/]+)/claim")
CLAIM_STATUS = {"unknown": 404, "claimed": 409, "cancelled": 409, "expired": 410}


@pytest.fixture
def socketio_controller() -> Iterator[SocketIOController]:
    """python-socketio's real server (threading mode, simple-websocket) on a free loopback port."""
    import socketio
    from werkzeug.serving import make_server

    received = Received()
    sio = socketio.Server(async_mode="threading", logger=False, engineio_logger=False)

    @sio.on("connect", namespace="/agent")
    def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> None:
        with received.lock:
            received.auths.append(auth or {})
        if not auth or auth.get("secret") != received.secret:
            raise socketio.exceptions.ConnectionRefusedError("unknown device or wrong secret")

    @sio.on("events", namespace="/agent")
    def events(sid: str, batch: dict[str, Any]) -> dict[str, Any]:
        return received.answer(batch)

    @sio.on("claim", namespace="/agent")
    def claim(sid: str, request: dict[str, Any]) -> dict[str, Any]:
        return received.claim(request["command_id"])

    server = make_server("127.0.0.1", 0, socketio.WSGIApp(sio), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SocketIOController(f"http://127.0.0.1:{server.server_port}", received, sio)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_controller() -> Iterator[HttpController]:
    """A plain HTTP controller (no Socket.IO): enrolment, the events and commands fallback."""
    received = Received()
    controller = HttpController("", received)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            expected = base64.b64encode(f"{DEVICE_ID}:{received.secret}".encode()).decode()
            if self.headers.get("Authorization", "") != f"Basic {expected}":
                self._reply(401, {"error": "unauthorized", "message": "wrong secret"})
                return False
            return True

        def do_GET(self) -> None:
            if self.path == "/api/v1/agent/commands":
                if self._authorised():
                    with received.lock:
                        claimed = set(received.claims)
                        pending = [c for c in received.pending_commands if c["id"] not in claimed]
                    self._reply(200, pending)
                return
            self._reply(404, {"error": "not_found", "message": "no Socket.IO here"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/api/v1/enrol":
                controller.enrol_requests.append(body)
                self._reply(*controller.enrol_answer)
            elif self.path == "/api/v1/agent/events":
                with received.lock:
                    received.basic_auth.append(self.headers.get("Authorization", ""))
                if not self._authorised():
                    return
                answer = received.answer(body)
                self._reply(422 if "error" in answer else 200, answer)
            elif match := CLAIM_PATH.fullmatch(self.path):
                if not self._authorised():
                    return
                answer = received.claim(urllib.parse.unquote(match["id"]))
                if answer["ok"]:
                    self._reply(200, answer)
                else:
                    status = CLAIM_STATUS.get(answer["reason"], 409)
                    self._reply(status, {"error": answer["reason"], "message": answer["message"]})
            else:
                self._reply(404, {"error": "not_found", "message": self.path})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    controller.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield controller
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def cups() -> Iterator[Any]:
    """A private cupsd (cups_testkit) with two queues writing to /dev/null: ``borne-test``,
    which prints, and ``borne-stopped``, disabled, where jobs stay pending."""
    from cups_testkit import private_cupsd

    with private_cupsd() as server:
        server.add_queue("borne-test")
        server.add_queue("borne-stopped")
        server.admin("cupsdisable", "borne-stopped")
        yield server


@pytest.fixture
def guest() -> Iterator[Any]:
    """A real throwaway guest account (``useradd``), removed with its processes after the test."""
    from guest_testkit import throwaway_guest

    with throwaway_guest() as account:
        yield account
