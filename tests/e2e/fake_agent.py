"""An agent made of a real python-socketio client, scripted by the test: it receives commands,
claims them and reports results exactly as the protocol says, and records what it saw."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from typing import Any

import socketio


class ScriptedAgent:
    def __init__(
        self,
        url: str,
        device_id: str,
        secret: str,
        *,
        claim: bool = True,
        output: str | None = None,
        last_seq: int = 0,
    ) -> None:
        """``output`` is what every command reports (by default "<name>: done"); ``last_seq``
        the device's last event number (events share the counter with its heartbeats)."""
        self.url, self.device_id, self.secret = url, device_id, secret
        self.claim = claim
        self.output = output
        self.received: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []
        self.ran: list[str] = []
        self.reported: list[str] = []  # results the controller acknowledged storing
        self.errors: list[str] = []
        # Delivery is at least once (a push at creation and another on connecting may cross),
        # and the controller grants the same device's claim again; like the real agent's
        # spool, this remembers what it ran so that a second delivery never runs twice.
        self._executed: set[str] = set()
        self._executed_lock = threading.Lock()
        self._seq = itertools.count(last_seq + 1)
        self.client = socketio.Client(reconnection=False)
        self.client.on("command", self._on_command, namespace="/agent")

    def connect(self) -> ScriptedAgent:
        self.client.connect(
            self.url,
            namespaces=["/agent"],
            transports=["websocket"],
            wait_timeout=10,
            auth={"device_id": self.device_id, "secret": self.secret, "protocol": 1},
        )
        return self

    def close(self) -> None:
        """Disconnect once every claimed command has been reported (or a few seconds)."""
        deadline = time.monotonic() + 5
        while len(self.reported) < len(self.ran) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()

    def _on_command(self, message: dict[str, Any]) -> None:
        self.received.append(message)
        if self.claim:
            threading.Thread(target=self._run, args=(message,), daemon=True).start()

    def _run(self, message: dict[str, Any]) -> None:
        try:
            self._claim_and_report(message)
        except (socketio.exceptions.SocketIOError, OSError) as exc:  # closed by the test
            self.errors.append(repr(exc))

    def _claim_and_report(self, message: dict[str, Any]) -> None:
        answer = self.client.call(
            "claim", {"command_id": message["id"]}, namespace="/agent", timeout=10
        )
        self.claims.append(answer)
        if not answer.get("ok"):
            return
        with self._executed_lock:
            if message["id"] in self._executed:
                return
            self._executed.add(message["id"])
        self.ran.append(message["id"])
        result = {
            "type": "command_result",
            "seq": next(self._seq),
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "command_id": message["id"],
            "ok": True,
            "output": self.output if self.output is not None else f"{message['name']}: done",
            "duration_ms": 42,
        }
        ack = self.client.call("events", {"events": [result]}, namespace="/agent", timeout=10)
        if ack.get("stored") == 1:
            self.reported.append(message["id"])
