"""The portal's nftables table and NftClientAccess, against real nftables in a scratch netns."""

from __future__ import annotations

import ipaddress
import subprocess
import threading
from collections.abc import Iterator

import pytest

from borne.settings import ImproperlyConfigured
from captive_portal.nft import NftClientAccess, NftError, apply_ruleset, portal_ruleset
from captive_portal.settings import PortalSettings
from tests.captive_portal.netns import scratch_netns
from tests.polling import wait_for as wait_until

CLIENT = ipaddress.ip_address("10.42.0.50")
CLIENT6 = ipaddress.ip_address("2001:db8:42::50")
NEW_CLIENT = ipaddress.ip_address("10.42.0.51")


def make_settings(**overrides: object) -> PortalSettings:
    values: dict[str, object] = {
        "wifi_interface": "wifi0",
        "uplink_interface": "uplink0",
        "client_subnet6": "2001:db8:42::/64",
        "nft_table": "borne_portal_test",
    }
    values.update(overrides)
    return PortalSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def gateway() -> Iterator[str]:
    """A namespace holding the portal's table."""
    with scratch_netns() as netns:
        apply_ruleset(portal_ruleset(make_settings(), gateway6="2001:db8:42::1"), netns=netns)
        yield netns


@pytest.fixture
def access(gateway: str) -> Iterator[NftClientAccess]:
    client_access = NftClientAccess(make_settings(), netns=gateway)
    yield client_access
    client_access.close()


def nft_list(netns: str, *what: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "list", *what],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_granted_client_is_in_the_set_with_the_session_as_timeout(
    access: NftClientAccess, gateway: str
) -> None:
    access.grant(CLIENT, 4 * 3600)

    listing = nft_list(gateway, "set", "inet", "borne_portal_test", "allowed4")
    assert "10.42.0.50 timeout 4h" in listing
    remaining = access.remaining(CLIENT)
    assert remaining is not None and 4 * 3600 - 5 <= remaining <= 4 * 3600
    assert access.count() == 1


def test_unknown_client_has_no_remaining_time(access: NftClientAccess) -> None:
    assert access.remaining(CLIENT) is None
    assert access.count() == 0


def test_renewing_replaces_the_remaining_time(access: NftClientAccess) -> None:
    access.grant(CLIENT, 3600)
    access.grant(CLIENT, 120)

    remaining = access.remaining(CLIENT)
    assert remaining is not None and 110 <= remaining <= 120
    assert access.count() == 1


def test_ipv6_clients_have_their_own_set(access: NftClientAccess, gateway: str) -> None:
    access.grant(CLIENT6, 600)
    access.grant(ipaddress.ip_address("::ffff:10.42.0.51"), 600)  # IPv4 seen by a dual stack

    assert "2001:db8:42::50" in nft_list(gateway, "set", "inet", "borne_portal_test", "allowed6")
    assert "10.42.0.51" in nft_list(gateway, "set", "inet", "borne_portal_test", "allowed4")
    assert access.count() == 2


def test_revoked_client_is_gone_and_revoking_twice_is_harmless(access: NftClientAccess) -> None:
    access.grant(CLIENT, 600)
    access.grant(CLIENT6, 600)

    access.revoke(CLIENT)
    access.revoke(CLIENT)

    assert access.remaining(CLIENT) is None
    assert access.remaining(CLIENT6) is not None
    assert access.count() == 1


def test_session_expires_in_the_kernel_without_any_daemon(access: NftClientAccess) -> None:
    # Three seconds, not one: on a loaded CI machine one second can pass between the grant
    # and the first look, and the client would already be gone.
    access.grant(CLIENT, 3)
    assert access.count() == 1

    assert wait_until(lambda: access.remaining_in_kernel(CLIENT) is None, timeout=10)
    assert access.remaining(CLIENT) is None and access.count() == 0


def test_a_restarted_portal_reads_its_clients_back_from_the_kernel(gateway: str) -> None:
    before = NftClientAccess(make_settings(), netns=gateway)
    before.grant(CLIENT, 600)
    before.close()
    subprocess.run(  # staff added one by hand
        ["ip", "netns", "exec", gateway, "nft", "add element inet borne_portal_test allowed4",
         "{ 10.42.0.77 timeout 300s }"],
        check=True,
    )  # fmt: skip

    after = NftClientAccess(make_settings(), netns=gateway)
    try:
        assert after.count() == 2
        assert 590 <= (after.remaining(CLIENT) or 0) <= 600
        assert after.remaining(ipaddress.ip_address("10.42.0.77")) is not None
    finally:
        after.close()


