"""``borne demo``: the whole system on one machine, on the embedded default (SQLite).

A controller on 127.0.0.1:8000, six real agent processes in sandbox directories (three public
PCs, one charging kiosk, two hotspots, on two sites of two organisations) that enrol with tokens
and send heartbeats, and each hotspot's own captive portal, on 127.0.0.1:8080 and 8081 (clients
kept in memory: no nftables on a developer's machine), whose statistics its agent forwards.
Everything lives in one directory (``var/demo`` by default), made anew at each start. Ctrl-C
stops every process.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import click

from controller.cli import port_refusal

DEMO_PLACES = Path(__file__).resolve().parents[1] / "controller" / "data" / "demo-places.csv"


@dataclass(frozen=True)
class DemoDevice:
    name: str
    kind: str
    site: str  # slug in demo-places.csv


DEVICES = [
    DemoDevice("bib-centre-pc-1", "pc", "grenoble-bib-centre-ville"),
    DemoDevice("bib-centre-pc-2", "pc", "grenoble-bib-centre-ville"),
    DemoDevice("bib-centre-wifi", "hotspot", "grenoble-bib-centre-ville"),
    DemoDevice("mdh-teisseire-pc-1", "pc", "grenoble-mdh-teisseire"),
    DemoDevice("mdh-teisseire-casiers", "kiosk", "grenoble-mdh-teisseire"),
    DemoDevice("mdh-teisseire-wifi", "hotspot", "grenoble-mdh-teisseire"),
]
HOTSPOTS = [device for device in DEVICES if device.kind == "hotspot"]


@click.command()
@click.option(
    "--dir",
    "demo_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo keeps its files.",
)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--portal-port",
    type=int,
    default=8080,
    show_default=True,
    help="The first hotspot's portal; the next one's is the port after.",
)
@click.option(
    "--kiosk-port",
    type=int,
    default=8090,
    show_default=True,
    help="The charging kiosk's touch page (eight simulated lockers).",
)
@click.option(
    "--heartbeat",
    type=int,
    default=5,
    show_default=True,
    help="Seconds between the simulated devices' heartbeats.",
)
def demo(demo_dir: Path, port: int, portal_port: int, kiosk_port: int, heartbeat: int) -> None:
    """Run a controller and six simulated devices; Ctrl-C stops everything."""
    demo_dir = demo_dir.resolve()
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BORNE_DATA_DIR": str(demo_dir / "controller")}
    env.pop("BORNE_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    borne = str(Path(sys.executable).parent / "borne")
    children: list[subprocess.Popen[bytes]] = []

    def stop_all(*_: object) -> None:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    for wanted in (port, kiosk_port, *_portal_ports(portal_port).values()):
        refusal = port_refusal("127.0.0.1", wanted)
        if refusal:
            raise click.ClickException(
                refusal.replace("(--port)", "(--port, --portal-port, --kiosk-port)")
            )
    try:
        click.echo("Preparing the database (SQLite, Alembic migrations) and demo data…")
        admin_password, mediator_password, tokens = _prepare(env, demo_dir)

        log = (demo_dir / "controller.log").open("ab")
        children.append(
            subprocess.Popen(
                [borne, "controller", "run", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_healthy(url, children[0], demo_dir / "controller.log")

        # Each hotspot its own portal, on its own port: changing one changes no other.
        portals = _portal_ports(portal_port)
        for device in HOTSPOTS:
            portal_dir = demo_dir / "portals" / device.name
            portal_dir.mkdir(parents=True)
            portal_env = {
                **env,
                "BORNE_PORTAL_LISTEN_ADDRESS": "127.0.0.1",
                "BORNE_PORTAL_HTTP_PORT": str(portals[device.name]),
                "BORNE_PORTAL_STATE_DIR": str(portal_dir),
                "BORNE_PORTAL_RUNTIME_DIR": str(portal_dir / "run"),
                "BORNE_PORTAL_HOSTNAME": "127.0.0.1",
            }
            children.append(
                subprocess.Popen(
                    [borne, "portal", "run", "--memory"],
                    env=portal_env,
                    stdout=(portal_dir / "portal.log").open("ab"),
                    stderr=subprocess.STDOUT,
                )
            )

        for device, token in zip(DEVICES, tokens, strict=True):
            state_dir = demo_dir / "agents" / device.name
            agent_env = {
                **env,
                # Simulated devices: commands are acted out, not run on this machine.
                "BORNE_AGENT_ACTIONS": "simulated",
                "BORNE_AGENT_HEARTBEAT_INTERVAL_S": str(heartbeat),
                "BORNE_AGENT_DEVICE_NAME": device.name,
                "BORNE_AGENT_PORTAL_STATE_DIR": str(demo_dir / "portals" / device.name),
                # The kiosk: its touch page, and a hand that shuts each locker's door 5 s
                # after it sprang open (the simulated bank has no real door to push).
                "BORNE_AGENT_KIOSK_PORT": str(kiosk_port),
                "BORNE_AGENT_KIOSK_SIMULATED_HAND_S": "5",
            }
            subprocess.run(
                [
                    borne,
                    "agent",
                    "enrol",
                    "--controller",
                    url,
                    "--token",
                    token,
                    "--kind",
                    device.kind,
                    "--state-dir",
                    str(state_dir),
                ],
                env=agent_env,
                check=True,
                capture_output=True,
            )
            agent_log = (state_dir / "agent.log").open("ab")
            children.append(
                subprocess.Popen(
                    [borne, "agent", "run", "--state-dir", str(state_dir)],
                    env=agent_env,
                    stdout=agent_log,
                    stderr=subprocess.STDOUT,
                )
            )

        _print_welcome(url, admin_password, mediator_password, demo_dir, portals, kiosk_port)
        signal.signal(signal.SIGTERM, _interrupt)  # stop like Ctrl-C when asked to
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = next(child for child in children if child.poll() is not None)
        raise click.ClickException(
            f"a demo process stopped unexpectedly ({' '.join(map(str, failed.args[:3]))}); "
            f"see the logs in {demo_dir}"
        )
    except KeyboardInterrupt:
        click.echo("\nStopping the demo…")
    except subprocess.CalledProcessError as exc:
        raise click.ClickException(
            f"{' '.join(map(str, exc.cmd[:3]))} failed: {exc.stderr.decode(errors='replace')}"
        ) from None
    finally:
        stop_all()
    click.echo("Demo stopped.")


def _portal_ports(first: int) -> dict[str, int]:
    """Each demo hotspot's portal port, from ``first`` on."""
    return {device.name: first + n for n, device in enumerate(HOTSPOTS)}


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _prepare(env: dict[str, str], demo_dir: Path) -> tuple[str, str, list[str]]:
    """Migrate, import places, create two staff accounts and one token per device."""
    from agent.protocol import DeviceKind
    from controller import migrate
    from controller.access import Role
    from controller.accounts import service as users
    from controller.app import load_models
    from controller.config import load_controller_settings, private_data_dir
    from controller.db import Database
    from controller.fleet import enrolment
    from controller.places import open_data
    from controller.places import service as places

    load_models()  # every domain's tables, for the services below
    settings = load_controller_settings(env)
    private_data_dir(settings)
    migrate.upgrade(settings.sqlalchemy_url)
    database = Database(settings.sqlalchemy_url)
    admin_password = secrets.token_urlsafe(9)
    mediator_password = secrets.token_urlsafe(9)
    with database.session() as session:
        open_data.import_places(session, "demo", DEMO_PLACES, timezone=settings.timezone)
        users.create_user(
            session,
            "demo",
            username="admin",
            password=admin_password,
            role=Role.ADMIN,
            full_name="City IT (demo)",
        )
        users.create_user(
            session,
            "demo",
            username="mediateur",
            password=mediator_password,
            role=Role.MEDIATOR,
            full_name="Médiatrice MDH Teisseire (demo)",
            sites=["grenoble-mdh-teisseire"],
        )
        tokens = [
            enrolment.create_token(
                session,
                "demo",
                places.find_site(session, d.site),
                ttl=timedelta(hours=1),
                kind=DeviceKind(d.kind),
                note=f"demo {d.name}",
            ).token
            for d in DEVICES
        ]
    database.dispose()
    (demo_dir / "credentials.txt").write_text(
        f"admin {admin_password}\nmediateur {mediator_password}\n"
    )
    return admin_password, mediator_password, tokens


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"the controller did not start:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 (our http URL)
                return
        except OSError:
            time.sleep(0.2)
    raise click.ClickException(f"the controller did not answer on {url} within 30 s")


