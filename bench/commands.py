"""Reset commands under a 5,000-device fleet: latency from a mediator's click to the agent
starting it, on one controller process.

A real ``borne controller run`` holds N simulated agents (heartbeating every 10 s, as the real
ones do); a signed-in admin sends ``--commands`` reset commands through the JSON API, spread at
``--rate`` per second, one device each. Each simulated agent claims the command it receives
and reports a result, like the real agent. We print p50/p95/max of request -> claim granted
(the moment the agent starts), and the controller's RSS.

Target (DESIGN.md): p95 < 300 ms under a 5,000-device simulated fleet.

Usage: python bench/commands.py [--agents 5000] [--commands 1000] [--rate 10]
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleet_simulator import SimulatedAgent, connect_all, make_devices, percentile
from bench.heartbeats import raise_file_limit
from tests.e2e.controller_process import ControllerProcess, StaffClient

PASSWORD = "bench admin password"


async def heartbeat_forever(agent: SimulatedAgent, stop: asyncio.Event) -> None:
    await asyncio.sleep(random.uniform(0, 10))
    while not stop.is_set():
        await agent.send_heartbeat()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=10)


async def run_commands(agent: SimulatedAgent, started: dict[str, float]) -> None:
    """Claim each command received, note when it starts, report its result."""
    while True:
        _, (event, message), _ = await agent.commands.get()
        if event != "command":
            continue
        answer = await agent.call("claim", {"command_id": message["id"]})
        if answer.get("ok"):
            started[agent.device_id] = time.perf_counter()
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
                            "output": "reset",
                            "duration_ms": 900,
                        }
                    ]
                },
            )


async def bench(size: int, count: int, rate: float) -> None:
    with tempfile.TemporaryDirectory(prefix="borne-bench-") as tmp:
        controller = ControllerProcess(Path(tmp) / "controller")
        controller.data_dir.mkdir(parents=True)
        controller.migrate()
        credentials = make_devices(f"sqlite:///{controller.data_dir / 'borne.sqlite3'}", size)
        controller.add_user("admin", PASSWORD)
        controller.start()
        process = psutil.Process(controller.process.pid)
        try:
            agents = await connect_all(controller.url, credentials)
            stop = asyncio.Event()
            started: dict[str, float] = {}
            workers = [asyncio.create_task(heartbeat_forever(a, stop)) for a in agents]
            workers += [asyncio.create_task(run_commands(a, started)) for a in agents]
            print(
                f"{size} agents connected and heartbeating; controller RSS "
                f"{process.memory_info().rss / 2**20:.0f} MiB"
            )

            staff = StaffClient(controller.url).login("admin", PASSWORD)
            me = psutil.Process()
            cpu_before = (
                sum(process.cpu_times()[:2]),
                sum(me.cpu_times()[:2]),
                time.perf_counter(),
            )
            targets = random.sample(agents, count)
            requested: dict[str, float] = {}
            errors = 0
            loop = asyncio.get_running_loop()
            with ThreadPoolExecutor(max_workers=16) as pool:
                pending = []
                begin = time.perf_counter()
                for n, agent in enumerate(targets):
                    await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
                    requested[agent.device_id] = time.perf_counter()
                    pending.append(
                        loop.run_in_executor(
                            pool,
                            staff.api,
                            "POST",
                            "/api/v1/commands",
                            {"name": "reset_session", "device_ids": [agent.device_id]},
                        )
                    )
                answers = await asyncio.gather(*pending)
            errors = sum(1 for status, _ in answers if status != 201)
            deadline = time.perf_counter() + 30
            while len(started) < count - errors and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            latencies = sorted(started[d] - requested[d] for d in requested if d in started)
            spent = time.perf_counter() - cpu_before[2]
            controller_cpu = (sum(process.cpu_times()[:2]) - cpu_before[0]) / spent * 100
            simulator_cpu = (sum(me.cpu_times()[:2]) - cpu_before[1]) / spent * 100
            print(
                f"  {count} reset commands at {rate:.0f}/s: started {len(latencies)}, "
                f"API errors {errors}"
            )
            print(
                f"  request -> agent starts: p50 {percentile(latencies, 0.5) * 1000:.1f} ms  "
                f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms  "
                f"max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms"
            )
            print(
                f"  controller RSS {process.memory_info().rss / 2**20:.0f} MiB, CPU "
                f"{controller_cpu:.0f} % of a core; the simulator itself {simulator_cpu:.0f} %"
            )
            stop.set()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)
        finally:
            controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="commands per second")
    args = parser.parse_args()
    raise_file_limit()
    print("reset commands, one controller process (gevent), SQLite; target p95 < 300 ms")
    asyncio.run(bench(args.agents, args.commands, args.rate))


if __name__ == "__main__":
    main()
