"""Agent upgrades end to end: a new release of borne carried site by site to real agents, each
installing it into its own virtual environment and coming back on it; a broken release rolled
back by the agent's guard, and the rollout halted before it reaches the second site.

Real processes throughout: ``borne controller run`` serving the releases added with
``borne controller agent-release add``, and two ``<venv>/bin/borne agent run`` at two sites of one
organisation, each in a venv filled offline from a wheelhouse (as ``borne provision`` fills a
host). Everything lives under the test's temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from provisioning.wheelhouse import Wheelhouses
from tests.e2e.controller_process import DEMO_PLACES, ControllerProcess, wait_until
from tests.e2e.upgrade_testkit import (
    DeviceAgent,
    DeviceVenv,
    Releases,
    alive,
    build_releases,
    device_env,
    local_target,
    tree_version,
)

pytestmark = pytest.mark.e2e

# The guard's deadline for a new release to connect; the default (300 s) is for real PCs.
UPGRADE_TIMEOUT_S = 20
AGENT_SETTINGS = {
    "actions": "simulated",
    "heartbeat_interval_s": 1,
    "backoff_min_s": 0.2,
    "backoff_max_s": 1.0,
    "upgrade_timeout_s": UPGRADE_TIMEOUT_S,
}
# An upgrade: download, pip install, re-exec, connect; a rollback adds the guard's deadline.
UPGRADE_WAIT_S = 90
ROLLBACK_WAIT_S = UPGRADE_TIMEOUT_S + 90


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """The base, good and broken wheels, built once for the session (a few seconds each)."""
    return build_releases(tmp_path_factory.mktemp("agent-releases"))


@pytest.fixture(scope="session")
def wheelhouse(releases: Releases, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The base wheel and its dependencies for this machine: what a device installs offline."""
    cache = tmp_path_factory.mktemp("wheel-cache")
    return Wheelhouses(cache, agent_wheel=releases.base.wheel).for_target(local_target()).folder


# --- the releases and a device's venv ----------------------------------------------------------


def test_three_releases_build_and_a_device_venv_runs_the_base_offline(
    releases: Releases, wheelhouse: Path, tmp_path: Path
) -> None:
    venv = DeviceVenv(tmp_path / "venv").create(wheelhouse, releases.base.version)
    help_text = _run([venv.borne, "--help"], tmp_path)
    with zipfile.ZipFile(releases.broken.wheel) as wheel:
        broken_daemon = wheel.read("agent/daemon.py").decode()
    with zipfile.ZipFile(releases.good.wheel) as wheel:
        good_daemon = wheel.read("agent/daemon.py").decode()

    assert releases.base.version == tree_version()
    assert [r.wheel.name for r in (releases.base, releases.good, releases.broken)] == [
        f"borne-{r.version}-py3-none-any.whl"
        for r in (releases.base, releases.good, releases.broken)
    ]
    assert venv.installed_version() == releases.base.version
    assert "agent" in help_text and "controller" in help_text
    assert "broken on purpose" in broken_daemon and "broken on purpose" not in good_daemon


