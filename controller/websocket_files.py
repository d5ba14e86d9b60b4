"""One open file per WebSocket under gevent, not two.

Engine.IO serves WebSockets on gevent through simple-websocket, which works on a duplicate of the
server's socket (``dup()``) while gevent's pywsgi keeps the original open until the connection
ends: two open files per connected agent. With a limit of 20,000 open files, the 10,000th agent's
upgrade then failed with "Too many open files" and an HTTP 500 (bench/heartbeats.py).

simple-websocket already works on the original socket when it cannot be duplicated (a TLS
socket); this middleware hands it the server's socket in a wrapper that refuses ``dup()``, so
that it always does. Measured here with 2,000 agents: 2,009 open files instead of 4,009, the same
CPU per heartbeat, and no error when connections close from either side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneFilePerWebSocket:
    """WSGI middleware for the gevent server (``controller.serve``): a WebSocket upgrade's
    ``wsgi.input`` leads simple-websocket to the server's own socket, undivided."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            server_input: Any = environ.get("wsgi.input")
            # Where simple-websocket looks for gevent's socket: wsgi.input[.rfile].raw._sock.
            reader = server_input
            if not hasattr(reader, "raw") and hasattr(reader, "rfile"):
                reader = reader.rfile
            sock = getattr(getattr(reader, "raw", None), "_sock", None)
            if sock is not None:
                environ["wsgi.input"] = _InputOf(server_input, _SocketNotDuplicated(sock))
        return self._app(environ, start_response)


class _SocketNotDuplicated:
    """The server's socket, refusing only to be duplicated."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.recv, self.send = sock.recv, sock.send  # every frame: no detour through __getattr__

    def dup(self) -> Any:
        raise NotImplementedError("one open file per WebSocket: use this socket itself")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _RawOf:
    def __init__(self, sock: _SocketNotDuplicated) -> None:
        self._sock = sock


class _InputOf:
    """The server's ``wsgi.input`` (a GET upgrade has no body), whose ``raw`` is the wrapper."""

    def __init__(self, server_input: Any, sock: _SocketNotDuplicated) -> None:
        self._server_input = server_input
        self.raw = _RawOf(sock)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server_input, name)
