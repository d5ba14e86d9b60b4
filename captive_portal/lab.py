"""``borne portal lab up|down``: a resident's phone, the hotspot and the internet on one machine.

Three network namespaces joined by veth pairs::

    <prefix>-client  eth0 ──── wifi0  <prefix>-gw  uplink0 ──── eth0  <prefix>-net
    10.42.3.254                10.42.0.1           198.51.100.2        198.51.100.1
    2001:db8:42::100           2001:db8:42::1      2001:db8:ff::2      2001:db8:ff::1
                               dnsmasq, nftables,                      "public" web server
                               the portal                              203.0.113.10 (sites, probes)
                                                                       203.0.113.20 (walled garden)
                                                                       DNS of the internet

The gateway runs exactly what a hotspot runs: the files ``borne portal render`` writes (dnsmasq,
the nftables table) and ``borne portal run`` with ``enforcement = "nft"`` and a self-signed
certificate. The client has a static address (at the end of the DHCP pool): Debian's base has no
DHCP client, and what matters here is the portal; dnsmasq still serves DHCP on the client link.

Everything the lab starts lives inside its namespaces and its run directory, so ``down`` finds
all of it again: processes by namespace, files by directory. ``down`` is idempotent; ``up`` on a
lab that is up is an error that says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import click

from borne.settings import ImproperlyConfigured
from captive_portal.ipplan import plan_client_network
from captive_portal.nft import in_netns
from captive_portal.render import DNSMASQ_FILE, NFT_FILE, render_files, write_files
from captive_portal.settings import PortalSettings, load_portal_settings

DEFAULT_RUN_DIR = Path("/run/borne-lab")
DEFAULT_PREFIX = "borne"

WIFI = "wifi0"  # the gateway's client side (a wifi card on a real hotspot)
UPLINK = "uplink0"
CLIENT_IF = "eth0"
NET_IF = "eth0"
TRANSIT_NET4, TRANSIT_GW4 = "198.51.100.1", "198.51.100.2"  # TEST-NET-2, RFC 5737
TRANSIT_NET6, TRANSIT_GW6 = "2001:db8:ff::1", "2001:db8:ff::2"
PUBLIC_SITE4, PUBLIC_SITE6 = "203.0.113.10", "2001:db8:cafe::10"  # TEST-NET-3
GARDEN_SITE4 = "203.0.113.20"
# A host of "the city's network" behind the uplink, which residents must never reach.
CITY_HOST4 = "10.99.0.10"
CLIENT_SUBNET6 = "2001:db8:42::/64"
CLIENT6 = "2001:db8:42::100"
PORTAL_HOSTNAME = "portail.lab.test"
PUBLIC_SITE = "site.lab.test"
GARDEN_DOMAIN = "garden.lab.test"
# Probe hosts of Android, Apple, Windows and Firefox, answered by the lab's internet.
PROBE_HOSTS = (
    "connectivitycheck.gstatic.com",
    "clients3.google.com",
    "captive.apple.com",
    "www.msftconnecttest.com",
    "www.msftncsi.com",
    "detectportal.firefox.com",
)
START_TIMEOUT_S = 15.0


@dataclasses.dataclass(frozen=True)
class Lab:
    """Where one lab lives: its namespaces' prefix and its run directory."""

    prefix: str = DEFAULT_PREFIX
    run_dir: Path = DEFAULT_RUN_DIR

    @property
    def client_ns(self) -> str:
        return f"{self.prefix}-client"

    @property
    def gw_ns(self) -> str:
        return f"{self.prefix}-gw"

    @property
    def net_ns(self) -> str:
        return f"{self.prefix}-net"

    @property
    def namespaces(self) -> tuple[str, str, str]:
        return (self.client_ns, self.gw_ns, self.net_ns)

    @property
    def config_file(self) -> Path:
        return self.run_dir / "portal.toml"

    @property
    def internet_log(self) -> Path:
        """One line per request that reached the lab's internet (``GET host path``)."""
        return self.run_dir / "internet-requests.log"

    @property
    def resolv_dir(self) -> Path:
        # `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
        return Path("/etc/netns") / self.client_ns

    def settings(self) -> PortalSettings:
        return load_portal_settings(config_file=self.config_file)

    def client_address(self) -> str:
        """The client's static IPv4 address: the last of the DHCP pool."""
        return str(plan_client_network(self.settings()).dhcp_last)


class LabError(click.ClickException):
    """The lab cannot be built or is in a state the command cannot handle; says what to do."""


# ---------------------------------------------------------------------------------------------
# up


