"""A public PC's printers in its heartbeats (agent/pc/printers.py): read from a real cupsd started
by the test, with a printer that prints to /dev/null, one a technician stopped, one that refuses
jobs, and one whose backend reports a paper jam as a real printer's does."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from cups_testkit import PrintServer, private_cupsd

from agent import protocol
from agent.actions import simulated_actions
from agent.metrics import MetricsCollector
from agent.pc import ipp
from agent.pc.printers import CupsPrinters, read_printers
from agent.protocol import Metrics, Printer, PrinterState, UpdateConfigArgs
from agent.roles import Wiring, role_for
from agent.settings import AgentSettings
from agent.spool import Spool
from tests.polling import wait_for

# What a backend tells cupsd on its stderr when the printer jams (CUPS' backend(7)), then
# "stop the queue" (CUPS_BACKEND_STOP): a technician must clear it.
JAMMING_BACKEND = """#!/bin/sh
if [ $# -eq 0 ]; then echo 'direct jam "Unknown" "A printer whose paper jams"'; exit 0; fi
echo "STATE: +media-jam-error" >&2
echo "ERROR: Paper jam in tray 2" >&2
exit 4
"""


@pytest.fixture
def print_server() -> Iterator[PrintServer]:
    with private_cupsd(backends={"jam": JAMMING_BACKEND}) as server:
        yield server


def by_name(printers: list[Printer]) -> dict[str, Printer]:
    return {printer.name: printer for printer in printers}


def test_each_queue_is_reported_with_its_state_reasons_and_message(
    print_server: PrintServer,
) -> None:
    print_server.add_queue("accueil")
    print_server.add_queue("salle-2")
    print_server.admin("cupsdisable", "-r", "Plus de toner : cartouche commandée", "salle-2")
    print_server.add_queue("etage")
    print_server.admin("cupsreject", "etage")

    printers = by_name(CupsPrinters(print_server.socket)())

    assert printers["accueil"] == Printer(name="accueil", state=PrinterState.IDLE)
    stopped = printers["salle-2"]
    assert stopped.state is PrinterState.STOPPED
    assert stopped.message == "Plus de toner : cartouche commandée"
    assert stopped.reasons == ["paused"] and stopped.accepting
    assert not printers["etage"].accepting and printers["etage"].state is PrinterState.IDLE
    assert list(printers) == ["accueil", "etage", "salle-2"]  # by name, whatever cupsd's order


def test_a_paper_jam_reported_by_the_printer_stops_it_with_its_reason(
    print_server: PrintServer,
) -> None:
    print_server.add_queue("accueil", "jam:/tray-2")
    subprocess.run(
        ["lp", "-h", str(print_server.socket), "-d", "accueil", "/etc/hostname"],
        check=True,
        capture_output=True,
    )

    wait_for(
        lambda: read_printers(print_server.socket)[0].state is PrinterState.STOPPED,
        timeout=15,
        what="the jammed printer to stop",
    )

    [jammed] = read_printers(print_server.socket)
    assert "media-jam-error" in jammed.reasons
    assert jammed.message == "Paper jam in tray 2"
    assert "none" not in jammed.reasons


def test_a_print_server_without_printers_reports_none() -> None:
    with private_cupsd() as server:
        assert CupsPrinters(server.socket)() == []


def test_a_pc_without_a_print_server_reports_no_printer(tmp_path: Path) -> None:
    assert CupsPrinters(tmp_path / "cups.sock")() == []


def test_a_print_server_that_does_not_answer_leaves_the_heartbeat_without_printers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A stale socket (cupsd died without removing it), then one that accepts and never answers.
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(stale))
    stuck = tmp_path / "stuck.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(stuck))
        listener.listen(16)
        silent = CupsPrinters(stuck, timeout_s=0.2)

        assert CupsPrinters(stale)() == []
        assert silent() == [] and silent() == []

    warnings = [r for r in caplog.records if "does not answer" in r.getMessage()]
    assert len(warnings) == 2  # once per server, not once per heartbeat


def test_an_answer_that_is_not_ipp_is_an_error_not_a_list() -> None:
    with pytest.raises(ipp.IppError):
        ipp.parse_response(b"\x02\x00\x00\x00\x00\x00\x00\x01\x04\x42\x00\x0cprinter-name")


def test_a_public_pcs_heartbeat_carries_its_printers(
    print_server: PrintServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    print_server.add_queue("accueil")
    print_server.admin("cupsdisable", "-r", "Bourrage papier", "accueil")
    monkeypatch.setattr(ipp, "CUPS_SOCKET", print_server.socket)  # the PC's print server
    metrics = MetricsCollector()
    spool = Spool(tmp_path / "spool.db")
    settings = AgentSettings(state_dir=tmp_path / "state", guest_user="nobody-here")
    try:
        role_for("pc").wire(
            Wiring(
                settings=settings,
                remote=UpdateConfigArgs(),
                events=spool,
                actions=simulated_actions(),
                wake=lambda: None,
                metrics=metrics,
            )
        )

        measured = msgspec.json.decode(msgspec.json.encode(metrics.collect()), type=Metrics)
    finally:
        spool.close()

    [printer] = measured.printers
    assert (printer.name, printer.state) == ("accueil", "stopped")
    assert printer.message == "Bourrage papier"


def test_a_kiosks_heartbeat_reads_no_print_server(
    print_server: PrintServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    print_server.add_queue("accueil")
    monkeypatch.setattr(ipp, "CUPS_SOCKET", print_server.socket)
    metrics = MetricsCollector()
    spool = Spool(tmp_path / "spool.db")
    try:
        role_for("kiosk").wire(
            Wiring(
                settings=AgentSettings(state_dir=tmp_path / "state"),
                remote=UpdateConfigArgs(),
                events=spool,
                actions=simulated_actions(),
                wake=lambda: None,
                metrics=metrics,
            )
        )
    finally:
        spool.close()

    assert metrics.collect().printers == []


def test_printers_beyond_what_the_schema_holds_are_refused_at_the_edge() -> None:
    many = [{"name": f"p{i}", "state": "idle"} for i in range(protocol.MAX_PRINTERS + 1)]
    metrics = {
        "cpu_percent": 1.0,
        "memory_total_bytes": 1,
        "memory_used_bytes": 1,
        "memory_percent": 1.0,
        "uptime_s": 1,
    }
    with pytest.raises(msgspec.ValidationError, match="printers"):
        msgspec.convert({**metrics, "printers": many}, Metrics)
    with pytest.raises(msgspec.ValidationError, match="state"):
        msgspec.convert({**metrics, "printers": [{"name": "p", "state": "on fire"}]}, Metrics)
