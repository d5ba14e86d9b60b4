"""The ``borne.fleet.controller`` inventory plugin against a running controller and a real API
token: hosts grouped by kind, site and organisation with the controller's facts, the playbooks'
host patterns matching them, the cache, and clear errors for a bad address or token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ansible.conftest import run_ansible
from tests.e2e.controller_process import DEMO_PLACES, INVENTORY, ControllerProcess

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
# (site, kind, reported host name): two PCs of one library, a kiosk, a hotspot in Échirolles,
# and two PCs elsewhere that report the same host name.
FLEET = [
    ("grenoble-bib-centre-ville", "pc", "pc-accueil-1"),
    ("grenoble-bib-centre-ville", "pc", "pc-accueil-2"),
    ("grenoble-mdh-teisseire", "kiosk", "kiosk-teisseire"),
    ("echirolles-bib-neruda", "hotspot", "wifi-neruda"),
    ("grenoble-bib-abbaye", "pc", "pc-poste"),
    ("fontaine-bib-paul-eluard", "pc", "pc-poste"),
]


def _enrol(controller, site: str, kind: str, hostname: str) -> str:
    status, body = controller.request(
        "POST",
        "/api/v1/enrol",
        {
            "token": controller.token(site, kind),
            "kind": kind,
            "inventory": {**INVENTORY, "hostname": hostname, "agent_version": "0.1.0"},
        },
    )
    assert status == 201, body
    return body["device_id"]


def _api_token(controller, username: str, role: str = "admin", *scope: str) -> str:
    controller.add_user(username, PASSWORD, role, *scope)
    return controller.cli(
        "api-token", "create", username, "--name", "ansible inventory", "--read-only"
    ).strip()


def _source(tmp_path: Path, **options) -> Path:
    path = tmp_path / "fleet.borne.yml"
    path.write_text(json.dumps({"plugin": "borne.fleet.controller", **options}))
    return path


def _inventory(source: Path, env: dict[str, str], *extra: str):
    return run_ansible("ansible-inventory", "-i", str(source), "--list", *extra, env=env)


def _listed(result) -> dict:
    assert result.returncode == 0, result.stdout + result.stderr
    # Ansible marks what came from the controller as never to be templated (a device name with
    # "{{" in it stays text): the JSON shows such a value as {"__ansible_unsafe": value}.
    return json.loads(result.stdout, object_hook=lambda d: d.get("__ansible_unsafe", d))


def _hosts(listing: dict, group: str) -> set[str]:
    return set(listing.get(group, {}).get("hosts", []))


@dataclass
class Fleet:
    controller: ControllerProcess
    devices: dict[str, str]  # reported host name (the last one wins) -> device id
    admin_token: str

    def env(self, base: dict[str, str], token: str | None = None) -> dict[str, str]:
        return {
            **base,
            "BORNE_CONTROLLER_URL": self.controller.url,
            "BORNE_API_TOKEN": self.admin_token if token is None else token,
        }


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A controller with the devices of FLEET enrolled and an admin's read-only API token; the
    tests only read it (each adds the users it needs under its own name)."""
    controller = ControllerProcess(tmp_path_factory.mktemp("controller"))
    controller.migrate()
    controller.cli("places", "import", str(DEMO_PLACES))
    controller.start()
    try:
        devices = {name: _enrol(controller, site, kind, name) for site, kind, name in FLEET}
        yield Fleet(controller, devices, _api_token(controller, "alex"))
    finally:
        controller.stop()


