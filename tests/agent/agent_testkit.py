"""Helpers of the agent's tests: builders of valid protocol objects, fake controllers' state.

(Named so it cannot collide with another test folder's module on ``sys.path``.)
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.credentials import Credentials
from agent.protocol import DeviceKind, Heartbeat, Inventory, InventoryReport, Metrics
from agent.spool import Spool
from tests.polling import wait_for  # noqa: F401 - the agent tests import it from here

DEVICE_ID = "dev-0001"
SECRET = "s3cret-for-tests"


def make_credentials(controller_url: str, **overrides: Any) -> Credentials:
    values: dict[str, Any] = {
        "device_id": DEVICE_ID,
        "device_secret": SECRET,
        "site_id": 7,
        "kind": DeviceKind.PC,
        "controller_url": controller_url,
        "heartbeat_interval_s": 10,
    }
    values.update(overrides)
    return Credentials(**values)


@dataclass
class Received:
    """What a test controller saw, and how it should answer."""

    auths: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    basic_auth: list[str] = field(default_factory=list)
    reject_seqs: set[int] = field(default_factory=set)  # answer invalid_event if a batch has one
    reject_code: str = "invalid_event"
    secret: str = SECRET
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Commands: the ids claimed, in order; per-id refusals; a controller that grants every claim
    # (as if it had lost its records) to prove the agent's own at-most-once; the HTTP poll's list.
    claims: list[str] = field(default_factory=list)
    refusals: dict[str, dict[str, Any]] = field(default_factory=dict)
    grant_every_claim: bool = False
    pending_commands: list[dict[str, Any]] = field(default_factory=list)
    # Like a controller that already stored this device's events up to this seq: lower ones
    # are taken for replays, and the acknowledgement says how far it knows (0: nothing known).
    known_through: int = 0

    @property
    def seqs(self) -> list[int]:
        with self.lock:
            return [e["seq"] for b in self.batches for e in b["events"]]

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for b in self.batches for e in b["events"]]

    def results(self) -> dict[str, dict[str, Any]]:
        """The command results received, by command id."""
        return {e["command_id"]: e for e in self.events if e["type"] == "command_result"}

    def claim(self, command_id: str) -> dict[str, Any]:
        """Like the controller: one grant per id, unless told to refuse or to grant every time."""
        with self.lock:
            first = command_id not in self.claims
            self.claims.append(command_id)
            if command_id in self.refusals:
                return {"ok": False, **self.refusals[command_id]}
            if first or self.grant_every_claim:
                return {"ok": True}
            return {"ok": False, "reason": "claimed", "message": "claimed before"}

    def answer(self, batch: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            seqs = [e["seq"] for e in batch["events"]]
            if self.reject_seqs & set(seqs):
                return {"error": self.reject_code, "message": "bad event in batch"}
            new = [e for e in batch["events"] if e["seq"] > self.known_through]
            if new:
                self.batches.append({**batch, "events": new})
            self.known_through = max([*seqs, self.known_through]) if self.known_through else 0
            acked = max([*seqs, self.known_through])
            return {"acked_seq": acked, "stored": len(new), "duplicates": len(seqs) - len(new)}


@dataclass
class SocketIOController:
    url: str
    received: Received
    server: Any

    def drop_all(self) -> None:
        for sid in list(self.server.manager.get_participants("/agent", None)):
            self.server.disconnect(sid[0], namespace="/agent")

    def connected(self) -> int:
        return len(list(self.server.manager.get_participants("/agent", None)))

    def push(self, command: dict[str, Any]) -> None:
        """Emit ``"command"`` to every connected agent, as the controller does."""
        self.server.emit("command", command, namespace="/agent")


@dataclass
class HttpController:
    url: str
    received: Received
    enrol_answer: tuple[int, dict[str, Any]] = (
        201,
        {
            "device_id": DEVICE_ID,
            "device_secret": SECRET,
            "site_id": 7,
            "kind": "kiosk",
            "heartbeat_interval_s": 15,
        },
    )
    enrol_requests: list[dict[str, Any]] = field(default_factory=list)


AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def make_metrics(**overrides: Any) -> Metrics:
    values: dict[str, Any] = {
        "cpu_percent": 3.5,
        "memory_total_bytes": 8 * 2**30,
        "memory_used_bytes": 2 * 2**30,
        "memory_percent": 25.0,
        "uptime_s": 3600,
    }
    values.update(overrides)
    return Metrics(**values)


def make_inventory(**overrides: Any) -> Inventory:
    values: dict[str, Any] = {
        "hostname": "pc-bib-01",
        "os_name": "Debian GNU/Linux",
        "os_version": "12 (bookworm)",
        "kernel": "6.1.0-18-amd64",
        "cpu_model": "Intel(R) Core(TM) i3-6100 CPU @ 3.70GHz",
        "cpu_count": 4,
        "ram_bytes": 8 * 2**30,
    }
    values.update(overrides)
    return Inventory(**values)


def spool_heartbeats(spool: Spool, count: int) -> list[int]:
    """Append ``count`` heartbeats; return their seqs."""
    return [
        spool.append(
            lambda seq: Heartbeat(seq=seq, at=AT, interval_s=10, metrics=make_metrics())
        ).seq
        for _ in range(count)
    ]


def spool_inventory(spool: Spool) -> int:
    return spool.append(lambda seq: InventoryReport(seq=seq, at=AT, inventory=make_inventory())).seq


def make_command(name: str = "lock_screen", **overrides: Any) -> dict[str, Any]:
    """A CommandMessage as the controller sends it (JSON-ready); expires in five minutes."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": name,
        "args": {},
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(minutes=5)).isoformat(),
    }
    values.update(overrides)
    return values
