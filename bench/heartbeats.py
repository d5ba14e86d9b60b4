"""Heartbeat ingest on one controller process: throughput and latency for 1,000, 5,000 and 10,000
agents.

For each fleet size it starts a real ``borne controller run`` (gevent, one process), connects N
simulated agents over Socket.IO, then measures two things:

* offered load: the fleet sends ``--rate`` heartbeats per second in total (spread evenly), and we
  print the rate achieved and the latency from send to the durable acknowledgement;
* saturation: every agent sends its next heartbeat as soon as the last one is acknowledged, to
  find the most this process sustains.

Target (DESIGN.md): >= 2,000 heartbeats/s with p99 < 100 ms. Reference, printed beside it: the
same fleet against the same server with one transaction per heartbeat is what the design avoids
(about 1,600/s on PostgreSQL here); ``--database-url`` runs it on PostgreSQL instead of SQLite.

Each connected agent costs the controller one open file and the simulator one (controller/
serve.py): past the limit, the controller answers the next agent's WebSocket with HTTP 500. The
bench raises the limit as the controller role's systemd unit does (LimitNOFILE=65536) when it
may, its soft limit to the hard one otherwise, and says so when that is too few.

Usage: python bench/heartbeats.py [--agents 1000 5000 10000] [--seconds 15] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleet_simulator import connect_all, make_devices, percentile
from tests.e2e.controller_process import ControllerProcess
from tests.postgres import create_database, postgres_server

FILES = 65536  # the controller role's LimitNOFILE


def raise_file_limit() -> int:
    """The open-files limit this bench and the controllers it starts get: FILES as root (who
    may raise the hard limit), the hard limit otherwise."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(FILES, hard), max(FILES, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def offered_load(agents, rate: float, seconds: float) -> tuple[int, list[float], int]:
    """Each agent sends every len(agents)/rate seconds, phases spread at random.

    Its first heartbeat goes at its phase, within the first period: with 10,000 agents at
    2,000/s each sends every 5 s, and a phase skipped first would leave a 15 s run a third short.
    """
    period = len(agents) / rate
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def run(agent) -> None:
        nonlocal errors
        next_at = time.perf_counter() + random.uniform(0, period)
        while next_at < deadline:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            started = time.perf_counter()
            ack = await agent.send_heartbeat()
            latencies.append(time.perf_counter() - started)
            if "acked_seq" not in ack:
                errors += 1
            next_at += period

    await asyncio.gather(*(run(agent) for agent in agents))
    return len(latencies), latencies, errors


async def saturation(agents, seconds: float) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def run(agent) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            ack = await agent.send_heartbeat()
            latencies.append(time.perf_counter() - started)
            if "acked_seq" not in ack:
                errors += 1

    await asyncio.gather(*(run(agent) for agent in agents))
    return len(latencies), latencies, errors


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def report(
    label: str,
    count: int,
    latencies: list[float],
    errors: int,
    seconds: float,
    cpu_s: float,
    simulator_cpu_s: float,
) -> None:
    """One phase's line. The simulator's CPU is beside the controller's: near 100 %, the
    simulator (one asyncio process) is what limits the figures, not the controller."""
    ordered = sorted(latencies)
    print(
        f"  {label:<18} {count / seconds:7.0f} heartbeats/s  "
        f"p50 {percentile(ordered, 0.50) * 1000:6.1f} ms  "
        f"p99 {percentile(ordered, 0.99) * 1000:6.1f} ms  "
        f"max {(ordered[-1] if ordered else 0) * 1000:6.1f} ms  errors {errors}  "
        f"controller CPU {cpu_s / seconds * 100:3.0f} % = "
        f"{cpu_s / max(count, 1) * 1e6:4.0f} us/heartbeat  "
        f"simulator CPU {simulator_cpu_s / seconds * 100:3.0f} %"
    )


