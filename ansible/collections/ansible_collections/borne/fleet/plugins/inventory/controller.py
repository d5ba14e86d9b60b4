"""``borne.fleet.controller``: the devices a borne controller knows, as an Ansible inventory.

Modelled on ``netbox.netbox.nb_inventory``: the address and a token from the configuration file
or the environment, one request per kind of object, hosts grouped by what the controller knows
of them, ``Constructable`` for the city's own groups and variables, ``Cacheable`` so that a run
over fifty PCs asks the controller once. It reads two endpoints of the staff API, both
unpaginated lists of what the token's owner covers: ``GET /api/v1/devices`` and
``GET /api/v1/sites`` (which names each site's organisation); and, for each hotspot, its client
network in the city's address plan (``GET /api/v1/devices/<id>/subnet``), which becomes its
``hotspot_client_subnet`` for the ``hotspot`` role.
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from collections import Counter
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.errors import AnsibleParserError
from ansible.module_utils.urls import open_url
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

DOCUMENTATION = r"""
    name: controller
    short_description: borne's devices, read from the controller's API
    description:
      - The public PCs, charging kiosks and wifi hotspots a borne controller knows, as hosts.
      - Reads C(GET /api/v1/devices) and C(GET /api/v1/sites) with a personal API token (its
        owner's places only; a read-only token is enough).
      - Gives each hotspot its client network from the city's address plan
        (C(GET /api/v1/devices/<id>/subnet)) as C(hotspot_client_subnet), which the C(hotspot)
        role writes into the portal's settings.
      - Groups hosts by kind (C(kind_pc), C(kind_kiosk), C(kind_hotspot)), site
        (C(site_<slug>)) and organisation (C(organisation_<name>), whose children are its
        sites' groups). Names are folded to lower-case ASCII letters, digits and underscores.
      - A host is named after the host name its device reports (its id if it reported none);
        two devices reporting the same host name get their id's first 8 characters appended.
      - The controller does not know devices' addresses (agents connect to it, never the
        reverse), so C(ansible_host) is the reported host name followed by O(dns_domain) when
        that is set; C(compose) can set it otherwise.
    extends_documentation_fragment:
      - constructed
      - inventory_cache
    options:
      plugin:
        description: Marks this file as a source for this plugin.
        required: true
        choices: ["borne.fleet.controller"]
      url:
        description: The controller's address, such as https://borne.example.org.
        type: str
        required: true
        env:
          - name: BORNE_CONTROLLER_URL
      token:
        description:
          - A personal API token (C(bat_…)), made with
            C(borne controller api-token create USER --name "ansible inventory" --read-only)
            or on the user's page.
          - Keep it out of the file; the environment is the place.
        type: str
        required: true
        env:
          - name: BORNE_API_TOKEN
      validate_certs:
        description: Check the controller's TLS certificate.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for each answer of the controller.
        type: int
        default: 30
      kinds:
        description: Only these kinds of devices (pc, kiosk, hotspot); empty for all.
        type: list
        elements: str
        default: []
      sites:
        description: Only the devices of these sites (their slugs); empty for all.
        type: list
        elements: str
        default: []
      dns_domain:
        description:
          - The DNS domain appended to each device's reported host name to make its
            C(ansible_host) (C(pc-accueil-1) becomes C(pc-accueil-1.bib.example.org));
            empty leaves C(ansible_host) unset, so the host's own name is used.
        type: str
        default: ""
"""

EXAMPLES = r"""
# inventory/controller.borne.yml, with BORNE_CONTROLLER_URL and BORNE_API_TOKEN in the
# environment:  ansible-inventory -i inventory/controller.borne.yml --graph
plugin: borne.fleet.controller
dns_domain: bib.example.org
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/borne-inventory
cache_timeout: 300
# The city's own groups, from the controller's facts:
groups:
  outdated_agents: borne_agent_version is version('0.2.0', '<')
keyed_groups:
  - key: borne_status
    prefix: status
"""

KINDS = ("pc", "kiosk", "hotspot")
DEVICES_PATH = "/api/v1/devices"
SITES_PATH = "/api/v1/sites"
SUBNET_PATH = "/api/v1/devices/{device_id}/subnet"
MAKING_ONE = (
    "make one with: borne controller api-token create USER --name 'ansible inventory' --read-only"
)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "borne.fleet.controller"

    def verify_file(self, path: str) -> bool:
        """Only files named ``….borne.yml`` (or ``borne.yaml``): the plugin's marker."""
        return super().verify_file(path) and path.endswith(("borne.yml", "borne.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        url = self._controller_url()
        kinds = self.get_option("kinds")
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise AnsibleParserError(
                f"borne.fleet.controller: option kinds may name {', '.join(KINDS)}, "
                f"got {', '.join(unknown)}"
            )
        fleet = self._cached_fleet(url, path, cache)
        self._populate(fleet, set(kinds), set(self.get_option("sites")))

    # -- the controller's answers, from the cache when it may -----------------------------------

    def _cached_fleet(self, url: str, path: str, cache: bool) -> dict[str, Any]:
        cache_key = self.get_cache_key(path)
        wants_cache = bool(self.get_option("cache"))
        if wants_cache and cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            # A cache filled from another controller (the file's url changed) is not this one's.
            if isinstance(cached, dict) and cached.get("url") == url:
                return cached
        devices = self._get_list(url, DEVICES_PATH)
        fleet = {
            "url": url,
            "devices": devices,
            "sites": self._get_list(url, SITES_PATH),
            # Each hotspot's client network from the city's address plan: the hotspot role
            # writes it into the portal's settings (hotspot_client_subnet).
            "subnets": {
                device["id"]: self._get_json(url, SUBNET_PATH.format(device_id=device["id"]))
                for device in devices
                if device.get("kind") == "hotspot"
            },
        }
        if wants_cache:
            self._cache[cache_key] = fleet
        return fleet

    def _controller_url(self) -> str:
        url = (self.get_option("url") or "").strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AnsibleParserError(
                "borne.fleet.controller: the controller's address (option url, or "
                f"BORNE_CONTROLLER_URL) must start with https:// or http://, got {url!r}"
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            self.display.warning(
                f"borne.fleet.controller: {url} is plain http: the API token travels in clear"
            )
        return url

    def _get_list(self, url: str, path: str) -> list[dict[str, Any]]:
        """GET ``url + path``: a JSON list, or an AnsibleParserError saying what to fix."""
        answer = self._get_json(url, path)
        if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
            raise AnsibleParserError(
                f"borne.fleet.controller: {url}{path} did not answer as a borne controller does "
                "(a JSON list): is the address the controller's?"
            )
        return answer

    def _get_json(self, url: str, path: str) -> Any:
        """GET ``url + path``: its JSON, or an AnsibleParserError saying what to fix."""
        token = (self.get_option("token") or "").strip()
        if not token:
            raise AnsibleParserError(
                "borne.fleet.controller: no API token (option token, or BORNE_API_TOKEN); "
                + MAKING_ONE
            )
        try:
            response = open_url(
                url + path,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                validate_certs=self.get_option("validate_certs"),
                timeout=self.get_option("timeout"),
                follow_redirects="safe",
            )
            body = response.read()
        except HTTPError as error:
            raise AnsibleParserError(_refusal(url, path, error)) from error
        except (URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise AnsibleParserError(
                f"borne.fleet.controller: cannot reach the controller at {url} ({reason}): "
                "check its address (option url, or BORNE_CONTROLLER_URL)"
            ) from error
        try:
            return json.loads(body)
        except ValueError:
            raise AnsibleParserError(
                f"borne.fleet.controller: {url}{path} did not answer JSON as a borne controller "
                "does: is the address the controller's?"
            ) from None

    # -- hosts, groups, variables ---------------------------------------------------------------

    def _populate(self, fleet: dict[str, Any], kinds: set[str], sites: set[str]) -> None:
        sites_by_id = {site.get("id"): site for site in fleet["sites"]}
        devices = [
            device
            for device in fleet["devices"]
            if (not kinds or device.get("kind") in kinds)
            and (not sites or sites_by_id.get(device.get("site_id"), {}).get("slug") in sites)
        ]
        names = _host_names(devices)
        strict = self.get_option("strict")
        for device in devices:
            site = sites_by_id.get(device.get("site_id"), {})
            host = self.inventory.add_host(names[device["id"]])
            variables = self._host_variables(device, site)
            subnet = fleet.get("subnets", {}).get(device["id"])
            if isinstance(subnet, dict) and subnet.get("client_subnet"):
                variables["hotspot_client_subnet"] = subnet["client_subnet"]
            for name, value in variables.items():
                self.inventory.set_variable(host, name, value)
            self._add_to_groups(host, device, site)
            self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
            self._add_host_to_composed_groups(
                self.get_option("groups"), variables, host, strict=strict
            )
            self._add_host_to_keyed_groups(
                self.get_option("keyed_groups"), variables, host, strict=strict
            )

    def _host_variables(self, device: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
        facts = device.get("inventory") or {}
        hostname = facts.get("hostname") or ""
        variables = {
            "borne_device_id": device["id"],
            "borne_device_name": device.get("name", ""),
            "borne_kind": device.get("kind", ""),
            "borne_status": device.get("status", ""),
            "borne_last_seen_at": device.get("last_seen_at"),
            "borne_agent_version": facts.get("agent_version", ""),
            "borne_hostname": hostname,
            "borne_os": " ".join(filter(None, (facts.get("os_name"), facts.get("os_version")))),
            "borne_site_id": device.get("site_id"),
            "borne_site": site.get("slug", ""),
            "borne_site_name": site.get("name", ""),
            "borne_organisation_id": site.get("organisation_id"),
            "borne_organisation": site.get("organisation", ""),
        }
        domain = (self.get_option("dns_domain") or "").strip(".")
        if domain and hostname:
            variables["ansible_host"] = f"{hostname}.{domain}"
        return variables

    def _add_to_groups(self, host: str, device: dict[str, Any], site: dict[str, Any]) -> None:
        kind = self.inventory.add_group(group_name("kind", device.get("kind") or "unknown"))
        self.inventory.add_host(host, group=kind)
        site_group = self.inventory.add_group(
            group_name("site", site.get("slug") or str(device.get("site_id")))
        )
        self.inventory.add_host(host, group=site_group)
        if site.get("organisation"):
            organisation = self.inventory.add_group(
                group_name("organisation", site["organisation"])
            )
            self.inventory.add_child(organisation, site_group)


def group_name(prefix: str, value: str) -> str:
    """``prefix_value`` folded to what Ansible accepts in a group's name: ``Ville d'Échirolles``
    becomes ``organisation_ville_d_echirolles``."""
    return f"{prefix}_{_fold(value) or 'unnamed'}"


def _fold(value: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_only.lower()).strip("_")


def _host_names(devices: list[dict[str, Any]]) -> dict[str, str]:
    """Each device's inventory name: its reported host name, with its id's start where two
    devices report the same one."""
    wanted = {
        device["id"]: ((device.get("inventory") or {}).get("hostname") or device["id"]).lower()
        for device in devices
    }
    seen = Counter(wanted.values())
    return {
        device_id: name if seen[name] == 1 else f"{name}-{device_id[:8]}"
        for device_id, name in wanted.items()
    }


def _refusal(url: str, path: str, error: HTTPError) -> str:
    """What the controller's refusal means, for the person running Ansible."""
    try:
        message = json.loads(error.read()).get("message", "")
    except (ValueError, AttributeError, OSError):
        message = ""
    said = f": {message}" if message else ""
    if error.code == 401:
        return (
            f"borne.fleet.controller: the controller at {url} refused the API token (401{said}); "
            "check BORNE_API_TOKEN (or the token option): mistyped, expired or revoked? "
            + MAKING_ONE
        )
    if error.code == 403:
        return (
            f"borne.fleet.controller: the API token's owner may not read the fleet at {url} "
            f"(403{said})"
        )
    if error.code == 404:
        return (
            f"borne.fleet.controller: {url}{path} does not exist (404): is the address the "
            "controller's (option url, or BORNE_CONTROLLER_URL)?"
        )
    return f"borne.fleet.controller: {url}{path} answered {error.code} {error.reason}{said}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