def _print_welcome(
    url: str,
    admin_password: str,
    mediator_password: str,
    demo_dir: Path,
    portals: dict[str, int],
    kiosk_port: int,
) -> None:
    portal_lines = "\n".join(
        f"  {name}: http://127.0.0.1:{port}/" for name, port in portals.items()
    )
    click.echo(f"""
borne demo is running: {url}
The wifi portals as a resident sees them:
{portal_lines}
The charging kiosk's screen (eight simulated lockers): http://127.0.0.1:{kiosk_port}/

  Sign in as city IT:      admin / {admin_password}
  or as a mediator:        mediateur / {mediator_password}   (sees MDH Teisseire only)

What to try:
  - the fleet page: six devices on two sites come online within seconds, live;
  - open a device: its inventory and latest metrics;
  - Tokens: make an enrolment token and enrol one more device from another shell:
      export BORNE_AGENT_ACTIONS=simulated   # acts out commands: nothing runs on this machine
      .venv/bin/borne agent enrol --controller {url} --token <token> --state-dir /tmp/my-agent
      .venv/bin/borne agent run --state-dir /tmp/my-agent
  - stop one agent (kill it): after three missed heartbeats it turns offline on the page;
  - a public PC: "Reset now" (as the mediator too): the result, then the wipe report, live;
  - a portal: tap Connect in any language; within a minute that hotspot's page
    counts the connection (no address is ever sent);
  - on that page, set the portal to "code": within seconds that portal (and no other)
    asks for the code of the day, which the page shows;
  - the kiosk: "Charge my phone", a locker opens (a hand shuts it 5 s later), the
    code; "Take my phone back" with it; on the kiosk's page (as admin) its lockers, live,
    and "Open a locker" for staff;
  - the API:        curl {url}/api/v1/openapi.json
  - the metrics:    curl {url}/metrics
  - the audit log:  Audit, signed in as admin.

Files and logs: {demo_dir}    Press Ctrl-C to stop everything.
""")