async def bench_fleet(size: int, rate: float, seconds: float, database_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="borne-bench-") as tmp:
        controller = ControllerProcess(Path(tmp) / "controller", database_url=database_url)
        controller.data_dir.mkdir(parents=True)
        controller.migrate()
        url = database_url or f"sqlite:///{controller.data_dir / 'borne.sqlite3'}"
        credentials = make_devices(url, size)
        controller.start()
        process = psutil.Process(controller.process.pid)
        try:
            rss_idle = process.memory_info().rss
            started = time.perf_counter()
            try:
                agents = await connect_all(controller.url, credentials)
            except Exception as exc:
                log = controller.log_path.read_text(errors="replace")
                message = f"{size} agents could not all connect: {exc}\n{log[-3000:]}"
                raise SystemExit(message) from exc
            connect_s = time.perf_counter() - started
            rss_connected = process.memory_info().rss
            print(
                f"\n{size} agents connected in {connect_s:.1f} s; controller RSS "
                f"{rss_idle / 2**20:.0f} MiB idle, {rss_connected / 2**20:.0f} MiB connected"
            )
            simulator = psutil.Process()
            cpu, own = cpu_seconds(process), cpu_seconds(simulator)
            count, latencies, errors = await offered_load(agents, rate, seconds)
            report(
                f"offered {rate:.0f}/s",
                count,
                latencies,
                errors,
                seconds,
                cpu_seconds(process) - cpu,
                cpu_seconds(simulator) - own,
            )
            cpu, own = cpu_seconds(process), cpu_seconds(simulator)
            count, latencies, errors = await saturation(agents, seconds)
            report(
                "saturation",
                count,
                latencies,
                errors,
                seconds,
                cpu_seconds(process) - cpu,
                cpu_seconds(simulator) - own,
            )
            print(f"  controller RSS after load {process.memory_info().rss / 2**20:.0f} MiB")
            await asyncio.gather(*(agent.close() for agent in agents))
        finally:
            controller.stop()


def writer_side_by_side(database_url: str, count: int = 3000, group: int = 200) -> None:
    """The design's reference, in the same run: one transaction per heartbeat against group
    commit, the writer alone on the same database (no sockets, no simulator)."""
    import msgspec

    from agent.protocol import EventBatch
    from bench.fleet_simulator import heartbeat
    from controller import migrate
    from controller.db import Database
    from controller.fleet.ingest import HeartbeatHistory, _Pending, write_events

    migrate.upgrade(database_url)
    devices = make_devices(database_url, count)
    database = Database(database_url)
    history = HeartbeatHistory(60)

    def pendings(seq: int) -> list[_Pending]:
        return [
            _Pending(device_id, msgspec.convert({"events": [heartbeat(seq)]}, EventBatch).events)
            for device_id, _ in devices
        ]

    one_by_one = pendings(1)
    started = time.perf_counter()
    for pending in one_by_one:
        with database.session() as session:
            write_events(session, [pending], history)
    single = count / (time.perf_counter() - started)
    grouped = pendings(2)
    started = time.perf_counter()
    for n in range(0, count, group):
        with database.session() as session:
            write_events(session, grouped[n : n + group], history)
    batched = count / (time.perf_counter() - started)
    database.dispose()
    print(
        f"  writer alone: one transaction per heartbeat {single:7.0f}/s;  "
        f"group commit of {group} {batched:7.0f}/s  (x{batched / single:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--rate", type=float, default=2000.0, help="offered heartbeats/s in all")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument(
        "--postgres", action="store_true", help="start a private PostgreSQL server and use it"
    )
    args = parser.parse_args()
    files = raise_file_limit()
    if files < max(args.agents) + 1000:
        print(
            f"warning: {files} open files allow about {files - 1000} agents; "
            "raise the hard limit (ulimit -Hn) for more"
        )
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(postgres_server(durable=True)) if args.postgres else ""
        backend = "PostgreSQL" if base or args.database_url else "SQLite (WAL, synchronous=NORMAL)"
        print(
            f"heartbeat ingest, one controller process (gevent), {backend}, "
            f"{psutil.cpu_count()} cores shared with the simulator, {files} open files"
        )
        print("target: >= 2,000 heartbeats/s, p99 < 100 ms (DESIGN.md)")
        with tempfile.TemporaryDirectory(prefix="borne-writer-") as tmp:
            writer_url = (
                create_database(base, "writer")
                if base
                else args.database_url or f"sqlite:///{Path(tmp) / 'writer.sqlite3'}"
            )
            writer_side_by_side(writer_url)
        for n, size in enumerate(args.agents):
            url = create_database(base, f"bench{n}") if base else args.database_url
            asyncio.run(bench_fleet(size, args.rate, args.seconds, url))


if __name__ == "__main__":
    main()
