"""Nothing of a resident leaves a public PC (agent/redaction.py): what a resident named — a
document, a USB stick, a Wi-Fi network — reaches neither the controller nor the agent's log, while
the words staff act on (the area, the errno's message, "immutable") do."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from agent_testkit import make_command, make_credentials, make_inventory, make_metrics, wait_for
from wipe_testkit import chattr

from agent.actions import Outcome, RecentLog
from agent.daemon import build_agent, redact_logs_of
from agent.pc.guest import GuestAccount
from agent.pc.network import remove_guest_connections
from agent.pc.public_pc import wipe_event
from agent.pc.report import WipeReport
from agent.pc.reset import lock_reason
from agent.pc.wipe import TreeWiper
from agent.protocol import (
    Disk,
    DiskUsage,
    EventBatch,
    Heartbeat,
    InventoryReport,
    SessionEnd,
)
from agent.protocol import WipeReport as WipeEvent
from agent.redaction import RedactingSpool, redacted_text
from agent.roles import roles_for
from agent.settings import AgentSettings

# What residents named, as they would: each must never be seen off the PC.
DOCUMENT = "relevé CAF Mme Dupont.pdf"
USB_LABEL = "CLÉ de Mme Dupont"
NETWORK = "Box de Mme Dupont.nmconnection"
RESIDENTS_WORDS = ("Dupont", "CAF", "relev")


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[list[Path]]:
    """Files made immutable by a test (``chattr +i``), made deletable again afterwards."""
    made: list[Path] = []
    yield made
    for path in made:
        chattr("-i", path)


def residents_document(home: Path, immutable: list[Path]) -> Path:
    """A resident's document nothing can delete, not even root: ``chattr +i``."""
    document = home / "Documents" / DOCUMENT
    document.parent.mkdir(parents=True)
    document.write_text("numéro allocataire 1234567")
    chattr("+i", document)
    immutable.append(document)
    return document


def sent(spool: RedactingSpool) -> str:
    """Every event waiting in the spool, as the controller would receive them."""
    batch = spool.pending_batch()
    assert batch is not None
    return msgspec.json.encode(batch).decode()


def assert_nothing_of_the_resident(text: str) -> None:
    for word in RESIDENTS_WORDS:
        assert word not in text


def test_a_wipe_report_says_where_and_why_but_not_what(tmp_path: Path, immutable: list[Path]):
    home = tmp_path / "home" / "borne-guest"
    document = residents_document(home, immutable)
    report = WipeReport()
    TreeWiper(report, "home").wipe_tree(home)  # the real wipe, stopped by the immutable file
    try:
        document.unlink()
    except OSError as exc:  # the real error, as reset.py words it for the next fresh home
        report.did(f"could not prepare the next fresh home: {exc}")
    report.did(f"unmounted /media/borne-guest/{USB_LABEL}")  # as media.py words it
    assert DOCUMENT in str(report.actions) and DOCUMENT in report.leftovers[0].path

    spool = RedactingSpool(tmp_path / "spool.sqlite3")
    spool.append(lambda seq: wipe_event(seq, report, SessionEnd.IDLE, datetime.now(UTC)))

    wire = sent(spool)
    assert_nothing_of_the_resident(wire)
    assert USB_LABEL not in wire
    (event,) = msgspec.json.decode(wire, type=EventBatch).events
    assert isinstance(event, WipeEvent)
    assert event.actions[0].startswith("could not prepare the next fresh home: [Errno 1] ")
    assert "Operation not permitted: '/tmp/" in event.actions[0]
    assert event.actions[0].endswith("/home/…/Documents/….pdf'")
    assert event.actions[1] == "unmounted /media/…/…"
    [left] = event.leftovers
    assert left.area == "home" and left.path.endswith("/home/…/Documents/….pdf")
    assert "immutable (chattr +i)" in left.reason