def lab_up(
    lab: Lab, base_config: Path | None = None, *, portal_command: list[str] | None = None
) -> None:
    """Build the lab; on any failure, remove what was built and raise."""
    for netns in lab.namespaces:
        if Path("/run/netns", netns).exists():
            raise LabError(
                f"the lab is already up (namespace {netns} exists): "
                "run `borne portal lab down` first"
            )
    if lab.run_dir.exists() and any(lab.run_dir.iterdir()):
        raise LabError(f"{lab.run_dir} is not empty: run `borne portal lab down` first")
    lab.run_dir.mkdir(parents=True, exist_ok=True)
    try:
        settings = _write_lab_config(lab, base_config)
        build_network(lab, settings)
        _start_internet(lab)
        _start_gateway(lab, settings)
        start_portal(lab, portal_command)
    except BaseException:
        lab_down(lab)
        raise


def _write_lab_config(lab: Lab, base_config: Path | None) -> PortalSettings:
    """The resident-facing settings are the caller's; the network ones are the lab's."""
    base: dict[str, Any] = {}
    if base_config is not None:
        try:
            base = dict(tomllib.loads(base_config.read_text()).get("portal", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LabError(f"cannot read {base_config}: {exc}") from exc
    cert, key = _make_certificate(lab)
    garden = [d for d in base.get("walled_garden", []) if d != GARDEN_DOMAIN] + [GARDEN_DOMAIN]
    values = {
        **base,
        "wifi_interface": WIFI,
        "uplink_interface": UPLINK,
        "client_subnet": base.get("client_subnet", "10.42.0.0/22"),
        "client_subnet6": CLIENT_SUBNET6,
        "listen_address": "",
        "hostname": PORTAL_HOSTNAME,
        "tls_cert": str(cert),
        "tls_key": str(key),
        "enforcement": "nft",
        "walled_garden": garden,
        "state_dir": str(lab.run_dir / "state"),
        "runtime_dir": str(lab.run_dir / "run"),
    }
    (lab.run_dir / "state").mkdir(exist_ok=True)
    lab.config_file.write_text("[portal]\n" + "".join(_toml_line(k, v) for k, v in values.items()))
    try:
        settings = lab.settings()
        files = render_files(settings)
    except ImproperlyConfigured as exc:
        raise LabError(f"lab configuration: {exc}") from exc
    write_files(files, lab.run_dir / "etc")
    return settings


def _toml_line(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{key} = {'true' if value else 'false'}\n"
    if isinstance(value, int | float):
        return f"{key} = {value}\n"
    if isinstance(value, list | tuple):
        return f"{key} = [{', '.join(_toml_string(str(v)) for v in value)}]\n"
    return f"{key} = {_toml_string(str(value))}\n"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _make_certificate(lab: Lab) -> tuple[Path, Path]:
    """A self-signed certificate for the portal's name (the lab has no certificate authority)."""
    cert, key = lab.run_dir / "portal-cert.pem", lab.run_dir / "portal-key.pem"
    _run(
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "30", "-subj", f"/CN={PORTAL_HOSTNAME}",
        "-addext", f"subjectAltName=DNS:{PORTAL_HOSTNAME},IP:10.42.0.1",
        "-keyout", str(key), "-out", str(cert),
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def build_network(lab: Lab, settings: PortalSettings) -> None:
    """Namespaces, links, addresses and routes (no service yet); also used by bench/portal.py."""
    plan = plan_client_network(settings)
    client4 = f"{plan.dhcp_last}/{plan.subnet.prefixlen}"
    gateway4 = f"{plan.gateway}/{plan.subnet.prefixlen}"
    client, gw, net = lab.namespaces
    for netns in lab.namespaces:
        _run("ip", "netns", "add", netns)
        _run("ip", "-n", netns, "link", "set", "lo", "up")
    # Links are created inside the namespaces, so no name can clash with the host's.
    _run(
        "ip",
        "-n",
        gw,
        "link",
        "add",
        WIFI,
        "type",
        "veth",
        "peer",
        "name",
        CLIENT_IF,
        "netns",
        client,
    )
    _run(
        "ip", "-n", gw, "link", "add", UPLINK, "type", "veth", "peer", "name", NET_IF, "netns", net
    )
    for netns, key, value in (
        (gw, "net.ipv4.ip_forward", "1"),
        (gw, "net.ipv6.conf.all.forwarding", "1"),
        # The client keeps its static IPv6 address only (no SLAAC address to grant instead).
        (client, f"net.ipv6.conf.{CLIENT_IF}.accept_ra", "0"),
        (client, f"net.ipv6.conf.{CLIENT_IF}.autoconf", "0"),
    ):
        _run("ip", "netns", "exec", netns, "sysctl", "-q", "-w", f"{key}={value}")
    addresses = (
        (client, CLIENT_IF, client4), (client, CLIENT_IF, f"{CLIENT6}/64"),
        (gw, WIFI, gateway4), (gw, WIFI, f"{plan.gateway6}/64"),
        (gw, UPLINK, f"{TRANSIT_GW4}/24"), (gw, UPLINK, f"{TRANSIT_GW6}/64"),
        (net, NET_IF, f"{TRANSIT_NET4}/24"), (net, NET_IF, f"{TRANSIT_NET6}/64"),
        (net, "lo", f"{PUBLIC_SITE4}/32"), (net, "lo", f"{GARDEN_SITE4}/32"),
        (net, "lo", f"{PUBLIC_SITE6}/128"), (net, "lo", f"{CITY_HOST4}/32"),
    )  # fmt: skip
    for netns, dev, address in addresses:
        _run(
            "ip",
            "-n",
            netns,
            "address",
            "add",
            address,
            "dev",
            dev,
            *(["nodad"] if ":" in address else []),
        )
    for netns, dev in ((client, CLIENT_IF), (gw, WIFI), (gw, UPLINK), (net, NET_IF)):
        _run("ip", "-n", netns, "link", "set", dev, "up")
    routes = (
        (client, "default", str(plan.gateway)), (client, "-6 default", str(plan.gateway6)),
        (gw, "default", TRANSIT_NET4), (gw, "-6 default", TRANSIT_NET6),
        # IPv6 is routed, not translated: the internet knows the way back to the clients.
        (net, f"-6 {CLIENT_SUBNET6}", TRANSIT_GW6),
    )  # fmt: skip
    for netns, destination, via in routes:
        family, _, dest = destination.rpartition(" ")
        _run("ip", "-n", netns, *([family] if family else []), "route", "add", dest, "via", via)
    lab.resolv_dir.mkdir(parents=True, exist_ok=True)
    (lab.resolv_dir / "resolv.conf").write_text(f"nameserver {plan.gateway}\n")


def _start_internet(lab: Lab) -> None:
    """The internet's DNS (a dnsmasq that knows the lab's names) and its web server."""
    names = [PUBLIC_SITE, *PROBE_HOSTS]
    _spawn(
        lab, "internet-dns", lab.net_ns,
        ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
         "--bind-interfaces", f"--listen-address={TRANSIT_NET4}", "--user=root",
         *(f"--address=/{name}/{PUBLIC_SITE4}" for name in names),
         f"--address=/{GARDEN_DOMAIN}/{GARDEN_SITE4}"],
    )  # fmt: skip
    lab.internet_log.touch()
    _spawn(
        lab, "internet-web", lab.net_ns,
        [sys.executable, "-m", "captive_portal.lab_internet", "--log", str(lab.internet_log),
         "--cert", str(lab.run_dir / "portal-cert.pem"),
         "--key", str(lab.run_dir / "portal-key.pem")],
    )  # fmt: skip
    wait_for_port(lab.net_ns, PUBLIC_SITE4, 80)
    wait_for_port(lab.net_ns, TRANSIT_NET4, 53)


def _start_gateway(lab: Lab, settings: PortalSettings) -> None:
    """The hotspot's own services from the rendered files: nftables first, then dnsmasq."""
    apply_portal_table(lab)
    _spawn(
        lab, "gateway-dnsmasq", lab.gw_ns,
        ["dnsmasq", "--keep-in-foreground", f"--conf-file={lab.run_dir / 'etc' / DNSMASQ_FILE}",
         "--no-resolv", "--no-hosts", f"--server={TRANSIT_NET4}", "--user=root",
         f"--dhcp-leasefile={lab.run_dir / 'dnsmasq.leases'}"],
    )  # fmt: skip
    wait_for_port(lab.gw_ns, settings.gateway_address, 53)


def apply_portal_table(lab: Lab) -> None:
    """Apply the rendered table, as the hotspot's service does before each portal start."""
    _run("ip", "netns", "exec", lab.gw_ns, "nft", "-f", str(lab.run_dir / "etc" / NFT_FILE))


def start_portal(lab: Lab, portal_command: list[str] | None = None) -> None:
    """``borne portal run`` in the gateway (or ``portal_command``, given the config path)."""
    command = portal_command or [_borne(), "portal", "run", "--config", str(lab.config_file)]
    _spawn(lab, "portal", lab.gw_ns, command)
    settings = lab.settings()
    try:
        wait_for_port(lab.gw_ns, settings.gateway_address, settings.http_port, name="portal")
    except LabError as exc:
        log = (lab.run_dir / "portal.log").read_text(errors="replace").splitlines()[-15:]
        raise LabError(f"{exc.message}; its log ends with:\n" + "\n".join(log)) from exc
    _warm_up(lab.gw_ns, settings.gateway_address, settings.http_port)


def _warm_up(netns: str, address: str, port: int) -> None:
    """One request, so the first resident does not wait for the portal's lazy start-up."""
    with in_netns(netns):
        connection = socket.create_connection((address, port), timeout=START_TIMEOUT_S)
    with connection:
        connection.sendall(f"GET / HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
        connection.recv(1024)


def restart_portal(lab: Lab, portal_command: list[str] | None = None) -> None:
    """Stop the portal, re-apply its table and start it again (what a service restart does)."""
    _stop_pid(lab, "portal")
    apply_portal_table(lab)
    start_portal(lab, portal_command)


def _borne() -> str:
    beside = Path(sys.executable).with_name("borne")
    return str(beside) if beside.exists() else "borne"


# ---------------------------------------------------------------------------------------------
# down


def lab_down(lab: Lab) -> None:
    """Remove every process, namespace and file of the lab; fine to run when nothing is up."""
    present = [ns for ns in lab.namespaces if Path("/run/netns", ns).exists()]
    pids = []
    for netns in present:
        listing = subprocess.run(
            ["ip", "netns", "pids", netns], capture_output=True, text=True, check=False
        )
        pids += [int(pid) for pid in listing.stdout.split()]
    _terminate(pids)
    for netns in present:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
    shutil.rmtree(lab.resolv_dir, ignore_errors=True)
    shutil.rmtree(lab.run_dir, ignore_errors=True)


def _terminate(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM every process (all of them are inside the lab's namespaces), SIGKILL stragglers."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _alive(pid: int) -> bool:
    """Running, and not a zombie (reaped here when it is a child of this process)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _stop_pid(lab: Lab, name: str) -> None:
    pid_file = lab.run_dir / f"{name}.pid"
    if pid_file.exists():
        _terminate([int(pid_file.read_text())])
        pid_file.unlink()


# ---------------------------------------------------------------------------------------------
# helpers


def _run(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"{' '.join(command)}: {result.stderr.strip() or result.returncode}")


def _spawn(lab: Lab, name: str, netns: str, command: list[str]) -> None:
    """Start ``command`` in ``netns``, detached, output to ``<run_dir>/<name>.log``."""
    log = (lab.run_dir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        ["ip", "netns", "exec", netns, *command],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # survives `borne portal lab up` returning
    )
    log.close()
    (lab.run_dir / f"{name}.pid").write_text(str(process.pid))


def wait_for_port(netns: str, address: str, port: int, *, name: str = "") -> None:
    """Wait until something accepts TCP on ``address:port`` inside ``netns``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with in_netns(netns):
            probe = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        try:
            probe.settimeout(0.5)
            probe.connect((address, port))
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise LabError(
                    f"{name or 'service'} did not start on {address}:{port} in {netns}: {exc}"
                ) from exc
            time.sleep(0.1)
        finally:
            probe.close()


# ---------------------------------------------------------------------------------------------
# the commands

_prefix_option = click.option(
    "--prefix", default=DEFAULT_PREFIX, show_default=True, help="Prefix of the namespaces' names."
)
_run_dir_option = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_RUN_DIR,
    show_default=True,
    help="Where the lab keeps its configuration, logs and pids.",
)


@click.group()
def lab() -> None:
    """Try the portal on this machine: client, gateway and internet in network namespaces."""


@lab.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Portal settings to try (the lab sets the network ones).",
)
@_prefix_option
@_run_dir_option
def up(config_file: Path | None, prefix: str, run_dir: Path) -> None:
    """Build the lab and start dnsmasq, nftables, the portal and the fake internet."""
    the_lab = Lab(prefix, run_dir)
    lab_up(the_lab, config_file)
    settings = the_lab.settings()
    click.echo(
        f"lab up. Try, as root:\n"
        f"  ip netns exec {the_lab.client_ns} curl -i http://{PUBLIC_SITE}/\n"
        f"  ip netns exec {the_lab.client_ns} curl -d accept=1 "
        f"http://{PORTAL_HOSTNAME}:{settings.http_port}/connect\n"
        f"logs and configuration: {run_dir}; remove it with: borne portal lab down"
    )


@lab.command()
@_prefix_option
@_run_dir_option
def down(prefix: str, run_dir: Path) -> None:
    """Remove the lab: its processes, namespaces and files (nothing to do if it is not up)."""
    lab_down(Lab(prefix, run_dir))
    click.echo("lab down")
