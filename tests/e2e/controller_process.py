"""A real controller process on loopback, driven the way an administrator would drive it."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.polling import wait_for
from tests.postgres import free_port

BORNE = str(Path(sys.executable).parent / "borne")
DEMO_PLACES = Path(__file__).resolve().parents[2] / "controller" / "data" / "demo-places.csv"
INVENTORY = {
    "hostname": "pc-test",
    "os_name": "Debian GNU/Linux",
    "os_version": "12",
    "kernel": "6.1.0",
    "cpu_model": "test cpu",
    "cpu_count": 2,
    "ram_bytes": 4 << 30,
}


def wait_until(
    condition: Any, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"
) -> Any:
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout`` seconds."""
    return wait_for(condition, timeout, message, interval)


class ControllerProcess:
    """``borne controller run`` on a free port with its own data directory (SQLite by default)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str = "",
        redis_url: str = "",
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "BORNE_DATA_DIR": str(data_dir), **(extra_env or {})}
        if database_url:
            self.env["BORNE_DATABASE_URL"] = database_url
        if redis_url:
            self.env["BORNE_REDIS_URL"] = redis_url
        self.log_path = data_dir / f"controller-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> ControllerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [BORNE, "controller", "run", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._healthy, timeout=30, message=f"controller on {self.url}")
        return self

    def _healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"controller exited: {self.log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no chance to flush or say goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # --- administration ----------------------------------------------------------------------
    def cli(self, *args: str, input: str | None = None) -> str:
        """Run ``borne controller ARGS`` against this controller's database; its stdout."""
        result = subprocess.run(
            [BORNE, "controller", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise AssertionError(f"borne controller {' '.join(args)}: {result.stderr}")
        return result.stdout

    def migrate(self) -> None:
        self.cli("db", "upgrade")

    def add_user(self, username: str, password: str, role: str = "admin", *scope: str) -> None:
        self.cli(
            "user",
            "add",
            username,
            "--role",
            role,
            *scope,
            "--password-stdin",
            input=password + "\n",
        )

    def token(self, site: str, kind: str | None = None) -> str:
        args = ["token", "create", "--site", site] + (["--kind", kind] if kind else [])
        return self.cli(*args).strip()

    # --- a device, over the API ------------------------------------------------------------
    def request(
        self, method: str, path: str, body: Any = None, auth: tuple[str, str] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def enrol_device(
        self, site: str, kind: str = "pc", hostname: str = "pc-test"
    ) -> tuple[str, str]:
        status, body = self.request(
            "POST",
            "/api/v1/enrol",
            {
                "token": self.token(site, kind),
                "kind": kind,
                "inventory": {**INVENTORY, "hostname": hostname},
            },
        )
        assert status == 201, body
        return body["device_id"], body["device_secret"]

    def send_heartbeat(self, device_id: str, secret: str, seq: int) -> dict[str, Any]:
        status, body = self.request(
            "POST", "/api/v1/agent/events", {"events": [heartbeat(seq)]}, auth=(device_id, secret)
        )
        assert status == 200, body
        return body


def heartbeat(seq: int, interval_s: int = 10) -> dict[str, Any]:
    return {
        "type": "heartbeat",
        "seq": seq,
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "interval_s": interval_s,
        "metrics": {
            "cpu_percent": 12.5,
            "memory_total_bytes": 4 << 30,
            "memory_used_bytes": 1 << 30,
            "memory_percent": 25.0,
            "uptime_s": 3600,
        },
    }


class StaffClient:
    """A member of staff signed in through the login form, calling the JSON API."""

    def __init__(self, base_url: str) -> None:
        import http.cookiejar

        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        # Tests read the pages' messages as the code writes them (English); French has its own.
        self.opener.addheaders = [("Accept-Language", "en")]

    def login(self, username: str, password: str) -> StaffClient:
        import re
        import urllib.parse

        with self.opener.open(f"{self.base_url}/login", timeout=30) as response:
            page = response.read().decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": csrf}
        ).encode()
        with self.opener.open(f"{self.base_url}/login", data=form, timeout=30) as response:
            assert "/login" not in response.geturl(), "sign-in failed"
        return self

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


@contextlib.contextmanager
def agent_process(
    controller: ControllerProcess,
    site: str,
    kind: str,
    state_dir: Path,
    settings: dict[str, str],
    wrapper: tuple[str, ...] = (),
) -> Iterator[str]:
    """A real agent, enrolled with a fresh token then run as ``borne agent run`` with
    ``settings`` (``BORNE_AGENT_*`` variables) until the block ends; yields its device id.
    ``wrapper``: a command that ends by exec'ing its arguments (a namespace to run it in).

    Its log is ``state_dir/agent.log``.
    """
    env = {**os.environ, **settings}
    subprocess.run(
        [BORNE, "agent", "enrol", "--controller", controller.url, "--kind", kind,
         "--token", controller.token(site, kind), "--state-dir", str(state_dir)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    device_id = json.loads((state_dir / "credentials.json").read_text())["device_id"]
    with (state_dir / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            [*wrapper, BORNE, "agent", "run", "--state-dir", str(state_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield device_id
        finally:
            agent.terminate()
            agent.wait(timeout=15)
