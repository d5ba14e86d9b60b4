"""A configuration change to a city's fleet in two waves, and a closing-time burst of commands.

N simulated agents (``--agents``, 5,000 by default, ten per site, one organisation) heartbeat
every 10 s, claim each command they receive and report it applied, as the real agent does, first
with one ``borne controller run`` on SQLite (the embedded default), then with a city's deployment:
nginx in front of two processes on PostgreSQL sharing Socket.IO through Redis (agents come from
200 loopback addresses, which nginx's sticky sessions hash). In each:

1. **Rollout in two waves**: an admin changes the organisation's layer (heartbeat every 30 s)
   through the API with ``strategy: waves``: one site first, the other 4,990 devices once that
   site's ten applied it (the controller's rollout job checks every ``rollout_interval_s``,
   printed). We print the time until every device applied it, and p50/p95 per device from the
   request to its result.
2. **A burst of 1,000 commands in the same second** (a city's closing-time shutdown): 100
   site-wide ``lock_screen`` requests of ten devices each, all sent at once from 16 threads.
   We print the time until every device started its command, and p50/p95 per device.

Targets (DESIGN.md): a burst of 1,000 commands "all started within a few seconds, p95 printed";
the rollout has no fixed target: its figures show where the time goes (mostly the wave check's
period).

Usage: python bench/rollout.py [--agents 5000] [--burst-sites 100] [--rollout-interval 5]
                               [--topology one|two|both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleet_simulator import SimulatedAgent, connect_all, make_devices, percentile
from bench.heartbeats import raise_file_limit
from tests.e2e.controller_process import ControllerProcess, StaffClient
from tests.postgres import free_port

PASSWORD = "bench admin password"


async def heartbeat_forever(agent: SimulatedAgent, stop: asyncio.Event) -> None:
    await asyncio.sleep(random.uniform(0, 10))
    while not stop.is_set():
        await agent.send_heartbeat()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=10)


async def run_commands(agent: SimulatedAgent, done: dict[str, dict[str, float]]) -> None:
    """Claim each command received, note when it started, report it applied."""
    while True:
        _, (event, message), _ = await agent.commands.get()
        if event != "command":
            continue
        answer = await agent.call("claim", {"command_id": message["id"]})
        if not answer.get("ok"):
            continue
        done.setdefault(message["name"], {})[agent.device_id] = time.perf_counter()
        agent.seq += 1
        await agent.call(
            "events",
            {
                "events": [
                    {
                        "type": "command_result",
                        "seq": agent.seq,
                        "at": dt.datetime.now(dt.UTC).isoformat(),
                        "command_id": message["id"],
                        "ok": True,
                        "output": "applied",
                        "duration_ms": 5,
                    }
                ]
            },
        )


async def wait_for(done: dict[str, float], count: int, timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while len(done) < count and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)


@dataclass
class Figures:
    reached: int
    expected: int
    all_within_s: float
    p50_s: float
    p95_s: float


def print_latencies(what: str, begin: float, done: dict[str, float], expected: int) -> Figures:
    latencies = sorted(moment - begin for moment in done.values())
    last = latencies[-1] if latencies else float("nan")
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(
        f"  {what}: {len(latencies)} of {expected} devices; all within {last:.2f} s; "
        f"per device p50 {p50:.2f} s, p95 {p95:.2f} s"
    )
    return Figures(len(latencies), expected, last, p50, p95)


@dataclass
class City:
    """Where the agents and the admin connect, and the controller processes behind it."""

    url: str
    processes: list[psutil.Process]
    credentials: list[tuple[str, str]]
    sources: list[str] | None = None  # agents' loopback addresses (nginx hashes them)

    def rss_mib(self) -> float:
        return sum(p.memory_info().rss for p in self.processes) / 2**20


@contextlib.contextmanager
def one_process(tmp: Path, size: int, env: dict[str, str]) -> Iterator[City]:
    """The embedded default: one process, SQLite."""
    controller = ControllerProcess(tmp / "controller", extra_env=env)
    controller.data_dir.mkdir(parents=True)
    controller.migrate()
    credentials = make_devices(f"sqlite:///{controller.data_dir / 'borne.sqlite3'}", size)
    controller.add_user("admin", PASSWORD)
    controller.start()
    try:
        yield City(controller.url, [psutil.Process(controller.process.pid)], credentials)
    finally:
        controller.stop()


NGINX_SITE = """\
map $http_upgrade $connection_upgrade {{
    default upgrade;
    ''      close;
}}
upstream borne {{
    hash $remote_addr consistent;  # sticky: an agent's Socket.IO session stays on one process
{servers}
}}
server {{
    listen 127.0.0.1:{port};
    location / {{
        proxy_pass http://borne;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_read_timeout 1h;
    }}
}}
"""


@contextlib.contextmanager
def two_processes(tmp: Path, size: int, env: dict[str, str]) -> Iterator[City]:
    """A city's deployment: nginx in front of two processes on PostgreSQL, sharing Socket.IO
    through Redis (plain HTTP here: TLS is nginx's work, the same in both cases)."""
    from tests.nginx_server import nginx_server
    from tests.postgres import create_database, postgres_server
    from tests.redis_server import redis_server

    with postgres_server() as base_url, redis_server() as redis_url:
        database_url = create_database(base_url, "borne_bench")
        data_dir = tmp / "controllers"  # one secret key for both: a session works on either
        data_dir.mkdir(parents=True)
        controllers = [
            ControllerProcess(
                data_dir, database_url=database_url, redis_url=redis_url, extra_env=env
            )
            for _ in range(2)
        ]
        controllers[0].migrate()
        credentials = make_devices(database_url, size)
        controllers[0].add_user("admin", PASSWORD)
        for controller in controllers:
            controller.start()
        port = free_port()
        site = tmp / "nginx-site.conf"
        site.write_text(
            NGINX_SITE.format(
                port=port,
                servers="\n".join(f"    server 127.0.0.1:{c.port};" for c in controllers),
            )
        )
        try:
            with nginx_server(site, [port], connections=4 * size + 1024):
                yield City(
                    f"http://127.0.0.1:{port}",
                    [psutil.Process(c.process.pid) for c in controllers],
                    credentials,
                    [f"127.0.0.{n}" for n in range(2, 202)],
                )
        finally:
            for controller in controllers:
                controller.stop()


async def bench(city: City, size: int, burst_sites: int) -> dict[str, Figures]:
    agents = await connect_all(city.url, city.credentials, sources=city.sources)
    stop = asyncio.Event()
    done: dict[str, dict[str, float]] = {}
    workers = [asyncio.create_task(heartbeat_forever(a, stop)) for a in agents]
    workers += [asyncio.create_task(run_commands(a, done)) for a in agents]
    print(f"{size} agents connected and heartbeating; controller RSS {city.rss_mib():.0f} MiB")
    staff = StaffClient(city.url).login("admin", PASSWORD)
    figures = {
        "rollout": await rollout_in_waves(staff, size, done),
        "burst": await burst(staff, burst_sites, done),
    }
    print(f"  controller RSS {city.rss_mib():.0f} MiB")
    stop.set()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)
    return figures