def test_a_network_the_resident_joined_is_not_named(tmp_path: Path, immutable: list[Path]):
    connections = tmp_path / "system-connections"
    connections.mkdir()
    keyfile = connections / NETWORK
    keyfile.write_text("[connection]\nid=Box de Mme Dupont\npermissions=user:borne-guest:;\n")
    chattr("+i", keyfile)
    immutable.append(keyfile)
    guest = GuestAccount("borne-guest", 1001, 1001, tmp_path / "home")
    report = WipeReport()
    try:
        remove_guest_connections(guest, report, [connections])
    except OSError as exc:  # reset.py's _step reports a cleaner's failure this way
        report.left("network", "", f"failed: {exc}")
    assert "Dupont" in report.leftovers[0].reason

    spool = RedactingSpool(tmp_path / "spool.sqlite3")
    spool.append(lambda seq: wipe_event(seq, report, SessionEnd.COMMAND, datetime.now(UTC)))

    wire = sent(spool)
    assert_nothing_of_the_resident(wire)
    (event,) = msgspec.json.decode(wire, type=EventBatch).events
    assert isinstance(event, WipeEvent)
    assert event.leftovers[0].reason.startswith("failed: [Errno 1] Operation not permitted: '")
    assert event.leftovers[0].reason.endswith("/system-connections/…'")


def test_heartbeats_and_inventories_show_a_usb_stick_without_its_label(tmp_path: Path):
    stick = f"/media/borne-guest/{USB_LABEL}"
    report = WipeReport()
    report.left("home", f"/home/borne-guest/Documents/{DOCUMENT}", "immutable (chattr +i)")
    usage = DiskUsage(mountpoint=stick, total_bytes=8 << 30, used_bytes=1 << 30, percent=12.5)
    spool = RedactingSpool(tmp_path / "spool.sqlite3")
    spool.append(
        lambda seq: Heartbeat(
            seq=seq,
            at=datetime.now(UTC),
            interval_s=10,
            metrics=make_metrics(disks=[usage]),
            state={"guest_login": "locked", "locked_because": lock_reason(report.leftovers)},
        )
    )
    disk = Disk(device="/dev/sdb1", mountpoint=stick, fstype="vfat", total_bytes=8 << 30)
    spool.append(
        lambda seq: InventoryReport(
            seq=seq, at=datetime.now(UTC), inventory=make_inventory(disks=[disk])
        )
    )

    wire = sent(spool)
    assert_nothing_of_the_resident(wire)
    assert USB_LABEL not in wire
    heartbeat, inventory = json.loads(wire)["events"]
    assert heartbeat["metrics"]["disks"][0]["mountpoint"] == "/media/…/…"
    assert heartbeat["state"]["locked_because"] == (
        "the wipe left /home/…/Documents/….pdf: immutable (chattr +i)"
    )
    assert inventory["inventory"]["disks"][0]["device"] == "/dev/sdb1"  # the machine's own name
    assert inventory["inventory"]["disks"][0]["mountpoint"] == "/media/…/…"


class DeletesTheDocument:
    """A session reset whose wipe meets the resident's immutable document (a real error)."""

    def __init__(self, document: Path) -> None:
        self.document = document

    def reset(self) -> Outcome:
        os.unlink(self.document)
        return Outcome(True, "ready")


def test_a_failed_command_and_the_logs_reach_the_controller_without_the_residents_names(
    http_controller, tmp_path: Path, immutable: list[Path]
):
    document = residents_document(tmp_path / "home" / "borne-guest", immutable)
    recent = RecentLog()  # the agent's own lines, which collect_logs ships
    logging.getLogger("agent").addHandler(recent)
    settings = AgentSettings(
        state_dir=tmp_path / "state",
        actions="simulated",
        heartbeat_interval_s=3600,
        http_timeout_s=5,
    )
    agent = build_agent(settings, make_credentials(http_controller.url), recent_log=recent)
    stop_redacting = redact_logs_of(agent.roles, [recent])  # as the daemon's run() does
    assert agent.commands is not None
    agent.commands.actions.session = DeletesTheDocument(document)
    reset, logs = make_command("reset_session"), make_command("collect_logs")
    http_controller.received.pending_commands += [reset, logs]
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        results = wait_for(
            lambda: (
                len(http_controller.received.results()) == 2 and http_controller.received.results()
            ),
            timeout=15,
            what="both results at the controller",
        )
    finally:
        agent.stop()
        thread.join(10)
        agent.link.close()
        agent.spool.close()
        stop_redacting()
        logging.getLogger("agent").removeHandler(recent)

    failed, shipped_logs = results[reset["id"]], results[logs["id"]]
    assert not failed["ok"]
    assert failed["output"].startswith(
        "the agent failed to run it: PermissionError: [Errno 1] Operation not permitted: '/tmp/"
    )
    assert failed["output"].endswith("/home/…/Documents/….pdf'")
    log_lines = "\n".join(recent.lines())
    for text in (json.dumps(http_controller.received.events, ensure_ascii=False), log_lines):
        assert_nothing_of_the_resident(text)
    # The traceback is still there for the technician, with the agent's code locations whole.
    assert "raised" in log_lines and "Operation not permitted" in log_lines
    assert code_location() in shipped_logs["output"]


