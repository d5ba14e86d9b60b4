"""The resident's picture and desktop settings (agent/pc/account_traces.py) go at each reset."""

from __future__ import annotations

from pathlib import Path

from agent.pc.account_traces import remove_account_traces
from agent.pc.guest import GuestAccount
from agent.pc.report import WipeReport


def test_the_residents_picture_and_settings_go_and_other_accounts_stay(
    guest: GuestAccount, tmp_path: Path
) -> None:
    service = tmp_path / "AccountsService"
    for kind in ("icons", "users"):
        (service / kind).mkdir(parents=True)
        (service / kind / guest.name).write_text("the resident's")
        (service / kind / "marie").write_text("a colleague's")
    outside = tmp_path / "outside"
    outside.write_text("kept")
    (service / "icons" / guest.name).unlink()
    (service / "icons" / guest.name).symlink_to(outside)  # a link is removed, not followed
    report = WipeReport()

    remove_account_traces(guest, report, service)

    assert sorted(p.name for p in (service / "icons").iterdir()) == ["marie"]
    assert sorted(p.name for p in (service / "users").iterdir()) == ["marie"]
    assert outside.read_text() == "kept"
    assert report.clean and report.actions == ["removed the account's picture and desktop settings"]
