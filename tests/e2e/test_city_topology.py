"""A city's controller as the Ansible role ``controller`` sets it up, run for real on this machine:
nginx with TLS in front of two controller processes sharing one PostgreSQL and one Redis, and a
real agent connected through nginx.

The nginx site, the controller's TOML and the nightly dump script are the role's own templates,
rendered by Ansible with the role's defaults and a few test values (ports, certificate,
database), so these tests prove the files the role installs, not copies of them.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import io
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from tests.certificates import self_signed_certificate
from tests.e2e.controller_process import BORNE, DEMO_PLACES, ControllerProcess, wait_until
from tests.nginx_server import nginx_server
from tests.postgres import create_database, free_port
from tests.redis_server import redis_server

pytestmark = pytest.mark.e2e

ROLE = Path(__file__).resolve().parents[2] / "ansible" / "roles" / "controller"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SITE = "grenoble-bib-centre-ville"
PASSWORD = "a long admin password"
PROMETHEUS = "127.0.0.1"  # the only address allowed to read /metrics through nginx
ELSEWHERE = "127.0.0.2"  # a client on another address (loopback: no network needed)
UNITS = (
    "borne-controller@.service",
    "borne-controller.target",
    "borne-pg-dump.service",
    "borne-pg-dump.timer",
)


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class City:
    url: str  # nginx, https://127.0.0.1:PORT
    http_url: str  # nginx's plain-HTTP port
    processes: list[ControllerProcess]
    tls: ssl.SSLContext  # trusts the test certificate only
    token: str  # an admin's API token
    backups: Path  # where the role's dump script, rendered twice below, keeps its dumps
    nightly_dump: Path
    dump_of_a_missing_database: Path
    units: Path  # the role's systemd units, rendered
    agent_id: str = ""

    def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        source: str = "127.0.0.1",
        base: str | None = None,
    ) -> Answer:
        """One request from the client address ``source``, through nginx by default."""
        parts = urllib.parse.urlsplit(base or self.url)
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, context=self.tls, source_address=(source, 0), timeout=30
            )
        else:
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port, source_address=(source, 0), timeout=30
            )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()

    def api(
        self, method: str, path: str, body: Any = None, process: ControllerProcess | None = None
    ) -> Any:
        """The admin's API token, through nginx or straight to one ``process``."""
        answer = self.fetch(
            path,
            method=method,
            body=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            base=process.url if process else None,
        )
        assert answer.status in (200, 201), answer.text
        return json.loads(answer.body)

    def connections(self) -> dict[int, float]:
        """Agents connected to each process, read as Prometheus does: /metrics/<port>."""
        held = {}
        for process in self.processes:
            answer = self.fetch(f"/metrics/{process.port}", source=PROMETHEUS)
            assert answer.status == 200, answer.text
            found = re.search(r"^borne_agent_connections (\S+)$", answer.text, re.MULTILINE)
            assert found, "no borne_agent_connections in the metrics"
            held[process.port] = float(found[1])
        return held


