"""Reading a batch's CSV (bad lines named, the others kept) and running it, bounded, to a table.

The batch over a real sshd is in test_live_batch.py.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from rich.console import Console

from agent.protocol import DeviceKind
from provisioning.batch import Defaults, HostLine, Outcome, read_hosts, results_table, run_batch
from provisioning.bootstrap import Report
from provisioning.errors import ProvisioningError
from provisioning.ssh import SshTarget


def csv_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.csv"
    path.write_text(text)
    return path


def test_empty_cells_take_the_command_line_values(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "host,site,kind,port,user\n"
        "pc-01.lib.example.org,,,,\n"
        "\n"
        "# the hotspot of the same library\n"
        "10.0.4.1,bib-centre,hotspot,2222,admin\n",
    )

    hosts, errors = read_hosts(path, Defaults(site="mdh-nord"))

    assert errors == []
    assert hosts == [
        HostLine(2, SshTarget("pc-01.lib.example.org", 22, "root"), "mdh-nord", DeviceKind.PC),
        HostLine(5, SshTarget("10.0.4.1", 2222, "admin"), "bib-centre", DeviceKind.HOTSPOT),
    ]


def test_each_bad_line_is_named_and_the_others_are_kept(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "host,port,site,kind,trust_host\n"
        "pc-01,22,bib,pc,\n"
        "pc-02,abc,bib,pc,\n"
        "pc-03,22,bib,printer,\n"
        ",22,bib,pc,\n"
        "pc-05,22,,pc,\n"
        "pc-06,22,bib,pc,md5:aa\n"
        "pc-07,22,bib,pc,,extra\n"
        "pc-01,22,bib,pc,\n"
        "pc-09,70000,bib,pc,\n",
    )

    hosts, errors = read_hosts(path, Defaults())

    assert [h.target.host for h in hosts] == ["pc-01"]
    assert [(e.line, e.message) for e in errors] == [
        (3, "port must be a number from 1 to 65535, got 'abc'"),
        (4, "kind must be one of pc, kiosk, hotspot, got 'printer'"),
        (5, "host must be a host name or address, got ''"),
        (6, "no site: fill the site column, or give --site"),
        (7, "trust_host must be a SHA256:… fingerprint, got 'md5:aa'"),
        (8, "6 fields, the header names 5"),
        (9, "the same host as line 2"),
        (10, "port must be a number from 1 to 65535, got '70000'"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: it needs a header line"),
        ("hostname,site\npc-01,bib\n", "line 1: unknown column(s) 'hostname'"),
        ("site,port\nbib,22\n", "the header must name a host column"),
        ("host,host\npc-01,pc-02\n", "each column once"),
    ],
)
def test_a_bad_header_stops_the_batch_before_it_starts(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ProvisioningError) as refused:
        read_hosts(csv_file(tmp_path, text), Defaults())
    assert message in str(refused.value)


def test_a_missing_identity_file_is_named(tmp_path: Path) -> None:
    path = csv_file(tmp_path, f"host,site,identity\npc-01,bib,{tmp_path / 'nope'}\n")
    hosts, errors = read_hosts(path, Defaults())
    assert hosts == []
    assert errors[0].message == f"identity {tmp_path / 'nope'} is not a file"


def line(number: int, host: str) -> HostLine:
    return HostLine(number, SshTarget(host), "bib", DeviceKind.PC)


def test_results_come_in_the_file_order_with_why_each_failed(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "host,site\npc-01,bib\npc-02,bib,x\npc-03,bib\npc-04,bib\n")
    hosts, errors = read_hosts(path, Defaults())

    def bootstrap_one(host: HostLine) -> Report:
        if host.target.host == "pc-03":
            raise ProvisioningError("cannot reach pc-03 over SSH: no answer within 15 s")
        if host.target.host == "pc-04":
            raise KeyError("a bug")
        return Report(str(host.target), changes=["agent installed"], device_id="dev-1")

    out = io.StringIO()
    results = run_batch(
        hosts, errors, bootstrap_one, parallel=2, console=Console(file=out, width=200)
    )

    assert [(r.line, r.outcome) for r in results] == [
        (2, Outcome.SUCCEEDED),
        (3, Outcome.FAILED),
        (4, Outcome.FAILED),
        (5, Outcome.FAILED),
    ]
    assert results[1].detail == "line 3: 3 fields, the header names 2"
    assert results[2].detail == "cannot reach pc-03 over SSH: no answer within 15 s"
    assert results[3].detail == "KeyError: 'a bug'"

    table = Console(file=io.StringIO(), width=200, record=True)
    table.print(results_table(results))
    text = table.export_text()
    assert "1 of 4 hosts in service" in text
    assert "cannot reach pc-03 over SSH" in text


def test_no_more_hosts_than_asked_run_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()
    released = threading.Event()

    def bootstrap_one(host: HostLine) -> Report:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 3:
                released.set()
        released.wait(timeout=1)  # let a fourth start, if the pool allowed one
        with lock:
            running -= 1
        return Report(str(host.target))

    hosts = [line(n, f"pc-{n:02}") for n in range(2, 12)]
    results = run_batch(hosts, [], bootstrap_one, parallel=3, console=Console(file=io.StringIO()))

    assert most == 3
    assert {r.outcome for r in results} == {Outcome.UNCHANGED}


def test_parallel_is_bounded() -> None:
    with pytest.raises(ProvisioningError, match="--parallel must be from 1 to 64"):
        run_batch([], [], lambda host: Report(""), parallel=0, console=Console())