def test_the_agents_log_file_on_a_public_pc_holds_no_residents_name(
    tmp_path: Path, immutable: list[Path]
):
    document = residents_document(tmp_path / "home" / "borne-guest", immutable)
    log_file = tmp_path / "agent.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("agent.pc.reset.redaction-test")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    stop_redacting = redact_logs_of(roles_for(["pc"]), [handler])
    try:
        try:
            document.unlink()
        except OSError:
            log.exception("reset step %s failed", "trash")
        log.info("unmounted %s", f"/media/borne-guest/{USB_LABEL}")
        log.warning("network %r kept", NETWORK)
    finally:
        stop_redacting()
        log.removeHandler(handler)
        handler.close()

    written = log_file.read_text(encoding="utf-8")
    assert_nothing_of_the_resident(written)
    assert USB_LABEL not in written
    assert "ERROR agent.pc.reset.redaction-test: reset step trash failed" in written
    assert "PermissionError: [Errno 1] Operation not permitted: '/tmp/" in written
    assert "/home/…/Documents/….pdf'" in written
    assert "unmounted /media/…/…" in written and "network '…' kept" in written
    assert code_location() in written  # where it failed, for the technician


def test_a_kiosks_logs_are_left_as_they_are(tmp_path: Path) -> None:
    handler = logging.FileHandler(tmp_path / "agent.log", encoding="utf-8")
    stop_redacting = redact_logs_of(roles_for(["kiosk"]), [handler])
    assert handler.filters == []
    stop_redacting()
    handler.close()


FREE_TEXTS = [
    # Names hold spaces and quotes; our own words around them stay.
    (
        f"detached /media/borne-guest/{USB_LABEL} (busy: lazy unmount)",
        "detached /media/…/… (busy: lazy unmount)",
    ),
    (
        "[Errno 2] No such file or directory: \"/tmp/l'avis d'impôt.pdf\"",
        '[Errno 2] No such file or directory: "/tmp/….pdf"',
    ),
    ("opened file:///home/borne-guest/Downloads/cv.odt", "opened file:///home/…/Downloads/….odt"),
    ("~/Bureau/lettre à Mme Dupont.odt", "~/Bureau/….odt"),
    ("b'/tmp/x y' and b'Mme Dupont'", "b'/tmp/…' and b'…'"),
    # A path runs to the end of its line or a quote, whatever it swallows on the way.
    ("/tmp/x.pdf and more /tmp/y\nnext line", "/tmp/…/tmp/…\nnext line"),
    ("the resident's file 'Mme Dupont", "the resident's file '…"),  # cut short, still hidden
    # Not a resident's: left alone.
    ("Debian GNU/Linux, chattr +i/+a, https://borne.example.org/api/v1", None),
    ("state in /var/lib/borne-agent", None),
]


@pytest.mark.parametrize(("text", "shown"), FREE_TEXTS)
def test_free_text_loses_names_and_keeps_our_words(text: str, shown: str | None) -> None:
    assert redacted_text(text) == (text if shown is None else shown)
    assert redacted_text(redacted_text(text)) == redacted_text(text)  # redacting twice is harmless


def code_location() -> str:
    """How this file shows in a redacted traceback: whole, unless the checkout itself sits in
    an area of the residents' (a clone under /tmp), whose names are hidden like theirs."""
    if __file__.startswith(("/tmp/", "/var/tmp/", "/home/", "/dev/shm/")):
        return f'File "/{__file__.split("/")[1]}/…'
    return f'File "{__file__}", line'
