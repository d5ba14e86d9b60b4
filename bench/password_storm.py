"""A storm of wrong passwords against one controller process: do /healthz and heartbeats slow?

Starts a real ``borne controller run`` (gevent), then measures, idle and while four clients post
wrong passwords to the sign-in form as fast as they can, the latency of ``GET /healthz`` and of
a heartbeat's durable acknowledgement (``POST /api/v1/agent/events``). Printed side by side with
the ratio.

Two storms: with the sign-in limits (the default: after 20 failures from one address, attempts
get 429 without a password check) and with them lifted, so that every attempt costs an argon2
check: the reference the design sets is "/healthz and heartbeat latency unchanged" (DESIGN.md).
Password checks run on the gevent hub's native threads (controller/offload.py); before that,
four such clients raised /healthz from about 4 ms to about half a second.

Usage: python bench/password_storm.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleet_simulator import percentile
from tests.e2e.controller_process import DEMO_PLACES, ControllerProcess

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def latencies(call, seconds: float) -> list[float]:
    found, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        call()
        found.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    return found


def storm(url: str, stop: threading.Event, answers: list[int]) -> None:
    import http.cookiejar

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{url}/login", timeout=30) as response:
        token = CSRF.search(response.read().decode()).group(1)
    n = 0
    while not stop.is_set():
        n += 1
        form = urllib.parse.urlencode(
            {"username": f"admin{n % 3}", "password": f"guess {n}", "csrf_token": token}
        ).encode()
        try:
            with opener.open(f"{url}/login", data=form, timeout=30) as response:
                answers.append(response.status)
        except urllib.error.HTTPError as error:
            answers.append(error.code)


def measure(controller: ControllerProcess, device: tuple[str, str], seconds: float) -> dict:
    seq = [1000]

    def healthz() -> None:
        with urllib.request.urlopen(f"{controller.url}/healthz", timeout=30) as response:
            response.read()

    def beat() -> None:
        seq[0] += 1
        controller.send_heartbeat(*device, seq[0])

    results: dict[str, list[float]] = {"healthz": [], "heartbeat": []}
    threads = [
        threading.Thread(target=lambda: results["healthz"].extend(latencies(healthz, seconds))),
        threading.Thread(target=lambda: results["heartbeat"].extend(latencies(beat, seconds))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        name: (percentile(sorted(v), 0.50), percentile(sorted(v), 0.99))
        for name, v in results.items()
    }


def run(seconds: float, limit: int) -> tuple[dict, dict, dict[int, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        controller = ControllerProcess(
            Path(tmp),
            extra_env={
                "BORNE_SIGN_IN_FAILURES_PER_ADDRESS": str(limit),
                "BORNE_SIGN_IN_FAILURES_PER_ACCOUNT": str(limit),
            },
        )
        controller.migrate()
        controller.cli("places", "import", str(DEMO_PLACES))
        for n in range(3):
            controller.add_user(f"admin{n}", "correct horse battery staple")
        controller.start()
        try:
            device = controller.enrol_device("grenoble-bib-centre-ville")
            controller.send_heartbeat(*device, 1)
            idle = measure(controller, device, seconds)
            stop, answers = threading.Event(), []
            clients = [
                threading.Thread(target=storm, args=(controller.url, stop, answers))
                for _ in range(4)
            ]
            for client in clients:
                client.start()
            time.sleep(1)
            loaded = measure(controller, device, seconds)
            stop.set()
            for client in clients:
                client.join()
        finally:
            controller.stop()
            errors = [
                line for line in controller.log_path.read_text().splitlines() if "Error" in line
            ]
    if errors:
        print("  controller errors:", *sorted(set(errors))[:5], sep="\n    ")
    statuses: dict[int, int] = {}
    for status in answers:
        statuses[status] = statuses.get(status, 0) + 1
    return idle, loaded, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    print("a storm of wrong passwords, one controller process (gevent), SQLite, 2 cores shared")
    print("target: /healthz and heartbeat latency unchanged; sign-in limited (429) (DESIGN.md)")
    for label, limit in (("limits on", 20), ("limits lifted", 10**9)):
        idle, loaded, statuses = run(args.seconds, limit)
        print(f"\n{label}: sign-in answers during the storm {dict(sorted(statuses.items()))}")
        for name in ("healthz", "heartbeat"):
            (i50, i99), (l50, l99) = idle[name], loaded[name]
            print(
                f"  {name:<9}  idle p50 {i50:6.1f} ms  p99 {i99:6.1f} ms   "
                f"storm p50 {l50:6.1f} ms  p99 {l99:6.1f} ms   ratio p99 x{l99 / i99:.1f}"
            )


if __name__ == "__main__":
    main()
