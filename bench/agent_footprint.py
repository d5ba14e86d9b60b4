"""Footprint of a running agent: RSS and CPU share of one core, beside node_exporter if present.

Starts ``borne agent run`` for an already enrolled state directory, lets it heartbeat against the
controller given, and samples the process with psutil. Target (DESIGN.md): RSS <= 35 MB and
<= 0.5 % of one core at a 10 s heartbeat, next to node_exporter (about 20 MB here).

    python bench/agent_footprint.py --controller http://127.0.0.1:5000 --state-dir /tmp/agent
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil


def sample(process: psutil.Process, seconds: float, every: float = 1.0) -> tuple[float, float]:
    """Peak RSS in MB and CPU time as a percentage of one core over ``seconds``."""
    start_cpu = process.cpu_times()
    start = time.monotonic()
    peak_rss = process.memory_info().rss
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(min(every, seconds - elapsed))
        peak_rss = max(peak_rss, process.memory_info().rss)
    end_cpu = process.cpu_times()
    elapsed = time.monotonic() - start
    used = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    return peak_rss / 2**20, 100 * used / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--controller", help="controller base URL (default: start one here)")
    parser.add_argument(
        "--state-dir", type=Path, help="an enrolled agent's state (with --controller)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="sampling time (default 60)")
    parser.add_argument("--heartbeat", type=int, default=10, help="heartbeat interval s (10)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds before sampling (5)")
    args = parser.parse_args()
    if (args.controller is None) != (args.state_dir is None):
        parser.error("give both --controller and --state-dir, or neither")
    if args.controller is None:
        return measure_with_own_controller(args)
    return measure(args)


def measure_with_own_controller(args: argparse.Namespace) -> int:
    """Start a controller in a temporary directory, enrol an agent, measure it."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.e2e.conftest import DEMO_PLACES
    from tests.e2e.controller_process import BORNE, ControllerProcess

    with tempfile.TemporaryDirectory(prefix="borne-footprint-") as tmp:
        controller = ControllerProcess(Path(tmp) / "controller")
        controller.data_dir.mkdir(parents=True)
        controller.migrate()
        controller.cli("places", "import", str(DEMO_PLACES))
        controller.start()
        try:
            state_dir = Path(tmp) / "agent"
            subprocess.run(
                [
                    BORNE,
                    "agent",
                    "enrol",
                    "--controller",
                    controller.url,
                    "--token",
                    controller.token("grenoble-bib-centre-ville", "pc"),
                    "--state-dir",
                    str(state_dir),
                ],
                check=True,
                capture_output=True,
            )
            args.controller, args.state_dir = controller.url, state_dir
            return measure(args)
        finally:
            controller.stop()


def measure(args: argparse.Namespace) -> int:
    borne = shutil.which("borne") or str(Path(sys.executable).parent / "borne")
    env = dict(os.environ)
    env["BORNE_AGENT_CONTROLLER_URL"] = args.controller
    env["BORNE_AGENT_HEARTBEAT_INTERVAL_S"] = str(args.heartbeat)
    agent = subprocess.Popen(
        [borne, "agent", "run", "--state-dir", str(args.state_dir)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    exporter = None
    # Debian names it prometheus-node-exporter.
    if node_exporter := shutil.which("node_exporter") or shutil.which("prometheus-node-exporter"):
        exporter = subprocess.Popen(
            [node_exporter, "--web.listen-address=127.0.0.1:0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        time.sleep(args.warmup)  # imports and the first connection are not the steady state
        if agent.poll() is not None:
            print(f"agent exited early with status {agent.returncode}", file=sys.stderr)
            return 1
        print(f"sampling for {args.seconds:.0f} s at a {args.heartbeat} s heartbeat")
        # Both at once, so that they see the same machine.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            agent_sample = pool.submit(sample, psutil.Process(agent.pid), args.seconds)
            exporter_sample = (
                pool.submit(sample, psutil.Process(exporter.pid), args.seconds)
                if exporter is not None and exporter.poll() is None
                else None
            )
            rss, cpu = agent_sample.result()
            print(f"borne agent     RSS {rss:6.1f} MB   CPU {cpu:6.3f} % of one core")
            if exporter_sample is not None:
                rss, cpu = exporter_sample.result()
                print(
                    f"node_exporter   RSS {rss:6.1f} MB   CPU {cpu:6.3f} % of one core (unscraped)"
                )
            else:
                print("node_exporter   not found: no side-by-side reference")
        print("target          RSS   35.0 MB   CPU  0.500 % of one core")
    finally:
        for process in (agent, exporter):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
