"""Bootstrap one host: from a bare Debian or Ubuntu PC to a running, enrolled agent.

The run is in two halves. First it only looks: the system, Python and its venv module, sudo, and
what a previous run left (the installed wheels' manifest, the configuration, the unit, the
credentials). Anything that rules the host out — an unsupported system, no passwordless sudo, an
agent enrolled with another controller — stops the run there, with nothing written. Then it
changes only what differs from the plan, each change recorded in a :class:`Journal` with its
undo; if a step fails, the journal is played backwards and the host is as it was. A second run
with the same plan finds nothing to change and says "unchanged": same wheels (compared by their
SHA-256 manifest kept in the virtual environment), same files, already enrolled (no new token).

What it installs, on the host (``HostLayout``; a prefix moves it all, for staging and tests):

- ``/opt/borne-agent``: a virtual environment of the system's ``/usr/bin/python3``, filled from
  the wheelhouse with ``pip install --no-index`` (no internet needed on the host);
- ``/etc/borne/agent.toml``: the agent's settings (the controller, the state folder, ``--set``);
- ``/etc/systemd/system/borne-agent.service``: the project's unit, started from the venv;
- ``/var/lib/borne-agent/credentials.json``: written by ``borne agent enrol`` on the host, with a
  one-time token this run asks the controller for.

Commands run as root: directly when signed in as root, else through ``sudo -n`` (never a password
prompt: a batch has nobody to type it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import ipaddress
import json
import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from agent.protocol import DeviceKind
from agent.settings import ENV_PREFIX, AgentSettings, load_agent_settings
from borne.settings import ImproperlyConfigured
from provisioning.controller_api import ControllerApi
from provisioning.errors import ProvisioningError
from provisioning.ssh import CommandResult, RemoteHost
from provisioning.wheelhouse import Target, Wheelhouses

SUPPORTED_SYSTEMS = ("debian", "ubuntu")
PYTHON = "/usr/bin/python3"  # the system's: a PC's own, never a pyenv or conda of an admin's
OLDEST_PYTHON = (3, 11)
NEWEST_PYTHON = (3, 13)  # pyproject.toml: requires-python < 3.14
UNIT_NAME = "borne-agent.service"
# Set by the bootstrap itself from its options, so --set may not change them.
RESERVED_SETTINGS = ("controller_url", "state_dir")


class Change(enum.StrEnum):
    """What a run did to one part of the host."""

    INSTALLED = "installed"
    UPDATED = "updated"
    WRITTEN = "written"
    ENROLLED = "enrolled"
    STARTED = "started"
    RESTARTED = "restarted"


@dataclass(frozen=True)
class HostLayout:
    """Where the agent lives on the host; ``prefix`` moves everything below a folder."""

    prefix: str = ""

    @property
    def venv(self) -> str:
        return f"{self.prefix}/opt/borne-agent"

    @property
    def config(self) -> str:
        return f"{self.prefix}/etc/borne/agent.toml"

    @property
    def unit(self) -> str:
        return f"{self.prefix}/etc/systemd/system/{UNIT_NAME}"

    @property
    def state_dir(self) -> str:
        return f"{self.prefix}/var/lib/borne-agent"

    @property
    def manifest(self) -> str:
        return f"{self.venv}/borne-wheelhouse.txt"

    @property
    def credentials(self) -> str:
        return f"{self.state_dir}/credentials.json"

    @property
    def agent_command(self) -> str:
        return f"{self.venv}/bin/borne agent run --config {self.config}"


@dataclass(frozen=True)
class AgentPlan:
    """What a host should end up with."""

    site_id: int
    kind: DeviceKind
    controller_url: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # checked by agent_settings()
    layout: HostLayout = HostLayout()
    use_systemd: bool = True  # False: never touch systemd (else: when the host runs it)


def agent_settings(controller_url: str, raw: Mapping[str, str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs checked by the agent's own settings loader, typed."""
    known = {f.name for f in dataclasses.fields(AgentSettings)}
    for key in raw:
        if key in RESERVED_SETTINGS:
            raise ProvisioningError(
                f"--set {key}: set by the bootstrap itself (--controller, --prefix)"
            )
        if key not in known:
            raise ProvisioningError(
                f"--set {key}: the agent has no such setting (see agent/settings.py or the "
                "README's agent settings)"
            )
    try:
        settings = load_agent_settings(
            env={f"{ENV_PREFIX}{key.upper()}": value for key, value in raw.items()},
            overrides={"controller_url": controller_url},
        )
    except ImproperlyConfigured as exc:
        hint = (
            " (here: --set allow_insecure_http=true)" if "allow_insecure_http" in str(exc) else ""
        )
        raise ProvisioningError(f"agent settings: {exc}{hint}") from exc
    return {key: getattr(settings, key) for key in raw}


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_controller_reachable(controller_url: str, host: str) -> None:
    """Refuse a loopback controller address for another machine: that PC would look for the
    controller on itself."""
    controller_host = urlsplit(controller_url).hostname or ""
    if _is_loopback(controller_host) and not _is_loopback(host):
        raise ProvisioningError(
            f"--controller {controller_url} is this machine's loopback address: {host} would "
            "look for the controller on itself. Give the address the PCs reach it at"
        )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProvisioningError(f"{value} cannot be written in the agent's settings")
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    # JSON's string escapes are TOML's basic-string escapes.
    return json.dumps(str(value))


