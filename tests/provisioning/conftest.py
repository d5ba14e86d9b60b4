"""Fixtures for the provisioning tests: a real controller with an admin's API token, the agent's
wheel and wheelhouse built once for the session, and ``borne provision`` run as an admin would.

The hosts are this machine, reached through the real sshd of ``tests/ssh_server.py``; each test
installs below a prefix of its own (``--prefix``), so /opt, /etc and /var/lib stay untouched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from provisioning.wheelhouse import Wheelhouses
from tests.e2e.controller_process import BORNE, DEMO_PLACES, ControllerProcess
from tests.ssh_server import SshServer


@dataclass
class Controller:
    process: ControllerProcess
    api_token: str
    site: str  # a site's slug
    site_id: int

    @property
    def url(self) -> str:
        return self.process.url

    def api(self, method: str, path: str) -> tuple[int, Any]:
        """Call the API as the admin, with the token."""
        import json
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"Bearer {self.api_token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def devices_at_site(self) -> list[dict[str, Any]]:
        status, devices = self.api("GET", f"/api/v1/devices?site_id={self.site_id}")
        assert status == 200, devices
        return list(devices)


@pytest.fixture(scope="session")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Controller]:
    """A running controller with the demo places, an admin and the admin's API token."""
    process = ControllerProcess(tmp_path_factory.mktemp("controller"))
    process.migrate()
    process.cli("places", "import", str(DEMO_PLACES))
    process.add_user("admin", "correct horse battery staple", "admin")
    token = process.cli("api-token", "create", "admin", "--name", "provision tests")
    process.start()
    try:
        controller = Controller(process, token.strip().splitlines()[-1], "", 0)
        status, sites = controller.api("GET", "/api/v1/sites")
        assert status == 200, sites
        controller.site, controller.site_id = sites[0]["slug"], sites[0]["id"]
        yield controller
    finally:
        process.stop()


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The admin's wheelhouse cache, shared by every test: the dependencies download once."""
    return tmp_path_factory.mktemp("wheel-cache")


@pytest.fixture(scope="session")
def agent_wheel(wheel_cache: Path) -> Path:
    """The project's wheel, built once: the tree may change under a long session (other work
    in the checkout), and a test of "unchanged" needs the same bytes twice."""
    return Wheelhouses(wheel_cache).project_wheel()


@dataclass
class Provision:
    """``borne provision`` for one test: its known_hosts, its prefix on the host."""

    controller: Controller
    server: SshServer
    known_hosts: Path
    prefix: Path
    cache: Path
    wheel: Path

    def options(self) -> list[str]:
        return [
            "--controller", self.controller.url,
            "--known-hosts", str(self.known_hosts),
            "--prefix", str(self.prefix),
            "--cache-dir", str(self.cache),
            "--agent-wheel", str(self.wheel),
            "--set", "actions=simulated",
        ]  # fmt: skip

    def host_options(self, server: SshServer | None = None) -> list[str]:
        server = server or self.server
        return [
            "--host", server.host, "--port", str(server.port), "--user", server.user,
            "--identity", str(server.client_key), "--site", self.controller.site,
        ]  # fmt: skip

    def __call__(
        self, command: str, *args: str, server: SshServer | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``borne provision COMMAND`` (bootstrap: of ``server``, the session's sshd by
        default) with this test's options, then ``args``."""
        extra = self.host_options(server) if command == "bootstrap" else []
        return subprocess.run(
            [BORNE, "provision", command, *self.options(), *extra, *args],
            env={**os.environ, "BORNE_API_TOKEN": self.controller.api_token, "COLUMNS": "1000"},
            capture_output=True,
            text=True,
            timeout=600,
        )

    def installed(self) -> list[str]:
        """Every path the bootstrap left below the prefix."""
        if not self.prefix.exists():
            return []
        return sorted(str(path.relative_to(self.prefix)) for path in self.prefix.rglob("*"))


@pytest.fixture
def provision(
    controller: Controller, sshd: SshServer, tmp_path: Path, wheel_cache: Path, agent_wheel: Path
) -> Provision:
    return Provision(
        controller, sshd, tmp_path / "known_hosts", tmp_path / "host", wheel_cache, agent_wheel
    )


@pytest.fixture
def trusted(provision: Provision) -> Callable[[], None]:
    """Pin the test sshd's key in the test's known_hosts, as a first --trust-host run does."""

    def trust() -> None:
        provision.known_hosts.write_text(provision.server.known_hosts.read_text())

    return trust