async def rollout_in_waves(
    staff: StaffClient, size: int, done: dict[str, dict[str, float]]
) -> Figures:
    status, organisations = staff.api("GET", "/api/v1/organisations")
    assert status == 200, organisations
    organisation = organisations[0]["id"]
    applied = done.setdefault("update_config", {})
    begin = time.perf_counter()
    status, rollout = staff.api(
        "PUT",
        f"/api/v1/config/organisation/{organisation}",
        {"settings": {"heartbeat_interval_s": 30}, "strategy": "waves"},
    )
    assert status == 201, rollout
    answered = time.perf_counter() - begin
    print(f"rollout of a new setting to {size} devices in two waves (one site, then the rest):")
    print(f"  PUT answered in {answered * 1000:.0f} ms (version saved, first wave sent)")
    await wait_for(applied, size, timeout_s=300)
    figures = print_latencies("applied", begin, applied, size)
    deadline = time.perf_counter() + 30
    while True:  # the results reach the controller's database just after the claims
        status, final = staff.api("GET", f"/api/v1/config/rollouts/{rollout['id']}")
        if final["state"] != "running" or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.5)
    print(f"  rollout state {final['state']}, devices by state {final['counts']}")
    return figures


async def burst(staff: StaffClient, sites: int, done: dict[str, dict[str, float]]) -> Figures:
    status, found = staff.api("GET", "/api/v1/sites")
    assert status == 200, found
    site_ids = [site["id"] for site in found][:sites]
    started = done.setdefault("lock_screen", {})
    loop = asyncio.get_running_loop()
    print(f"a burst of {len(site_ids) * 10} commands in the same second ({len(site_ids)} sites):")
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers: list[tuple[int, Any]] = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    staff.api,
                    "POST",
                    "/api/v1/commands",
                    {"name": "lock_screen", "site_id": site_id},
                )
                for site_id in site_ids
            )
        )
    sent = time.perf_counter() - begin
    errors = sum(1 for status, _ in answers if status != 201)
    expected = sum(len(body) for status, body in answers if status == 201)
    print(f"  {len(site_ids)} requests answered within {sent:.2f} s, {errors} errors")
    await wait_for(started, expected, timeout_s=60)
    return print_latencies("started", begin, started, expected)


TOPOLOGIES = {
    "one": ("one process, SQLite", one_process),
    "two": ("two processes behind nginx, PostgreSQL, Redis", two_processes),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--burst-sites", type=int, default=100)
    parser.add_argument("--rollout-interval", type=float, default=5.0)
    parser.add_argument("--topology", choices=[*TOPOLOGIES, "both"], default="both")
    args = parser.parse_args()
    raise_file_limit()
    env = {"BORNE_ROLLOUT_INTERVAL_S": str(args.rollout_interval)}
    chosen = list(TOPOLOGIES) if args.topology == "both" else [args.topology]
    results: dict[str, dict[str, Figures]] = {}
    for name in chosen:
        words, city_of = TOPOLOGIES[name]
        print(f"\n== {words}; rollout job every {args.rollout_interval:g} s")
        with (
            tempfile.TemporaryDirectory(prefix="borne-bench-") as tmp,
            city_of(Path(tmp), args.agents, env) as city,
        ):
            results[name] = asyncio.run(bench(city, args.agents, args.burst_sites))
    print("\nside by side (seconds; per-device latency from the request):")
    short = {"one": "1 process, SQLite", "two": "2 behind nginx, PostgreSQL"}
    print(f"{'':34}" + "".join(f"{short[n]:>30}" for n in chosen))
    for what, label in (("rollout", "two-wave rollout"), ("burst", "command burst")):
        for field, unit in (("all_within_s", "all done"), ("p50_s", "p50"), ("p95_s", "p95")):
            row = "".join(f"{getattr(results[n][what], field):>30.2f}" for n in chosen)
            print(f"{label + ', ' + unit:34}{row}")
    print("reference (DESIGN.md): a burst of 1,000 commands all started within a few seconds")


if __name__ == "__main__":
    main()
