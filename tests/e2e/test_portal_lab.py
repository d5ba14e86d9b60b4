"""The captive portal end to end, in the lab: curl from the client namespace, through the real
gateway (dnsmasq, nftables, ``borne portal run``), to the lab's internet."""

from __future__ import annotations

import dataclasses
import ipaddress
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from captive_portal.lab import (
    CITY_HOST4,
    CLIENT6,
    CLIENT_IF,
    GARDEN_DOMAIN,
    GARDEN_SITE4,
    PUBLIC_SITE,
    PUBLIC_SITE4,
    PUBLIC_SITE6,
    Lab,
    apply_portal_table,
    lab_down,
    lab_up,
    restart_portal,
    wait_for_port,
)
from captive_portal.lab_internet import PROBE_ANSWERS, PUBLIC_SITE_MARK
from captive_portal.nft import NftClientAccess, apply_ruleset, in_netns, portal_ruleset
from tests.polling import wait_for

pytestmark = pytest.mark.e2e

PROBES = {
    "http://connectivitycheck.gstatic.com/generate_204": "/generate_204",
    "http://captive.apple.com/hotspot-detect.html": "/hotspot-detect.html",
    "http://www.msftconnecttest.com/connecttest.txt": "/connecttest.txt",
    "http://www.msftncsi.com/ncsi.txt": "/ncsi.txt",
    "http://detectportal.firefox.com/success.txt": "/success.txt",
}


@dataclasses.dataclass(frozen=True)
class Answer:
    exit_code: int  # curl's: 0 ok, 7 connection refused (a TCP reset to our SYN), 28 timeout
    status: int
    body: str
    redirect: str
    seconds: float


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    the_lab = Lab(prefix=f"bte-{secrets.token_hex(3)}", run_dir=tmp_path_factory.mktemp("lab"))
    try:
        lab_up(the_lab)
        yield the_lab
    finally:
        lab_down(the_lab)
    assert not any(Path("/run/netns", ns).exists() for ns in the_lab.namespaces)


@pytest.fixture
def access(lab: Lab) -> Iterator[NftClientAccess]:
    """The gateway's authorised clients, starting each test with the client not connected."""
    client_access = NftClientAccess(lab.settings(), netns=lab.gw_ns)
    # Both of the client's addresses: one tap lets a dual-stack device out on both.
    client_access.revoke(ipaddress.ip_address(lab.client_address()))
    client_access.revoke(ipaddress.ip_address(CLIENT6))
    yield client_access
    client_access.close()