def _run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(
        command, env=device_env(), cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- the city: a controller serving the releases, two sites, a PC at each ---------------------


@dataclass
class Staff:
    """An admin's script: the API with a personal token."""

    url: str
    token: str

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.api("GET", path)
        assert status == 200, (path, body)
        return body


@dataclass
class City:
    controller: ControllerProcess
    staff: Staff
    organisation_id: int
    site_a: dict[str, Any]  # the first wave
    site_b: dict[str, Any]
    pc_a: DeviceAgent
    pc_b: DeviceAgent

    def device(self, agent: DeviceAgent) -> Any:
        return self.staff.get(f"/api/v1/devices/{agent.device_id}")

    def reported_version(self, agent: DeviceAgent) -> str:
        return str(self.device(agent)["inventory"].get("agent_version", ""))

    def roll_out(self, version: str) -> dict[str, Any]:
        """agent_version = ``version`` on the organisation's layer, in waves, site A first."""
        status, rollout = self.staff.api(
            "PUT",
            f"/api/v1/config/organisation/{self.organisation_id}",
            {
                "settings": {"agent_version": version},
                "strategy": "waves",
                "first_site_id": self.site_a["id"],
            },
        )
        assert status == 201, rollout
        return dict(rollout)

    def rollout(self, rollout_id: int) -> Any:
        return self.staff.get(f"/api/v1/config/rollouts/{rollout_id}")

    def wait(
        self, condition: Callable[[], Any], timeout: float, what: str, rollout_id: int = 0
    ) -> Any:
        """Poll ``condition`` until it holds; if it never does, fail with the rollout and both
        agents' last lines, which say on which side (controller or agent) it stopped."""
        try:
            return wait_until(condition, timeout=timeout, interval=0.5, message=what)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{self.story(rollout_id)}") from None

    def story(self, rollout_id: int = 0) -> str:
        lines = []
        if rollout_id:
            status, rollout = self.staff.api("GET", f"/api/v1/config/rollouts/{rollout_id}")
            lines.append(f"rollout {rollout_id} ({status}): {json.dumps(rollout, indent=1)}")
        for pc in (self.pc_a, self.pc_b):
            lines.append(f"--- {pc.folder.name}'s agent:\n{pc.log()}")
        log = self.controller.log_path
        lines.append(f"--- controller log:\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(lines)


def targets_by_device(rollout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["device_id"]: t for t in rollout["targets"]}


@pytest.fixture
def city(releases: Releases, wheelhouse: Path, tmp_path: Path) -> Iterator[City]:
    controller = ControllerProcess(
        tmp_path / "controller",
        extra_env={
            "BORNE_AGENT_RELEASES_DIR": str(tmp_path / "served-releases"),
            "BORNE_ROLLOUT_INTERVAL_S": "1",  # the second wave follows the first within a second
        },
    )
    controller.data_dir.mkdir(parents=True)
    controller.migrate()
    controller.cli("places", "import", str(DEMO_PLACES))
    controller.add_user("admin", "correct horse battery staple", "admin")
    token = controller.cli("api-token", "create", "admin", "--name", "upgrade test")
    for release in (releases.base, releases.good, releases.broken):
        controller.cli("agent-release", "add", str(release.wheel))
    served = controller.cli("agent-release", "list")
    assert all(r.version in served for r in (releases.base, releases.good, releases.broken))

    pcs = [DeviceAgent(tmp_path / name, DeviceVenv(tmp_path / name / "venv")) for name in "ab"]
    with contextlib.ExitStack() as cleanup:
        controller.start()
        cleanup.callback(controller.stop)
        cleanup.callback(_stop_all, pcs)
        staff = Staff(controller.url, token.strip().splitlines()[-1])
        site_a, site_b = _two_sites_of_one_organisation(staff.get("/api/v1/sites"))
        with ThreadPoolExecutor(max_workers=2) as pool:  # a venv takes a few seconds: both at once
            list(pool.map(lambda pc: pc.venv.create(wheelhouse, releases.base.version), pcs))
        for pc, site in zip(pcs, (site_a, site_b), strict=True):
            pc.configure(controller.url, **AGENT_SETTINGS)
            pc.enrol(controller.url, controller.token(site["slug"], "pc"))
            pc.start()
        city = City(controller, staff, site_a["organisation_id"], site_a, site_b, *pcs)
        for pc in pcs:
            city.wait(
                lambda pc=pc: (
                    city.device(pc)["status"] == "online"
                    and city.reported_version(pc) == releases.base.version
                ),
                30,
                f"{pc.folder.name} online on borne {releases.base.version}",
            )
        yield city


def _stop_all(pcs: list[DeviceAgent]) -> None:
    """Stop every PC's processes at once (an agent takes seconds to say goodbye)."""
    with ThreadPoolExecutor(max_workers=len(pcs)) as pool:
        list(pool.map(DeviceAgent.stop, pcs))


def _two_sites_of_one_organisation(sites: list[dict[str, Any]]) -> tuple[Any, Any]:
    by_organisation: dict[int, list[dict[str, Any]]] = {}
    for site in sites:
        by_organisation.setdefault(site["organisation_id"], []).append(site)
    for found in by_organisation.values():
        if len(found) >= 2:
            first, second = sorted(found, key=lambda s: s["name"])[:2]
            return first, second
    raise AssertionError("the demo places have no organisation with two sites")


# --- the upgrades ------------------------------------------------------------------------------


def test_a_release_goes_site_by_site_and_a_broken_one_is_rolled_back_and_halts_the_rollout(
    city: City, releases: Releases
) -> None:
    base, good, broken = releases.base.version, releases.good.version, releases.broken.version
    pc_a, pc_b = city.pc_a, city.pc_b
    assert pc_a.process is not None and pc_b.process is not None
    pids = {pc_a: pc_a.process.pid, pc_b: pc_b.process.pid}

    # A good release, in waves: site A's PC first, then site B's once A's came back on it.
    started = city.roll_out(good)
    waves = {t["device_id"]: t["wave"] for t in started["targets"]}
    assert waves == {pc_a.device_id: 1, pc_b.device_id: 2}

    def upgraded() -> Any:
        rollout = city.rollout(started["id"])
        applied = all(t["state"] == "applied" for t in rollout["targets"])
        # "done": closed by the controller's job once every device answered
        return rollout if applied and rollout["state"] == "done" else None

    rollout = city.wait(upgraded, UPGRADE_WAIT_S, f"both PCs on borne {good}", started["id"])
    answers = targets_by_device(rollout)
    for pc in (pc_a, pc_b):
        assert f"borne {good} running (was {base})" in answers[pc.device_id]["answer"]
        assert pc.venv.installed_version() == good
        assert pc.venv_copies() == []  # the snapshot goes once the new version is confirmed
        assert alive(pids[pc]) and pc.process.poll() is None  # re-executed: the same process
        assert "agent" in psutil.Process(pids[pc]).cmdline()
        city.wait(
            lambda pc=pc: city.reported_version(pc) == good,
            30,
            f"{pc.folder.name}'s inventory saying borne {good}",
        )

    # A broken release: site A's PC installs it, its agent exits at start, the guard puts the
    # good one back; the rollout stops there and site B's PC never hears of it.
    started = city.roll_out(broken)

    def halted() -> Any:
        rollout = city.rollout(started["id"])
        return rollout if rollout["state"] == "halted" else None

    rollout = city.wait(halted, ROLLBACK_WAIT_S, f"the rollout of {broken} halted", started["id"])
    seen_failed = city.device(pc_a)["last_seen_at"]
    targets = targets_by_device(rollout)
    failed = targets[pc_a.device_id]
    assert failed["state"] == "failed"
    # "did not come back within 20 s", or sooner when the guard saw the agent exit
    assert failed["answer"].startswith(f"borne {broken} "), failed["answer"]
    assert f"within {UPGRADE_TIMEOUT_S} s: rolled back to {good}" in failed["answer"]
    assert [t["device_id"] for t in rollout["failed"]] == [pc_a.device_id]
    assert targets[pc_b.device_id]["state"] == "pending"
    assert rollout["counts"]["pending"] == 1 and rollout["counts"]["sent"] == 0

    assert pc_a.venv.installed_version() == good
    assert pc_a.venv_copies() == []
    assert pc_a.remote_settings()["agent_version"] == good  # its previous settings back
    restarted = pc_a.restarted_pid()
    assert restarted is not None and restarted != pids[pc_a] and alive(restarted), city.story()
    assert not alive(pids[pc_a])
    city.wait(
        lambda: (
            (device := city.device(pc_a))["status"] == "online"
            and device["last_seen_at"] != seen_failed
        ),
        30,
        "site A's PC heartbeating again after its rollback",
    )
    assert city.reported_version(pc_a) == good

    assert pc_b.venv.installed_version() == good and pc_b.venv_copies() == []
    assert pc_b.remote_settings()["agent_version"] == good
    assert alive(pids[pc_b]) and pc_b.process.poll() is None
    assert city.device(pc_b)["status"] == "online"
    assert city.reported_version(pc_b) == good