def render_with_ansible(
    tmp: Path, variables: dict[str, Any], renders: list[tuple[str, Path, dict[str, Any]]]
) -> None:
    """Render templates of the role as the role does: Ansible's template module with the role's
    defaults and vars, and ``variables`` as extra vars (which win over both). Each of
    ``renders`` is (template, destination, variables of that one alone)."""
    tasks = []
    for template, dest, own in renders:
        assert not own.keys() & variables.keys(), "extra vars would hide a template's own"
        tasks.append(
            {
                "name": f"Render {dest.name}",
                "ansible.builtin.template": {
                    "src": str(ROLE / "templates" / template),
                    "dest": str(dest),
                    "mode": "0644",
                },
                "vars": own,
            }
        )
    play = {
        "name": "Render templates of the controller role",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults/main.yml"), str(ROLE / "vars/main.yml")],
        "tasks": tasks,
    }
    playbook, extra = tmp / "render.yml", tmp / "render-vars.json"
    playbook.write_text(json.dumps([play]))  # JSON is YAML
    extra.write_text(json.dumps({**variables, "ansible_python_interpreter": sys.executable}))
    home = tmp / "ansible-home"
    env = {**os.environ, "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp")}
    result = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook), "-e", f"@{extra}"],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def consecutive_free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (controller_first_port)."""
    for _ in range(100):
        first = free_port()
        if first + count <= 65535 and all(_free(first + n) for n in range(1, count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def metric_page_has_figures(answer: Answer) -> bool:
    return "borne_http_request_duration_seconds" in answer.text


@contextlib.contextmanager
def enrolled_agent(city: City, certificate: Path, state_dir: Path) -> Iterator[None]:
    """A real agent of a public PC enrolled and running through nginx, trusting the city's
    certificate, with a token an admin's script asked for through nginx too."""
    [site] = [s for s in city.api("GET", "/api/v1/sites") if s["slug"] == SITE]
    issued = city.api("POST", "/api/v1/enrolment-tokens", {"site_id": site["id"], "kind": "pc"})
    env = {
        **os.environ,
        "SSL_CERT_FILE": str(certificate),
        "BORNE_AGENT_ACTIONS": "simulated",
        "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "2",
    }
    subprocess.run(
        [BORNE, "agent", "enrol", "--controller", city.url, "--kind", "pc",
         "--token", issued["token"], "--state-dir", str(state_dir)],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    city.agent_id = json.loads((state_dir / "credentials.json").read_text())["device_id"]
    with (state_dir / "agent.log").open("wb") as log:
        agent = subprocess.Popen(
            [BORNE, "agent", "run", "--state-dir", str(state_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        agent.terminate()
        agent.wait(timeout=15)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, postgres_base_url: str) -> Iterator[City]:
    tmp = tmp_path_factory.mktemp("city")
    https_port, http_port = free_port(), free_port()
    first_port = consecutive_free_ports(2)
    certificate, key = self_signed_certificate(tmp, "127.0.0.1")
    (tmp / "nginx-logs").mkdir()
    data_dir = tmp / "data"
    database_url = create_database(postgres_base_url, "borne_city")
    with redis_server() as redis_url:
        variables: dict[str, Any] = {
            "controller_server_name": "127.0.0.1",
            "controller_public_url": f"https://127.0.0.1:{https_port}",
            "controller_listen_addresses": ["127.0.0.1"],
            "controller_https_port": https_port,
            "controller_http_port": http_port,
            "controller_processes": 2,
            "controller_first_port": first_port,
            "controller_tls_certificate": str(certificate),
            "controller_tls_key": str(key),
            "controller_prometheus_addresses": [PROMETHEUS],
            "controller_nginx_log_dir": str(tmp / "nginx-logs"),
            "controller_data_dir": str(data_dir),
            "controller_database_url": database_url,
            "controller_redis_url": redis_url,
            # Only Redis may deliver a command to the other process's agent: the periodic sweep
            # for queued commands, which would too, waits a minute.
            "controller_extra_settings": {"housekeeping_interval_s": 60},
            # What the systemd units start, here: the borne command of this checkout.
            "controller_prefix": str(tmp / "prefix"),
            "controller_backup_script": str(tmp / "nightly-dump"),
        }
        (tmp / "prefix" / "venv" / "bin").mkdir(parents=True)
        (tmp / "prefix" / "venv" / "bin" / "borne").symlink_to(BORNE)
        (tmp / "units").mkdir()

        site, config, backups = (
            tmp / "borne-controller.conf",
            tmp / "controller.toml",
            tmp / "dumps",
        )
        dumps = {"controller_backup_dir": str(backups), "controller_backup_keep": 2}
        libpq_url = database_url.replace("postgresql+psycopg://", "postgresql://")
        render_with_ansible(
            tmp,
            variables,
            [
                ("nginx-site.conf.j2", site, {}),
                ("controller.toml.j2", config, {}),
                (
                    "borne-pg-dump.sh.j2",
                    tmp / "nightly-dump",
                    {**dumps, "controller_backup_database": libpq_url},
                ),
                (
                    "borne-pg-dump.sh.j2",
                    tmp / "dump-of-a-missing-database",
                    {**dumps, "controller_backup_database": f"{libpq_url}_missing"},
                ),
                *((f"{unit}.j2", tmp / "units" / unit, {}) for unit in UNITS),
            ],
        )
        for script in (tmp / "nightly-dump", tmp / "dump-of-a-missing-database"):
            script.chmod(0o755)  # as the role installs it
        # As the role does: one secret key for every process, made before any starts.
        data_dir.mkdir(mode=0o700)
        (data_dir / "secret_key").write_text("one key for every process of the city")
        (data_dir / "secret_key").chmod(0o600)
        processes = [
            ControllerProcess(data_dir, port=port, extra_env={"BORNE_CONFIG": str(config)})
            for port in (first_port, first_port + 1)
        ]
        first = processes[0]
        first.migrate()
        first.cli("places", "import", str(DEMO_PLACES))
        first.add_user("admin", PASSWORD)
        token = first.cli("api-token", "create", "admin", "--name", "topology test").strip()
        for process in processes:
            process.start()
        try:
            with nginx_server(site, [https_port, http_port]):
                city = City(
                    url=f"https://127.0.0.1:{https_port}",
                    http_url=f"http://127.0.0.1:{http_port}",
                    processes=processes,
                    tls=ssl.create_default_context(cafile=str(certificate)),
                    token=token,
                    backups=backups,
                    nightly_dump=tmp / "nightly-dump",
                    dump_of_a_missing_database=tmp / "dump-of-a-missing-database",
                    units=tmp / "units",
                )
                with enrolled_agent(city, certificate, tmp / "agent"):
                    yield city
        finally:
            for process in processes:
                process.stop()


def test_a_command_issued_on_one_process_reaches_the_agent_the_other_holds_through_nginx(city):
    # The agent enrolled and connected through nginx over TLS; one process holds its WebSocket.
    held = wait_until(
        lambda: (lambda counts: counts if sum(counts.values()) == 1 else None)(city.connections()),
        timeout=30,
        message="the agent's Socket.IO connection through nginx",
    )
    holder = next(p for p in city.processes if held[p.port] == 1)
    other = next(p for p in city.processes if p is not holder)

    [command] = city.api(
        "POST", "/api/v1/commands", {"name": "lock_screen", "device_ids": [city.agent_id]}, other
    )
    done = wait_until(
        lambda: (lambda c: c if c["state"] in ("done", "failed") else None)(
            city.api("GET", f"/api/v1/commands/{command['id']}", process=other)
        ),
        timeout=20,
        message="the command run by the agent",
    )
    assert done["state"] == "done"
    assert done["output"] == "simulated: 1 session locked"
    # Delivered through Redis, not by the agent moving to the process that issued it.
    assert city.connections() == held


def test_metrics_through_nginx_are_for_prometheus_only(city):
    refused = city.fetch("/metrics", source=ELSEWHERE)
    assert refused.status == 403 and not metric_page_has_figures(refused)
    for process in city.processes:
        one = city.fetch(f"/metrics/{process.port}", source=ELSEWHERE)
        assert one.status == 403 and not metric_page_has_figures(one)

    allowed = city.fetch("/metrics", source=PROMETHEUS)
    assert allowed.status == 200 and metric_page_has_figures(allowed)


def sign_in(
    city: City, username: str, password: str, source: str, **headers: str
) -> tuple[Answer, str]:
    """The sign-in form as a browser fills it, through nginx from ``source``: the answer to the
    form, and the cookies to send next (the session's, once signed in)."""
    page = city.fetch("/login", source=source)
    assert page.status == 200, page.text
    cookies = SimpleCookie()
    for value in page.headers.get_all("Set-Cookie") or []:
        cookies.load(value)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert csrf, "no CSRF token on the sign-in page"
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrf_token": csrf[1]}
    ).encode()
    answer = city.fetch(
        "/login",
        method="POST",
        body=form,
        source=source,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={m.value}" for k, m in cookies.items()),
            # A browser's; over HTTPS the form's CSRF check wants it to name this very site.
            "Referer": f"{city.url}/login",
            **headers,
        },
    )
    for value in answer.headers.get_all("Set-Cookie") or []:
        cookies.load(value)
    return answer, "; ".join(f"{k}={m.value}" for k, m in cookies.items())


def test_the_controller_sees_each_client_through_nginx_not_nginx(city):
    # Someone at another address fails to sign in, claiming to be elsewhere again.
    failed, _ = sign_in(city, "admin", "wrong", ELSEWHERE, **{"X-Forwarded-For": "203.0.113.9"})
    assert failed.status == 401, failed.text

    # The admin signs in through nginx (HTTPS, a secure cookie) and reads the audit log.
    signed_in, cookies = sign_in(city, "admin", PASSWORD, "127.0.0.1")
    assert signed_in.status == 302, signed_in.text
    log = city.fetch("/audit.csv?action=user.login_failed", headers={"Cookie": cookies})
    assert log.status == 200, log.text
    addresses = [
        json.loads(row["detail"])["address"] for row in csv.DictReader(io.StringIO(log.text))
    ]
    # The client's own address: not nginx's (127.0.0.1), not what the client claimed.
    assert addresses == [ELSEWHERE]


def test_plain_http_is_sent_to_https(city):
    answer = city.fetch("/fleet?site=1", base=city.http_url)
    assert answer.status == 301
    assert answer.headers["Location"] == f"{city.url}/fleet?site=1"


def test_a_browsers_socketio_session_stays_on_its_process(city):
    # A live page's Socket.IO starts with HTTP long-polling: each request must reach the process
    # that holds the session (any other answers 400 "Invalid session").
    opening = city.fetch("/socket.io/?EIO=4&transport=polling", source=ELSEWHERE)
    assert opening.status == 200 and opening.text.startswith("0"), opening.text
    sid = json.loads(opening.text[1:])["sid"]
    for _ in range(10):
        pong = city.fetch(
            f"/socket.io/?EIO=4&transport=polling&sid={sid}",
            method="POST",
            body=b"3",
            source=ELSEWHERE,
            headers={"Content-Type": "text/plain;charset=UTF-8"},
        )
        assert (pong.status, pong.text) == (200, "OK")


def test_the_nightly_dump_keeps_the_newest_and_never_loses_a_good_one(city):
    city.backups.mkdir(mode=0o700)
    for night in ("20240101", "20240102"):
        (city.backups / f"borne-{night}T031500Z.dump").write_bytes(b"an older dump")

    # A night when the database cannot be read: nothing is removed, nothing half-written.
    failed = subprocess.run([city.dump_of_a_missing_database], capture_output=True, timeout=60)
    assert failed.returncode != 0
    assert sorted(p.name for p in city.backups.iterdir()) == [
        "borne-20240101T031500Z.dump",
        "borne-20240102T031500Z.dump",
    ]

    ran = subprocess.run([city.nightly_dump], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    kept = sorted(p.name for p in city.backups.iterdir())
    assert len(kept) == 2 and kept[0] == "borne-20240102T031500Z.dump", kept
    newest = city.backups / kept[1]
    assert newest.stat().st_mode & 0o077 == 0  # only root reads the city's data
    listing = subprocess.run(
        ["pg_restore", "--list", str(newest)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE public devices" in listing and "TABLE public commands" in listing


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="apt-get install systemd")
def test_systemd_accepts_the_roles_units_as_written(city):
    # The template unit, as the instances the target wants (one per process's port).
    for process in city.processes:
        instance = city.units / f"borne-controller@{process.port}.service"
        shutil.copy(city.units / "borne-controller@.service", instance)
    units = [
        *sorted(city.units.glob("borne-controller@[0-9]*.service")),
        *(city.units / unit for unit in UNITS[1:]),
    ]
    verified = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True
    )
    # An unknown key or a bad value is only a warning to systemd: none may show.
    assert (verified.returncode, verified.stderr, verified.stdout) == (0, "", "")


def run_role_checks(tmp: Path, variables: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The role's own checks (tasks/checks.yml), which run before it changes anything."""
    play = {
        "name": "The controller role's checks",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults/main.yml"), str(ROLE / "vars/main.yml")],
        "tasks": [
            {"name": "Checks", "ansible.builtin.import_tasks": str(ROLE / "tasks/checks.yml")}
        ],
    }
    (tmp / "wheelhouse").mkdir(exist_ok=True)
    (tmp / "checks.yml").write_text(json.dumps([play]))
    (tmp / "checks.json").write_text(
        json.dumps(
            {
                "controller_wheelhouse": str(tmp / "wheelhouse"),
                **variables,
                "ansible_python_interpreter": sys.executable,
            }
        )
    )
    return subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,", "checks.yml", "-e", "@checks.json"],
        cwd=tmp,
        env={**os.environ, "ANSIBLE_HOME": str(tmp / "ansible-home")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_roles_defaults_pass_its_checks(tmp_path):
    checked = run_role_checks(tmp_path, {})
    assert checked.returncode == 0, checked.stdout[-2000:]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"controller_prometheus_addresses": ["192.0.2.7"]}, "set controller_metrics_token"),
        ({"controller_extra_settings": {"timezone": "UTC"}}, "controller_extra_settings sets"),
        ({"controller_tls_certificate": "/etc/ssl/city.pem"}, "controller_tls_key"),
        ({"controller_wheelhouse": "/nowhere"}, "no wheelhouse at /nowhere"),
    ],
)
def test_the_role_refuses_a_bad_setting_before_changing_anything(tmp_path, variables, named):
    checked = run_role_checks(tmp_path, variables)
    assert checked.returncode != 0
    assert named in checked.stdout
