"""What the desktop keeps about the guest account outside its home, set by the resident.

AccountsService stores, per account, the picture a resident chose (``icons/<name>``) and the
settings they changed from the desktop (``users/<name>``: language, session …). Both would
greet the next resident with the previous one's choices; both go at each reset, and the desktop
falls back to the defaults.
"""

from __future__ import annotations

from pathlib import Path

from agent.pc.guest import GuestAccount
from agent.pc.report import WipeReport

ACCOUNTS_SERVICE = Path("/var/lib/AccountsService")
AREA = "account"


def remove_account_traces(
    guest: GuestAccount, report: WipeReport, accounts_service: Path = ACCOUNTS_SERVICE
) -> None:
    removed = 0
    for kind in ("icons", "users"):
        path = accounts_service / kind / guest.name
        try:
            if path.is_symlink() or not path.is_dir():
                path.unlink()  # a link is removed, never followed
                removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            report.left(AREA, str(path), f"not removed: {exc.strerror}")
    if removed:
        report.did("removed the account's picture and desktop settings")
