"""``borne provision batch``: a CSV with a good host, a bad line and a host nobody answers for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.bootstrap import HostLayout
from tests.postgres import free_port
from tests.provisioning.conftest import Provision

pytestmark = [pytest.mark.e2e, pytest.mark.machine]


def test_batch_lists_the_bad_line_and_the_unreachable_host_and_the_good_host_succeeds(
    provision: Provision, tmp_path: Path
) -> None:
    server = provision.server
    nobody = free_port()  # nothing listens there
    hosts = tmp_path / "hosts.csv"
    hosts.write_text(
        "host,port,user,identity,trust_host\n"
        f"127.0.0.1,{server.port},root,{server.client_key},{server.host_key_fingerprint}\n"
        "# the reading room's second PC, not yet cabled\n"
        "127.0.0.2,twenty-two,root,,\n"
        f"127.0.0.1,{nobody},root,{server.client_key},\n"
    )

    result = provision("batch", str(hosts), "--site", provision.controller.site, "--parallel", "2")

    assert result.returncode == 1, result.stdout
    table = result.stdout
    assert "1 of 3 hosts in service" in table
    good = next(line for line in table.splitlines() if f"127.0.0.1:{server.port}" in line)
    assert "succeeded" in good
    assert "line 4: port must be a number from 1 to 65535, got 'twenty-two'" in table
    unreachable = next(line for line in table.splitlines() if f"127.0.0.1:{nobody}" in line)
    assert "failed" in unreachable
    assert f"cannot reach [127.0.0.1]:{nobody} over SSH: nothing accepts connections" in table
    credentials = Path(HostLayout(str(provision.prefix)).credentials)
    device_id = json.loads(credentials.read_text())["device_id"]
    assert device_id in [d["id"] for d in provision.controller.devices_at_site()]