def curl(lab: Lab, *args: str, timeout: float = 5) -> Answer:
    started = time.monotonic()
    result = subprocess.run(
        ["ip", "netns", "exec", lab.client_ns, "curl", "-s", "-k", "-m", str(timeout),
         "-w", "\n%{http_code} %{redirect_url}", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    body, _, last = result.stdout.rpartition("\n")
    status, _, redirect = last.partition(" ")
    return Answer(result.returncode, int(status or 0), body, redirect, time.monotonic() - started)


def online_answer(path: str) -> tuple[int, str]:
    status, _, body = PROBE_ANSWERS[path]
    return status, body.decode()


def connect(lab: Lab) -> Answer:
    settings = lab.settings()
    return curl(lab, "-d", "accept=1", f"http://{settings.hostname}:{settings.http_port}/connect")


def test_before_connecting_the_web_leads_to_the_portal_and_probes_fail(
    lab: Lab, access: NftClientAccess
) -> None:
    settings = lab.settings()
    portal = f"http://{settings.gateway_address}:{settings.http_port}/"
    lab.internet_log.write_text("")

    site = curl(lab, f"http://{PUBLIC_SITE}/some/page")
    assert (site.status, site.redirect) == (302, portal)
    splash = curl(lab, "-L", f"http://{PUBLIC_SITE}/")
    assert splash.status == 200 and "accept" in splash.body  # the portal's form
    for url, path in PROBES.items():
        probe = curl(lab, url)
        assert (probe.status, probe.body) != online_answer(path), url
        assert probe.redirect == portal, url
    assert lab.internet_log.read_text() == ""  # nothing reached the internet


def test_before_connecting_everything_else_is_refused_at_once(
    lab: Lab, access: NftClientAccess
) -> None:
    for url in (f"https://{PUBLIC_SITE4}/", f"https://[{PUBLIC_SITE6}]/"):
        refused = curl(lab, url)
        # curl's 7 is "connection refused": the gateway answered with a TCP reset (a dropped
        # packet would end in curl's 28, a timeout), so the phone notices the portal at once.
        assert refused.exit_code == 7, url


def test_walled_garden_answers_before_connecting(lab: Lab, access: NftClientAccess) -> None:
    garden = curl(lab, f"http://{GARDEN_DOMAIN}/")

    assert garden.status == 200
    assert f"{PUBLIC_SITE_MARK} {GARDEN_DOMAIN}" in garden.body
    # dnsmasq put the address it resolved into the portal's garden set.
    listing = subprocess.run(
        ["ip", "netns", "exec", lab.gw_ns, "nft", "list", "set", "inet",
         lab.settings().nft_table, "garden4"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert GARDEN_SITE4 in listing


def test_after_connecting_sites_and_probes_succeed(lab: Lab, access: NftClientAccess) -> None:
    tapped = connect(lab)
    assert tapped.status == 303, tapped.body

    site = curl(lab, f"http://{PUBLIC_SITE}/")
    assert site.status == 200 and f"{PUBLIC_SITE_MARK} {PUBLIC_SITE}" in site.body
    for url, path in PROBES.items():
        probe = curl(lab, url)
        assert (probe.status, probe.body) == online_answer(path), url
    assert curl(lab, f"https://{PUBLIC_SITE4}/").status == 200
    remaining = access.remaining(ipaddress.ip_address(lab.client_address()))
    assert remaining is not None and remaining > lab.settings().session_s - 60


def test_a_connected_client_never_reaches_the_citys_own_network(
    lab: Lab, access: NftClientAccess
) -> None:
    connect(lab)
    before = lab.internet_log.read_text()

    refused = curl(lab, f"http://{CITY_HOST4}/")

    assert refused.exit_code == 7  # reset by the gateway
    assert lab.internet_log.read_text() == before  # nothing reached the host
    assert curl(lab, f"http://{PUBLIC_SITE}/").status == 200  # the internet still is


def test_captive_api_over_https_says_the_client_is_captive_then_not(
    lab: Lab, access: NftClientAccess
) -> None:
    settings = lab.settings()
    api = f"https://{settings.hostname}:{settings.https_port}/api/captive"

    before = curl(lab, api)
    connect(lab)
    after = curl(lab, api)

    assert '"captive":true' in before.body.replace(" ", "")
    assert '"captive":false' in after.body.replace(" ", "")


def test_session_expiry_blocks_the_client_again(lab: Lab, access: NftClientAccess) -> None:
    client = ipaddress.ip_address(lab.client_address())
    # A four-second session, through the portal's own interface: long enough that the first
    # curl lands inside it even on a loaded machine.
    access.grant(client, 4)
    assert curl(lab, f"http://{PUBLIC_SITE}/").status == 200

    assert wait_for(lambda: curl(lab, f"http://{PUBLIC_SITE}/").status == 302, timeout=12)
    assert curl(lab, f"https://{PUBLIC_SITE4}/").exit_code == 7


def test_restarting_the_portal_keeps_the_client_connected(
    lab: Lab, access: NftClientAccess
) -> None:
    assert connect(lab).status == 303

    restart_portal(lab)  # stops it, re-applies the nftables table, starts it again

    site = curl(lab, f"http://{PUBLIC_SITE}/")
    assert site.status == 200 and PUBLIC_SITE_MARK in site.body
    assert access.remaining(ipaddress.ip_address(lab.client_address())) is not None


def test_a_new_ipv6_privacy_address_of_a_connected_phone_gets_out_within_seconds(
    lab: Lab, access: NftClientAccess
) -> None:
    privacy = "2001:db8:42::7a3f"
    assert connect(lab).status == 303
    # The phone makes a new temporary address (RFC 8981) and opens connections from it.
    subprocess.run(
        ["ip", "-n", lab.client_ns, "addr", "add", f"{privacy}/64", "dev", CLIENT_IF, "nodad"],
        check=True,
    )
    try:
        site = f"http://[{PUBLIC_SITE6}]/"
        # The first try is refused, and its reset teaches the gateway the new address; the
        # portal's next refresh (every 10 s) finds it under the phone's MAC and lets it out.
        answer = wait_for(
            lambda: (a := curl(lab, "--interface", privacy, site)).status == 200 and a,
            timeout=30,
            what="the new address let out",
            interval=0.5,
        )
        assert PUBLIC_SITE_MARK in answer.body
        tapped = access.remaining(ipaddress.ip_address(lab.client_address()))
        followed = access.remaining(ipaddress.ip_address(privacy))
        assert tapped is not None and followed is not None
        assert followed <= tapped + 1  # the session's time left, not a new session
    finally:
        subprocess.run(
            ["ip", "-n", lab.client_ns, "addr", "del", f"{privacy}/64", "dev", CLIENT_IF],
            check=False,
        )
        access.revoke(ipaddress.ip_address(privacy))


# A web server in the lab's internet that sends or swallows a given number of bytes.
TRANSFER_SERVER = """
import http.server, sys
SIZE = int(sys.argv[2])  # a multiple of 64 KiB
class Transfer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(SIZE))
        self.end_headers()
        chunk = bytes(65536)
        for _ in range(SIZE // len(chunk)):
            self.wfile.write(chunk)
    def do_PUT(self):
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, 65536)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer((sys.argv[1], 9000), Transfer).serve_forever()
"""


TRANSFER_SIZE = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def transfer_server(lab: Lab) -> Iterator[int]:
    """The transfer server on every internet address, port 9000 (not a web port)."""
    everywhere = "0.0.0.0"  # noqa: S104  # inside the lab's internet namespace
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.net_ns, "python3", "-c", TRANSFER_SERVER, everywhere,
         str(TRANSFER_SIZE)],
    )  # fmt: skip
    try:
        wait_for_port(lab.net_ns, PUBLIC_SITE4, 9000, name="transfer server")
        yield 9000
    finally:
        server.terminate()
        server.wait(10)


def transfer(lab: Lab, host: str, port: int, *args: str) -> tuple[int, float]:
    """Bytes moved and seconds taken by one curl from the client to the transfer server."""
    result = subprocess.run(
        ["ip", "netns", "exec", lab.client_ns, "curl", "-s", "-f", "-m", "60", "-o", "/dev/null",
         "-w", "%{size_download} %{size_upload} %{time_total}", *args, f"http://{host}:{port}/"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    down, up, seconds = result.stdout.split()
    return int(down) + int(up), float(seconds)


def test_the_walled_garden_opens_web_ports_only(
    lab: Lab, access: NftClientAccess, transfer_server: int
) -> None:
    assert curl(lab, f"http://{GARDEN_DOMAIN}/").status == 200
    # The same garden host on another port: a VPN or a tunnel there would be the whole internet.
    other_port = curl(lab, f"http://{GARDEN_SITE4}:{transfer_server}/")
    assert other_port.exit_code == 7  # a TCP reset from the gateway
    access.grant(ipaddress.ip_address(lab.client_address()), 600)
    assert transfer(lab, GARDEN_SITE4, transfer_server)[0] == TRANSFER_SIZE


def test_before_connecting_dns_to_any_server_is_answered_by_the_gateway(
    lab: Lab, access: NftClientAccess
) -> None:
    # Nothing listens on port 53 at the garden host: an answer can only be the gateway's.
    for server in (GARDEN_SITE4, "192.0.2.53"):
        answer = dns_query(lab.client_ns, server, PUBLIC_SITE)
        assert ipaddress.ip_address(PUBLIC_SITE4).packed in answer, server


def dns_query(netns: str, server: str, name: str, timeout: float = 5) -> bytes:
    """One DNS query (RFC 1035) for ``name``'s A record over UDP; the raw answer."""
    query_id = secrets.randbits(16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + b"\0\1\0\1"
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(timeout)
        sock.sendto(query, (server, 53))
        answer, _ = sock.recvfrom(512)
    assert struct.unpack("!H", answer[:2])[0] == query_id
    return answer


def test_a_bandwidth_limit_holds_each_client_to_its_rate_both_ways(
    lab: Lab, access: NftClientAccess, transfer_server: int, tmp_path: Path
) -> None:
    limited = dataclasses.replace(lab.settings(), bandwidth_kbit=8000)  # 1 MB/s each way
    rate = limited.bandwidth_kbit * 1000 / 8
    # The meter lets a one-second burst through, then `rate`: a floor no veth pair, however
    # busy the machine, would take without the limit (a few milliseconds for 4 MiB).
    floor_s = (TRANSFER_SIZE - rate) / rate * 0.9
    upload = tmp_path / "upload.bin"
    upload.write_bytes(bytes(TRANSFER_SIZE))
    apply_ruleset(portal_ruleset(limited, gateway6=limited.gateway_address6), netns=lab.gw_ns)
    try:
        access.grant(ipaddress.ip_address(lab.client_address()), 600)
        downloaded, download_s = transfer(lab, PUBLIC_SITE4, transfer_server)
        uploaded, upload_s = transfer(lab, PUBLIC_SITE4, transfer_server, "-T", str(upload))
    finally:
        apply_portal_table(lab)  # the lab's own table again, without the limit

    assert (downloaded, uploaded) == (TRANSFER_SIZE, TRANSFER_SIZE)  # slowed, never cut off
    assert download_s >= floor_s, f"4 MiB down in {download_s:.2f} s"
    assert upload_s >= floor_s, f"4 MiB up in {upload_s:.2f} s"


def test_dhcp_offer_points_at_the_captive_api_rfc8910(lab: Lab) -> None:
    settings = lab.settings()

    options = dhcp_discover(lab.client_ns, CLIENT_IF)

    assert options[114].decode() == (
        f"https://{settings.hostname}:{settings.https_port}/api/captive"
    )
    assert socket.inet_ntoa(options[3]) == settings.gateway_address  # router


def test_dhcpv6_reply_points_at_the_captive_api_rfc8910(lab: Lab) -> None:
    settings = lab.settings()

    options = dhcpv6_information_request(lab.client_ns, CLIENT_IF)

    assert options[103].decode() == (
        f"https://{settings.hostname}:{settings.https_port}/api/captive"
    )
    assert socket.inet_ntop(socket.AF_INET6, options[23][:16]) == settings.gateway_address6


def dhcpv6_information_request(netns: str, interface: str, timeout: float = 5) -> dict[int, bytes]:
    """Send one Information-Request (RFC 8415 §18.2.6), as a SLAAC phone does for its other
    settings, to the link's DHCPv6 servers; return the Reply's options."""
    transaction = secrets.token_bytes(3)
    duid = struct.pack("!HH", 3, 1) + bytes.fromhex("02" + secrets.token_hex(5))  # DUID-LL
    request = (
        bytes([11]) + transaction  # INFORMATION-REQUEST
        + struct.pack("!HH", 1, len(duid)) + duid  # client identifier
        + struct.pack("!HHHH", 6, 4, 23, 103)  # asks for: DNS servers, captive portal
        + struct.pack("!HHH", 8, 2, 0)  # elapsed time
    )  # fmt: skip
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        index = socket.if_nametoindex(interface)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", 546))
        sock.settimeout(timeout)
        # The link-local source address may still be in duplicate address detection.
        wait_for(
            lambda: _sent(sock, request, ("ff02::1:2", 547, 0, index)),
            timeout=10,
            what="a link-local address to send from",
            interval=0.2,
        )
        while True:
            reply, _ = sock.recvfrom(4096)
            if reply[0] == 7 and reply[1:4] == transaction:  # REPLY
                return _dhcpv6_options(reply[4:])


def _sent(sock: socket.socket, message: bytes, address: tuple[str, int, int, int]) -> bool:
    try:
        sock.sendto(message, address)
    except OSError:
        return False
    return True


def _dhcpv6_options(data: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    while len(data) >= 4:
        code, length = struct.unpack("!HH", data[:4])
        options[code] = data[4 : 4 + length]
        data = data[4 + length :]
    return options


def dhcp_discover(netns: str, interface: str, timeout: float = 5) -> dict[int, bytes]:
    """Send one DHCPDISCOVER (RFC 2131) from ``interface`` and return the OFFER's options."""
    xid = secrets.randbits(32)
    mac = bytes.fromhex("02" + secrets.token_hex(5))
    discover = (
        struct.pack("!BBBBIHH4s4s4s4s16s192s", 1, 1, 6, 0, xid, 0, 0x8000,
                    bytes(4), bytes(4), bytes(4), bytes(4), mac.ljust(16, b"\0"), bytes(192))
        + b"\x63\x82\x53\x63"  # magic cookie
        + bytes([53, 1, 1])  # DHCPDISCOVER
        + bytes([55, 3, 1, 3, 114])  # ask for netmask, router, captive portal
        + b"\xff"
    )  # fmt: skip
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind(("0.0.0.0", 68))  # noqa: S104  # a DHCP client has no address yet
        sock.settimeout(timeout)
        sock.sendto(discover, ("255.255.255.255", 67))
        while True:
            reply, _ = sock.recvfrom(4096)
            if len(reply) > 240 and struct.unpack("!I", reply[4:8])[0] == xid:
                return _dhcp_options(reply[240:])


def _dhcp_options(data: bytes) -> dict[int, bytes]:
    options: dict[int, bytes] = {}
    i = 0
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, length = data[i], data[i + 1]
        options[code] = data[i + 2 : i + 2 + length]
        i += 2 + length
    return options