def test_reapplying_the_ruleset_keeps_connected_clients_and_the_garden(
    access: NftClientAccess, gateway: str
) -> None:
    access.grant(CLIENT, 3600)
    access.grant(CLIENT6, 3600)
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            gateway,
            "nft",
            "add",
            "element",
            "inet",
            "borne_portal_test",
            "garden4",
            "{ 203.0.113.20 }",
        ],
        check=True,
    )  # as dnsmasq does when a walled-garden domain is resolved

    # A restart with changed settings: a bandwidth limit and a new portal port.
    changed = make_settings(bandwidth_kbit=2000, http_port=8081)
    apply_ruleset(portal_ruleset(changed, gateway6="2001:db8:42::1"), netns=gateway)

    assert access.count() == 2
    remaining = access.remaining(CLIENT)
    assert remaining is not None and remaining > 3500
    assert "203.0.113.20" in nft_list(gateway, "set", "inet", "borne_portal_test", "garden4")
    ruleset = nft_list(gateway, "table", "inet", "borne_portal_test")
    assert "dnat ip to 10.42.0.1:8081" in ruleset
    assert ":8080" not in ruleset  # chains were replaced, not appended to
    assert "limit rate over 250000 bytes/second" in ruleset


def test_ruleset_sends_web_to_the_portal_and_refuses_the_rest_at_once(gateway: str) -> None:
    ruleset = nft_list(gateway, "table", "inet", "borne_portal_test")

    assert 'iifname "wifi0" tcp dport 80 dnat ip to 10.42.0.1:8080' in ruleset
    assert "dnat ip6 to [2001:db8:42::1]:8080" in ruleset
    assert "reject with tcp reset" in ruleset
    assert "reject with icmpx admin-prohibited" in ruleset
    assert 'oifname "uplink0" masquerade' in ruleset


def test_fixed_walled_garden_addresses_are_in_the_garden_sets() -> None:
    script = portal_ruleset(make_settings(), ["203.0.113.20", "2001:db8:cafe::20"])
    with scratch_netns() as netns:
        apply_ruleset(script, netns=netns)
        assert "203.0.113.20" in nft_list(netns, "set", "inet", "borne_portal_test", "garden4")
        assert "2001:db8:cafe::20" in nft_list(netns, "set", "inet", "borne_portal_test", "garden6")


def test_granting_without_the_table_is_a_clear_error() -> None:
    with scratch_netns() as netns:
        client_access = NftClientAccess(make_settings(), netns=netns)
        with pytest.raises(NftError, match="No such file or directory") as refused:
            client_access.grant(CLIENT, 60)
        client_access.close()
    # Logged by the portal: nft's own message repeats the command, with the address.
    assert str(CLIENT) not in str(refused.value)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("wifi_interface", 'wlan0" accept'),
        ("uplink_interface", "eth0; flush ruleset"),
        ("nft_table", "1table"),
    ],
)
def test_names_that_would_change_the_script_are_refused(setting: str, value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=setting):
        portal_ruleset(make_settings(**{setting: value}))


def test_a_bad_walled_garden_address_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="walled-garden address"):
        portal_ruleset(make_settings(), ["caf.fr"])


def test_granting_for_no_time_is_refused(access: NftClientAccess) -> None:
    with pytest.raises(ValueError, match="at least one second"):
        access.grant(CLIENT, 0)


def test_statistics_read_every_client_at_once_from_the_kernel(gateway: str) -> None:
    portal = NftClientAccess(make_settings(), netns=gateway)
    by_hand = NftClientAccess(make_settings(), netns=gateway)
    try:
        portal.grant(CLIENT, 600)
        portal.grant(ipaddress.ip_address("2001:db8:42::23"), 300)
        by_hand.revoke(CLIENT)  # staff, from another process

        left = portal.remaining_all()

        assert list(left) == [ipaddress.ip_address("2001:db8:42::23")]
        assert 290 <= left[ipaddress.ip_address("2001:db8:42::23")] <= 300
    finally:
        portal.close()
        by_hand.close()


def test_a_grant_during_a_listing_neither_waits_for_it_nor_vanishes_from_the_mirror(
    access: NftClientAccess,
) -> None:
    access.grant(CLIENT, 600)
    list_set = access._list_nft.run
    listings: list[str] = []
    tapped = []

    def listing_with_a_tap(commands: str, *, json_output: bool = False) -> str:
        output = list_set(commands, json_output=json_output)
        listings.append(commands)
        if len(listings) == 2:  # both sets read: a new IPv4 client is in neither listing
            tap = threading.Thread(target=access.grant, args=(NEW_CLIENT, 600))
            tap.start()
            tap.join(5)
            tapped.append(not tap.is_alive())
        return output

    access._list_nft.run = listing_with_a_tap  # type: ignore[method-assign]
    access.sync()

    assert tapped == [True]  # the tap did not wait for the listing
    assert access.count() == 2  # the mirror, as the sync left it
