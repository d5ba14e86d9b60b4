"""A real captive portal (``borne portal run --memory``) in a subprocess, HTTP and HTTPS on
127.0.0.1, with a throwaway self-signed certificate."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.certificates import self_signed_certificate

HOSTNAME = "portail.wifi.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for the portal's name and 127.0.0.1."""
    return self_signed_certificate(directory, HOSTNAME, "127.0.0.1", stem="portal")


@dataclass
class LivePortal:
    """``borne portal run --memory`` in a subprocess, HTTP and HTTPS on 127.0.0.1."""

    directory: Path
    extra_settings: str = ""  # more TOML lines for [portal]
    process: subprocess.Popen[str] | None = None
    http_port: int = 0
    https_port: int = 0
    cert: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def start(self) -> None:
        self.cert, key = make_certificate(self.directory)
        self.http_port, self.https_port = free_port(), free_port()
        config = self.directory / "portal.toml"
        config.write_text(
            "[portal]\n"
            'listen_address = "127.0.0.1"\n'
            f'hostname = "{HOSTNAME}"\n'
            f"http_port = {self.http_port}\n"
            f"https_port = {self.https_port}\n"
            f'tls_cert = "{self.cert}"\n'
            f'tls_key = "{key}"\n'
            f'state_dir = "{self.directory / "state"}"\n'
            f'runtime_dir = "{self.directory / "run"}"\n' + self.extra_settings
        )
        borne = Path(sys.executable).with_name("borne")
        self.process = subprocess.Popen(
            [str(borne), "portal", "run", "--config", str(config), "--memory"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._wait_until_serving()

    def _wait_until_serving(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the portal exited: {self.process.stdout.read()}")
            with contextlib.suppress(OSError):
                self.captive_status()
                return
            time.sleep(0.1)
        raise AssertionError("the portal did not answer within 20 s")

    def captive_status(self, *, https: bool = False) -> tuple[str, dict[str, object]]:
        """The RFC 8908 answer for this machine (a client at 127.0.0.1)."""
        if https:
            context = ssl.create_default_context(cafile=str(self.cert))
            url, opener = f"{self.https_url}/api/captive", context
        else:
            url, opener = f"{self.url}/api/captive", None
        with urllib.request.urlopen(url, timeout=5, context=opener) as answer:
            return answer.headers["Content-Type"], json.loads(answer.read())

    def stop(self) -> str:
        """Stop the portal (SIGTERM) and return everything it printed."""
        assert self.process is not None
        self.process.terminate()
        output, _ = self.process.communicate(timeout=15)
        return output


@contextlib.contextmanager
def running_portal(directory: Path, extra_settings: str = "") -> Iterator[LivePortal]:
    directory.mkdir(parents=True, exist_ok=True)
    portal = LivePortal(directory, extra_settings)
    portal.start()
    try:
        yield portal
    finally:
        if portal.process is not None and portal.process.poll() is None:
            portal.stop()
