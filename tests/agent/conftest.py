"""Real controllers on loopback for the agent's tests: a Socket.IO server and a plain HTTP one."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import DEVICE_ID, HttpController, Received, SocketIOController


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
    """A plain HTTP controller (no Socket.IO): enrolment and the events fallback."""
    received = Received()
    controller = HttpController("", received)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply(404, {"error": "not_found", "message": "no Socket.IO here"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/api/v1/enrol":
                controller.enrol_requests.append(body)
                self._reply(*controller.enrol_answer)
            elif self.path == "/api/v1/agent/events":
                auth = self.headers.get("Authorization", "")
                with received.lock:
                    received.basic_auth.append(auth)
                expected = base64.b64encode(f"{DEVICE_ID}:{received.secret}".encode()).decode()
                if auth != f"Basic {expected}":
                    self._reply(401, {"error": "unauthorized", "message": "wrong secret"})
                    return
                answer = received.answer(body)
                self._reply(422 if "error" in answer else 200, answer)
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
