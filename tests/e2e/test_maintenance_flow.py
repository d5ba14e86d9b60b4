"""Shared maintenance end to end (issue 12): a real agent reports a nearly full disk, the
controller's rules raise an alert, a ticket goes to the team serving the library, the team is
told by e-mail (a real SMTP server, aiosmtpd), a technician takes and solves it, the disk is
freed, the alert resolves itself and the ticket says the cause is gone.

The disk is real: a 16 MB ext4 image mounted in a mount namespace of the agent's own
(``unshare``), filled to 95 % before the agent starts, emptied through ``/proc/PID/root``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.controller_process import (
    DEMO_PLACES,
    ControllerProcess,
    StaffClient,
    agent_process,
    wait_until,
)
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.e2e

SITE = "grenoble-bib-centre-ville"
ORGANISATION = "Bibliothèques de Grenoble"
TEAM = "Équipe partagée"
PASSWORD = "a long technician password"


@pytest.fixture
def small_disk(tmp_path: Path) -> tuple[Path, Path]:
    image, mountpoint = tmp_path / "disk.ext4", tmp_path / "disk"
    mountpoint.mkdir()
    subprocess.run(["truncate", "-s", "16M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    return image, mountpoint


def agent_pid(state_dir: Path) -> int:
    found = subprocess.run(
        ["pgrep", "-f", f"agent run --state-dir {state_dir}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert found, "the agent is not running"
    return int(found[-1])


def test_a_full_disk_becomes_a_ticket_a_mail_and_resolves_itself_when_freed(tmp_path, small_disk):
    image, mountpoint = small_disk
    with smtp_server() as smtp:
        controller = ControllerProcess(
            tmp_path / "controller",
            extra_env={
                "BORNE_SMTP_HOST": "127.0.0.1",
                "BORNE_SMTP_PORT": str(smtp.port),
                "BORNE_MAIL_FROM": "borne@ville.example",
                "BORNE_ALERT_RULES_INTERVAL_S": "0.5",
                "BORNE_MAIL_INTERVAL_S": "0.5",
            },
        )
        controller.data_dir.mkdir(parents=True)
        controller.migrate()
        controller.cli("places", "import", str(DEMO_PLACES))
        controller.add_user("tech", PASSWORD, "technician", "--org", ORGANISATION)
        controller.cli(
            "team", "add", TEAM, "--email", "equipe@ville.example", "--org", ORGANISATION
        )
        controller.cli("team", "member", TEAM, "tech")
        controller.start()
        try:
            fill = (
                f'mount -o loop "{image}" "{mountpoint}" && '
                f'dd if=/dev/zero of="{mountpoint}/fill" bs=1M count=12 status=none && '
                'exec "$0" "$@"'
            )
            state_dir = tmp_path / "agent"
            settings = {
                "BORNE_AGENT_ACTIONS": "simulated",
                "BORNE_AGENT_HEARTBEAT_INTERVAL_S": "1",
                "BORNE_AGENT_BACKOFF_MIN_S": "0.2",
                "BORNE_AGENT_BACKOFF_MAX_S": "1",
            }
            wrapper = ("unshare", "--mount", "--propagation", "private", "sh", "-c", fill)
            with agent_process(controller, SITE, "pc", state_dir, settings, wrapper) as device:
                technician = StaffClient(controller.url).login("tech", PASSWORD)

                def disk_alert():
                    _, alerts = technician.api("GET", "/api/v1/alerts")
                    return next(
                        (
                            a
                            for a in alerts
                            if a["device_id"] == device and a["kind"] == "disk_full"
                        ),
                        None,
                    )

                alert = wait_until(disk_alert, timeout=30, message="a disk alert")
                assert "95 % full" in alert["message"]

                status, found = technician.api("GET", f"/api/v1/tickets?device={device}")
                assert status == 200, found
                (ticket,) = found
                assert ticket["team"] == TEAM and ticket["status"] == "new"

                mail = wait_until(
                    lambda: next(iter(smtp.received), None), timeout=30, message="the team's mail"
                )
                assert mail.rcpt_tos == ["equipe@ville.example"]
                assert str(ticket["id"]) in mail.message["Subject"]

                path = f"/api/v1/tickets/{ticket['id']}/status"
                for step in ("in_progress", "solved"):
                    status, body = technician.api("POST", path, {"to": step, "comment": "disk"})
                    assert status == 200, body

                # The technician frees the disk, in the agent's own mount namespace.
                root = Path(f"/proc/{agent_pid(state_dir)}/root")
                (root / str(mountpoint).lstrip("/") / "fill").unlink()

                wait_until(lambda: disk_alert() is None, timeout=30, message="the alert resolved")
                _, shown = technician.api("GET", f"/api/v1/tickets/{ticket['id']}")
                assert shown["status"] == "solved"
                assert shown["cause_gone_at"] is not None
                assert [m.rcpt_tos for m in smtp.received] == [["equipe@ville.example"]]
        finally:
            controller.stop()
