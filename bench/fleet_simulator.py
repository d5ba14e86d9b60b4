"""A fleet of simulated agents speaking Socket.IO over WebSocket, thousands per process.

python-socketio's client costs threads per connection; this speaks the few Engine.IO v4 and
Socket.IO v5 frames an agent needs directly over ``websockets`` in one asyncio loop, so one process
can hold 5,000 agents.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import websockets

NAMESPACE = "/agent"


def heartbeat(seq: int) -> dict[str, Any]:
    return {
        "type": "heartbeat",
        "seq": seq,
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "interval_s": 10,
        "metrics": {
            "cpu_percent": 7.5,
            "memory_total_bytes": 4 << 30,
            "memory_used_bytes": 1 << 30,
            "memory_percent": 25.0,
            "uptime_s": 86400,
            "load": [0.1, 0.2, 0.3],
            "net_bytes_sent": 1 << 20,
            "net_bytes_recv": 8 << 20,
            "users": ["borne-guest"],
        },
        "state": {"role": "pc"},
    }


@dataclass
class SimulatedAgent:
    device_id: str
    secret: str
    ws: Any = None
    seq: int = 0
    next_ack: int = 0
    waiting: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    commands: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None

    async def connect(self, base_url: str, source: str | None = None) -> None:
        """Connect to ``base_url``, from the loopback address ``source`` if given (behind nginx,
        whose sticky sessions hash the client's address, agents come from many addresses)."""
        url = base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        # No permessage-deflate: the agent's websocket-client does not compress either.
        self.ws = await websockets.connect(
            url,
            max_size=None,
            ping_interval=None,
            open_timeout=60,
            compression=None,
            **({"local_addr": (source, 0)} if source else {}),
        )
        opening = await self.ws.recv()
        if not opening.startswith("0"):
            raise RuntimeError(f"unexpected Engine.IO opening {opening[:80]!r}")
        auth = {"device_id": self.device_id, "secret": self.secret, "protocol": 1}
        await self.ws.send(f"40{NAMESPACE},{json.dumps(auth)}")
        while True:
            frame = await self.ws.recv()
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith(f"40{NAMESPACE},"):
                break
            elif frame.startswith(f"44{NAMESPACE},"):
                raise RuntimeError(f"refused: {frame}")
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        prefix_ack, prefix_event = f"43{NAMESPACE},", f"42{NAMESPACE},"
        try:
            async for frame in self.ws:
                if frame == "2":
                    await self.ws.send("3")
                elif frame.startswith(prefix_ack):
                    body = frame[len(prefix_ack) :]
                    bracket = body.index("[")
                    future = self.waiting.pop(int(body[:bracket]), None)
                    if future is not None and not future.done():
                        future.set_result(json.loads(body[bracket:])[0])
                elif frame.startswith(prefix_event):
                    body = frame[len(prefix_event) :]
                    bracket = body.index("[")
                    ack_id = body[:bracket]
                    await self.commands.put(
                        (time.perf_counter(), json.loads(body[bracket:]), ack_id)
                    )
        except websockets.ConnectionClosed:
            pass

    async def call(self, event: str, data: Any) -> Any:
        ack_id = self.next_ack
        self.next_ack += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[ack_id] = future
        await self.ws.send(f"42{NAMESPACE},{ack_id}{json.dumps([event, data])}")
        return await future

    async def send_heartbeat(self) -> dict[str, Any]:
        self.seq += 1
        result: dict[str, Any] = await self.call("events", {"events": [heartbeat(self.seq)]})
        return result

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()


def make_devices(database_url: str, count: int) -> list[tuple[str, str]]:
    """Insert ``count`` enrolled PCs straight into the database; their (id, secret)."""
    from controller.db import Database
    from controller.fleet.models import Device
    from controller.places.models import Organisation, Site

    database = Database(database_url)
    credentials = [(str(uuid.uuid4()), secrets.token_urlsafe(16)) for _ in range(count)]
    with database.session() as session:
        organisation = Organisation(name="Bench organisation")
        sites = [
            Site(organisation=organisation, slug=f"bench-{n}", name=f"Bench site {n}")
            for n in range(max(1, count // 10))
        ]
        session.add_all(sites)
        session.flush()
        session.add_all(
            Device(
                id=device_id,
                site_id=sites[n % len(sites)].id,
                kind="pc",
                name=f"pc-{n}",
                secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
            )
            for n, (device_id, secret) in enumerate(credentials)
        )
    database.dispose()
    return credentials


async def connect_all(
    base_url: str,
    credentials: list[tuple[str, str]],
    concurrency: int = 200,
    sources: list[str] | None = None,
) -> list[SimulatedAgent]:
    """Connect an agent per (id, secret), each from one of ``sources`` in turn if given."""
    agents = [SimulatedAgent(device_id, secret) for device_id, secret in credentials]
    gate = asyncio.Semaphore(concurrency)

    async def connect(n: int, agent: SimulatedAgent) -> None:
        async with gate:
            await agent.connect(base_url, sources[n % len(sources)] if sources else None)

    await asyncio.gather(*(connect(n, agent) for n, agent in enumerate(agents)))
    return agents


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]
