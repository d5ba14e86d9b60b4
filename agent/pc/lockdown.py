"""What the guest may not do on a public PC, written by ``borne agent pc setup``.

* **No system-wide network connections.** NetworkManager lets the person at the PC change its
  system connections by default, and desktops then save a new Wi-Fi network (with its password)
  for every account. A resident's home Wi-Fi would survive the reset. A polkit rule refuses the
  guest ``settings.modify.system``: what the guest adds is private to the guest
  (``permissions=user:<guest>``), and the reset deletes it (:mod:`agent.pc.network`).
* **No subordinate uids.** Files and processes of a rootless container belong to the guest's
  ``/etc/subuid`` range, not to the guest: the wipe would not know them. The guest gets none.
"""

from __future__ import annotations

import json
from pathlib import Path

POLKIT_RULE = Path("etc/polkit-1/rules.d/50-borne-guest.rules")
SUBORDINATE_FILES = (Path("etc/subuid"), Path("etc/subgid"))
NM_SYSTEM_SETTINGS = "org.freedesktop.NetworkManager.settings.modify.system"


def polkit_rule(guest: str) -> str:
    name = json.dumps(guest)  # a JavaScript string literal, quotes and escapes included
    return (
        "// Written by borne agent pc setup: the public session may not add Wi-Fi or other\n"
        "// connections for every account; what it adds stays its own and goes at each reset.\n"
        "polkit.addRule(function (action, subject) {\n"
        f'    if (action.id == "{NM_SYSTEM_SETTINGS}" && subject.user == {name}) {{\n'
        "        return polkit.Result.NO;\n"
        "    }\n"
        "});\n"
    )


def write_lockdown(guest: str, root: Path = Path("/")) -> list[str]:
    """Write the polkit rule and take the guest's subordinate ids away; what was done."""
    done = []
    rule = root / POLKIT_RULE
    rule.parent.mkdir(parents=True, exist_ok=True)
    if not rule.is_file() or rule.read_text(encoding="utf-8") != polkit_rule(guest):
        rule.write_text(polkit_rule(guest), encoding="utf-8")
        rule.chmod(0o644)
        done.append(f"polkit rule {rule}")
    for relative in SUBORDINATE_FILES:
        path = root / relative
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.split(":", 1)[0] != guest]
        if kept != lines:
            path.write_text("".join(kept), encoding="utf-8")
            done.append(f"removed the guest's subordinate ids from {path}")
    return done


def check_lockdown(guest: str, root: Path = Path("/")) -> list[str]:
    """What is missing, in words for IT."""
    problems = []
    rule = root / POLKIT_RULE
    if not rule.is_file() or rule.read_text(encoding="utf-8") != polkit_rule(guest):
        problems.append(f"polkit: {rule} must keep the guest from adding system connections")
    for relative in SUBORDINATE_FILES:
        path = root / relative
        if path.is_file() and any(
            line.split(":", 1)[0] == guest for line in path.read_text(encoding="utf-8").splitlines()
        ):
            problems.append(f"{path} gives the guest subordinate ids (rootless containers)")
    return problems