def agent_config(plan: AgentPlan) -> str:
    """The text of agent.toml for ``plan``: same plan, same bytes (so a rerun changes nothing)."""
    values = {
        "controller_url": plan.controller_url,
        "state_dir": plan.layout.state_dir,
        **plan.settings,
    }
    lines = [
        "# Written by borne provision bootstrap; its next run puts back what it wrote.",
        "[agent]",
        *(f"{key} = {_toml_value(value)}" for key, value in values.items()),
    ]
    return "\n".join(lines) + "\n"


def unit_text(layout: HostLayout) -> str:
    """The project's systemd unit, started from the host's virtual environment."""
    text = resources.files("agent").joinpath("systemd", UNIT_NAME).read_text()
    lines = [
        f"ExecStart={layout.agent_command}" if line.startswith("ExecStart=") else line
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


@dataclass
class HostFacts:
    """What the first, read-only half of the run found on the host."""

    os_name: str
    os_ids: tuple[str, ...]  # ID and ID_LIKE of /etc/os-release
    machine: str
    python: tuple[int, int, int] | None
    glibc: tuple[int, int] | None
    has_venv: bool
    runs_systemd: bool
    manifest: str | None = None
    config: str | None = None
    unit: str | None = None
    venv_exists: bool = False
    state_dir_exists: bool = False
    enrolled: tuple[str, str] | None = None  # (device id, controller URL)
    unit_enabled: bool = False
    unit_active: bool = False


@dataclass
class Report:
    """What a bootstrap did to a host, for the admin."""

    target: str
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    device_id: str | None = None

    @property
    def unchanged(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        """ "unchanged (device …)", or the changes made; then the notes."""
        said = [f"unchanged (device {self.device_id})" if self.unchanged else "", *self.changes]
        return "; ".join([*filter(None, said), *self.notes])


class Journal:
    """What this run changed on the host, each change with its undo, played backwards on failure;
    and what to tidy once the whole run succeeded."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._on_success: list[Callable[[], object]] = []

    def did(self, what: str, undo: Callable[[], object]) -> None:
        self._undo.append((what, undo))

    def then(self, tidy: Callable[[], object]) -> None:
        self._on_success.append(tidy)

    def roll_back(self) -> list[str]:
        """Undo everything; return what could not be undone."""
        failed = []
        for what, undo in reversed(self._undo):
            try:
                undo()
            except Exception as exc:  # keep undoing the rest, then say what failed
                failed.append(f"{what} ({exc})")
        self._undo.clear()
        return failed

    def commit(self) -> None:
        for tidy in self._on_success:
            # A backup left in place costs disk, not correctness.
            with contextlib.suppress(ProvisioningError):
                tidy()
        self._undo.clear()


class Shell:
    """Commands on the host, as root (``sudo -n`` when signed in as someone else)."""

    def __init__(self, host: RemoteHost) -> None:
        self.host = host
        self.sudo = host.target.user != "root"

    def run(self, command: str, *, root: bool = True, check: bool = True) -> CommandResult:
        wrapped = f"sudo -n sh -c {shlex.quote(command)}" if root and self.sudo else command
        result = self.host.run(wrapped)
        if check and not result.ok:
            raise ProvisioningError(
                f"{self.host.target}: `{command}` failed (exit {result.status}): "
                f"{result.output.strip()[-1500:]}"
            )
        return result

    def read(self, path: str) -> str | None:
        """A file's text, or None when it does not exist."""
        result = self.run(f"if [ -f {q(path)} ]; then cat {q(path)}; else exit 3; fi", check=False)
        if result.status == 3:
            return None
        if not result.ok:
            raise ProvisioningError(f"{self.host.target}: cannot read {path}: {result.output}")
        return result.output

    def exists(self, path: str) -> bool:
        return self.run(f"[ -e {q(path)} ]", check=False).ok


def q(text: str) -> str:
    return shlex.quote(text)


_PROBE = f"""
[ -r /etc/os-release ] && . /etc/os-release
printf 'os_id=%s\\nos_like=%s\\nos_name=%s\\nkernel=%s\\nmachine=%s\\n' \
  "$ID" "$ID_LIKE" "$PRETTY_NAME" "$(uname -s)" "$(uname -m)"
if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi
if [ -x {PYTHON} ]; then {PYTHON} -c '
import platform, sys
print("python=%d.%d.%d" % sys.version_info[:3])
print("libc=%s %s" % platform.libc_ver())
try:
    import ensurepip, venv
    print("venv=yes")
except ImportError:
    print("venv=no")
'; fi
"""

READ_CREDENTIALS = (
    PYTHON + " -c 'import json, sys; c = json.load(open(sys.argv[1])); "
    'print(c["device_id"]); print(c.get("controller_url", ""))\''
)


def _version(text: str, parts: int) -> tuple[int, ...] | None:
    try:
        numbers = tuple(int(n) for n in text.split(".")[:parts])
    except ValueError:
        return None
    return numbers if len(numbers) == parts else None


def inspect_host(host: RemoteHost, layout: HostLayout) -> HostFacts:
    """Look at the host, writing nothing; refuse a user without passwordless sudo."""
    shell = Shell(host)
    found = dict(
        line.split("=", 1)
        for line in shell.run(_PROBE, root=False).output.splitlines()
        if "=" in line
    )
    if found.get("kernel") != "Linux":
        raise ProvisioningError(
            f"{host.target} is not a Linux system ({found.get('kernel') or 'uname says nothing'})"
        )
    if shell.sudo:
        sudo = shell.run("sudo -n true", root=False, check=False)
        if not sudo.ok:
            raise ProvisioningError(
                f"{host.target}: {host.target.user} cannot run commands as root without a "
                f"password ({sudo.output.strip() or f'sudo -n true: exit {sudo.status}'}). "
                "Give that account passwordless sudo, or connect as root. Nothing was changed"
            )
    libc, _, libc_version = found.get("libc", "").partition(" ")
    python = _version(found.get("python", ""), 3)
    glibc = _version(libc_version, 2) if libc == "glibc" else None
    facts = HostFacts(
        os_name=found.get("os_name") or "an unknown system (no /etc/os-release)",
        os_ids=(found.get("os_id", ""), *found.get("os_like", "").split()),
        machine=found.get("machine", ""),
        python=(python[0], python[1], python[2]) if python else None,
        glibc=(glibc[0], glibc[1]) if glibc else None,
        has_venv=found.get("venv") == "yes",
        runs_systemd=found.get("systemd") == "yes",
    )
    facts.manifest = shell.read(layout.manifest)
    facts.config = shell.read(layout.config)
    facts.unit = shell.read(layout.unit)
    facts.venv_exists = shell.exists(layout.venv)
    facts.state_dir_exists = shell.exists(layout.state_dir)
    credentials = shell.run(
        f"[ -f {q(layout.credentials)} ] || exit 3; {READ_CREDENTIALS} {q(layout.credentials)}",
        check=False,
    )
    if credentials.ok:
        device_id, _, controller_url = credentials.output.strip().partition("\n")
        facts.enrolled = (device_id.strip(), controller_url.strip())
    elif credentials.status != 3:
        raise ProvisioningError(
            f"{host.target}: {layout.credentials} is unreadable: {credentials.output.strip()}"
        )
    if facts.runs_systemd:
        enabled = shell.run(f"systemctl is-enabled {UNIT_NAME}", check=False)
        facts.unit_enabled = enabled.output.strip() == "enabled"
        facts.unit_active = shell.run(f"systemctl is-active --quiet {UNIT_NAME}", check=False).ok
    return facts


def check_host(facts: HostFacts, plan: AgentPlan, where: str) -> Target:
    """Refuse a host the agent cannot run on, or one enrolled with another controller."""
    if not set(facts.os_ids) & set(SUPPORTED_SYSTEMS):
        raise ProvisioningError(
            f"{where} runs {facts.os_name}: the bootstrap supports Debian and Ubuntu only. "
            "Nothing was changed"
        )
    if facts.python is None:
        raise ProvisioningError(
            f"{where} has no {PYTHON}: install Python 3.11 or later with its venv module "
            "(apt install python3 python3-venv). Nothing was changed"
        )
    version = ".".join(map(str, facts.python))
    if not OLDEST_PYTHON <= facts.python[:2] <= NEWEST_PYTHON:
        raise ProvisioningError(
            f"{where} has Python {version}: the agent needs Python 3.11 to 3.13 (Debian 12, "
            "Ubuntu 24.04 or later). Nothing was changed"
        )
    if not facts.has_venv:
        raise ProvisioningError(
            f"{where}: Python {version} has no venv module with ensurepip: install it with "
            "apt install python3-venv. Nothing was changed"
        )
    if facts.glibc is None:
        raise ProvisioningError(
            f"{where}: its C library is not glibc, which the agent's wheels need. "
            "Nothing was changed"
        )
    if facts.enrolled and _same_url(facts.enrolled[1], plan.controller_url) is False:
        raise ProvisioningError(
            f"{where} is enrolled as device {facts.enrolled[0]} with the controller at "
            f"{facts.enrolled[1]}, not {plan.controller_url}. To move it, delete "
            f"{plan.layout.credentials} on the host (and retire the device on the old "
            "controller), then run again. Nothing was changed"
        )
    return Target((facts.python[0], facts.python[1]), facts.machine, facts.glibc)


def _same_url(a: str, b: str) -> bool | None:
    if not a:  # credentials of an older agent name no controller: trust the configuration
        return None
    return a.rstrip("/") == b.rstrip("/")


def bootstrap(
    host: RemoteHost,
    plan: AgentPlan,
    *,
    wheelhouses: Wheelhouses,
    controller: ControllerApi,
    say: Callable[[str], None] = lambda line: None,
) -> Report:
    """Bring ``host`` to ``plan``; change only what differs; undo this run's changes on failure."""
    where = str(host.target)
    layout = plan.layout
    check_controller_reachable(plan.controller_url, host.target.host)
    facts = inspect_host(host, layout)
    target = check_host(facts, plan, where)
    say(f"{where}: {facts.os_name}, Python {'.'.join(map(str, facts.python or ()))}")
    wheelhouse = wheelhouses.for_target(target)
    manifest = f"python {target.python[0]}.{target.python[1]}\n" + wheelhouse.manifest()
    config = agent_config(plan)
    unit = unit_text(layout)
    systemd = plan.use_systemd and facts.runs_systemd
    report = Report(where, device_id=facts.enrolled[0] if facts.enrolled else None)

    wanted = {
        "agent": facts.manifest != manifest or not facts.venv_exists,
        "config": facts.config != config,
        "unit": facts.unit != unit,
        "enrol": facts.enrolled is None,
        "enable": systemd and not facts.unit_enabled,
    }
    if not any(wanted.values()) and (not systemd or facts.unit_active):
        _notes(report, facts, layout, plan)
        return report

    def changed(what: str) -> None:
        report.changes.append(what)
        say(f"{where}: {what}")

    shell = Shell(host)
    journal = Journal()
    stage = shell.run("mktemp -d /tmp/borne-provision.XXXXXXXX", root=False).output.strip()
    try:
        if wanted["agent"]:
            _install_agent(host, shell, journal, stage, wheelhouse.wheels, manifest, facts, layout)
            verb = Change.UPDATED if facts.venv_exists else Change.INSTALLED
            changed(f"agent {verb}")
        if wanted["config"]:
            _place_file(host, shell, journal, stage, config, layout.config, facts.config)
            changed(f"agent.toml {Change.WRITTEN}")
        if wanted["unit"]:
            if systemd:  # registered first, so it runs after the unit file is put back
                journal.did("systemctl daemon-reload", lambda: shell.run("systemctl daemon-reload"))
            _place_file(host, shell, journal, stage, unit, layout.unit, facts.unit)
            if systemd:
                shell.run("systemctl daemon-reload")
            changed(f"unit {Change.WRITTEN}")
        if wanted["enable"]:
            shell.run(f"systemctl enable {UNIT_NAME}")
            journal.did("systemctl enable", lambda: shell.run(f"systemctl disable {UNIT_NAME}"))
        if wanted["enrol"]:
            report.device_id = _enrol(shell, journal, controller, plan, facts, where)
            changed(f"{Change.ENROLLED} as device {report.device_id}")
        if systemd:
            shell.run(f"systemctl {'restart' if facts.unit_active else 'start'} {UNIT_NAME}")
            if not facts.unit_active:
                journal.did("systemctl start", lambda: shell.run(f"systemctl stop {UNIT_NAME}"))
            changed(f"{UNIT_NAME} {Change.RESTARTED if facts.unit_active else Change.STARTED}")
    except BaseException as exc:
        failed = journal.roll_back()
        shell.run(f"rm -rf {q(stage)}", root=True, check=False)
        if not isinstance(exc, Exception):
            raise
        undone = (
            "the host was put back as it was"
            if not failed
            else "undoing failed for: " + "; ".join(failed) + " (undo that by hand)"
        )
        raise ProvisioningError(f"{exc}\n{where}: {undone}") from exc
    journal.commit()
    shell.run(f"rm -rf {q(stage)}", root=True, check=False)
    _notes(report, facts, layout, plan)
    return report


def _notes(report: Report, facts: HostFacts, layout: HostLayout, plan: AgentPlan) -> None:
    if not (plan.use_systemd and facts.runs_systemd):
        why = "--no-systemd" if not plan.use_systemd else "the host does not run systemd"
        report.notes.append(f"not started ({why}); start it with: {layout.agent_command}")


def _ensure_dir(shell: Shell, journal: Journal, path: str) -> None:
    """``mkdir -p path``, undone by removing the highest folder it created."""
    first_missing = None
    for folder in [PurePosixPath(path), *PurePosixPath(path).parents]:
        if shell.exists(str(folder)):
            break
        first_missing = str(folder)
    if first_missing is None:
        return
    shell.run(f"mkdir -p {q(path)}")
    journal.did(f"mkdir {first_missing}", lambda: shell.run(f"rm -rf {q(first_missing)}"))


def _install_file(host: RemoteHost, shell: Shell, stage: str, text: str, path: str) -> None:
    """Write ``text`` to ``path`` (0644, root's) in one rename."""
    staged = f"{stage}/{path.strip('/').replace('/', '_')}"
    host.put_text(text, staged)
    shell.run(
        f"install -m 0644 {q(staged)} {q(path)}.borne-new && mv -f {q(path)}.borne-new {q(path)}"
    )


def _place_file(
    host: RemoteHost,
    shell: Shell,
    journal: Journal,
    stage: str,
    text: str,
    path: str,
    previous: str | None,
) -> None:
    _ensure_dir(shell, journal, str(PurePosixPath(path).parent))
    _install_file(host, shell, stage, text, path)
    if previous is None:
        journal.did(f"write {path}", lambda: shell.run(f"rm -f {q(path)}"))
    else:
        journal.did(f"write {path}", lambda: _install_file(host, shell, stage, previous, path))


def _install_agent(
    host: RemoteHost,
    shell: Shell,
    journal: Journal,
    stage: str,
    wheels: tuple[Any, ...],
    manifest: str,
    facts: HostFacts,
    layout: HostLayout,
) -> None:
    """A fresh virtual environment filled from the wheelhouse; the previous one kept aside
    until the run succeeds (the running agent goes on using its files meanwhile)."""
    venv, previous = layout.venv, f"{layout.venv}.borne-previous"
    shell.run(f"mkdir {q(stage)}/wheels", root=False)
    for wheel in wheels:
        host.put(wheel, f"{stage}/wheels/{wheel.name}")
    if facts.venv_exists:
        shell.run(f"rm -rf {q(previous)} && mv {q(venv)} {q(previous)}")
        journal.did(
            f"replace {venv}",
            lambda: shell.run(f"rm -rf {q(venv)} && mv {q(previous)} {q(venv)}"),
        )
        journal.then(lambda: shell.run(f"rm -rf {q(previous)}"))
    else:
        _ensure_dir(shell, journal, str(PurePosixPath(venv).parent))
        journal.did(f"create {venv}", lambda: shell.run(f"rm -rf {q(venv)}"))
    project = next(wheel.name for wheel in wheels if wheel.name.startswith("borne-"))
    shell.run(f"{PYTHON} -m venv {q(venv)}")
    shell.run(
        f"{q(venv)}/bin/python -m pip install --disable-pip-version-check --no-input --quiet "
        f"--no-index --find-links {q(stage)}/wheels {q(stage)}/wheels/{q(project)}"
    )
    _install_file(host, shell, stage, manifest, layout.manifest)


def _enrol(
    shell: Shell,
    journal: Journal,
    controller: ControllerApi,
    plan: AgentPlan,
    facts: HostFacts,
    where: str,
) -> str:
    layout = plan.layout
    token = controller.enrolment_token(
        plan.site_id, plan.kind.value, f"borne provision bootstrap {where}"
    )
    if facts.state_dir_exists:
        journal.did("enrol", lambda: shell.run(f"rm -f {q(layout.credentials)}"))
    else:
        journal.did("enrol", lambda: shell.run(f"rm -rf {q(layout.state_dir)}"))
    shell.run(
        f"{q(layout.venv)}/bin/borne agent enrol --controller {q(plan.controller_url)} "
        f"--token {q(token)} --kind {q(plan.kind.value)} --config {q(layout.config)}"
    )
    device = shell.run(f"{READ_CREDENTIALS} {q(layout.credentials)}").output.split()
    return device[0]