def test_devices_are_hosts_grouped_by_kind_site_and_organisation(tmp_path, fleet, ansible_env):
    source = _source(tmp_path, dns_domain="bib.example.org")
    listing = _listed(_inventory(source, fleet.env(ansible_env)))

    pc_poste = sorted(h for h in _hosts(listing, "kind_pc") if h.startswith("pc-poste-"))
    assert len(pc_poste) == 2  # same host name reported twice: told apart by their ids
    assert _hosts(listing, "kind_pc") == {"pc-accueil-1", "pc-accueil-2", *pc_poste}
    assert _hosts(listing, "kind_kiosk") == {"kiosk-teisseire"}
    assert _hosts(listing, "kind_hotspot") == {"wifi-neruda"}
    assert _hosts(listing, "site_grenoble_bib_centre_ville") == {"pc-accueil-1", "pc-accueil-2"}
    assert "site_echirolles_bib_neruda" in listing["organisation_ville_d_echirolles"]["children"]
    assert set(listing["organisation_bibliotheques_de_grenoble"]["children"]) == {
        "site_grenoble_bib_centre_ville",
        "site_grenoble_bib_abbaye",
    }

    hostvars = listing["_meta"]["hostvars"]["pc-accueil-1"]
    assert hostvars["borne_device_id"] == fleet.devices["pc-accueil-1"]
    assert hostvars["borne_kind"] == "pc"
    assert hostvars["borne_site"] == "grenoble-bib-centre-ville"
    assert hostvars["borne_site_name"] == "Bibliothèque Centre-Ville"
    assert hostvars["borne_organisation"] == "Bibliothèques de Grenoble"
    assert hostvars["borne_agent_version"] == "0.1.0"
    assert hostvars["borne_status"] == "new"  # enrolled, no heartbeat yet
    assert hostvars["ansible_host"] == "pc-accueil-1.bib.example.org"
    assert "hotspot_client_subnet" not in hostvars
    # The hotspot's client network from the city's address plan, for the hotspot role.
    wifi = listing["_meta"]["hostvars"]["wifi-neruda"]
    assert wifi["hotspot_client_subnet"] == "10.64.0.0/22"


def test_playbooks_reach_the_devices_of_their_kind(tmp_path, fleet, ansible_env):
    source = _source(tmp_path)
    for playbook, expected in (("kiosk", {"kiosk-teisseire"}), ("hotspot", {"wifi-neruda"})):
        result = run_ansible(
            "ansible-playbook", "-i", str(source), "--list-hosts", f"playbooks/{playbook}.yml",
            env=fleet.env(ansible_env),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        listed = result.stdout.partition("hosts (")[2].splitlines()[1:]
        assert {line.strip() for line in listed if line.strip()} == expected, result.stdout


def test_a_token_sees_only_its_owners_places(tmp_path, fleet, ansible_env):
    token = _api_token(fleet.controller, "mia", "mediator", "--site", "grenoble-bib-centre-ville")
    listing = _listed(_inventory(_source(tmp_path), fleet.env(ansible_env, token)))
    assert set(listing["_meta"]["hostvars"]) == {"pc-accueil-1", "pc-accueil-2"}


def test_the_cache_answers_while_the_controller_refuses(tmp_path, fleet, ansible_env):
    env = fleet.env(ansible_env, _api_token(fleet.controller, "cache-user"))
    source = _source(
        tmp_path,
        cache=True,
        cache_plugin="ansible.builtin.jsonfile",
        cache_connection=str(tmp_path / "inventory-cache"),
        cache_timeout=3600,
    )
    first = _listed(_inventory(source, env))
    fleet.controller.cli("user", "disable", "cache-user")  # its token is refused from now on

    assert _listed(_inventory(source, env))["_meta"] == first["_meta"]
    refreshed = _inventory(source, env, "--flush-cache")
    assert refreshed.returncode != 0
    assert "refused the API token (401" in refreshed.stderr


def test_a_refused_token_says_so(tmp_path, fleet, ansible_env):
    env = fleet.env(ansible_env, "bat_not-a-token-of-this-controller")
    result = _inventory(_source(tmp_path), env)
    assert result.returncode != 0
    assert f"the controller at {fleet.controller.url} refused the API token (401" in result.stderr
    assert "BORNE_API_TOKEN" in result.stderr


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("", "bat_x", "must start with https:// or http://, got ''"),
        ("ftp://borne.example.org", "bat_x", "must start with https:// or http://"),
        ("http://127.0.0.1:9", "bat_x", "cannot reach the controller at http://127.0.0.1:9"),
        ("http://127.0.0.1:9", "", "no API token (option token, or BORNE_API_TOKEN)"),
    ],
)
def test_a_bad_address_or_missing_token_says_what_to_fix(
    tmp_path, ansible_env, url, token, message
):
    env = {**ansible_env, "BORNE_CONTROLLER_URL": url, "BORNE_API_TOKEN": token}
    result = _inventory(_source(tmp_path), env)
    assert result.returncode != 0
    assert message in result.stderr
