"""The portal's statistics as it hands them to the hotspot's agent: aggregates, never addresses.

The portal rewrites ``<state_dir>/stats.json`` (atomically, mode 0644: it holds nothing personal)
every few seconds and on each connection; the agent's hotspot role reads it and forwards it to the
controller. This module needs only msgspec, so the agent can import it without the web stack.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import msgspec

SNAPSHOT_FILE = "stats.json"
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]


class EndedSession(msgspec.Struct, forbid_unknown_fields=True):
    ended_at: datetime  # UTC, to the minute: enough for statistics, too coarse to follow anyone
    seconds: NonNegInt


class PortalSnapshot(msgspec.Struct, forbid_unknown_fields=True):
    at: datetime  # when the portal wrote it (UTC)
    day: date  # the local day the unique count and the salt belong to
    clients_now: NonNegInt
    # Taps on Connect that let a device out, by hour start in UTC ("2026-11-22T09:00:00Z").
    connections_by_hour: dict[datetime, NonNegInt] = {}
    # Distinct devices today, counted by a hash of their MAC salted with the day's secret.
    unique_devices_today: NonNegInt = 0
    # Sessions that ended recently (the last 24 hours at most).
    ended_sessions: list[EndedSession] = []


def snapshot_path(state_dir: Path) -> Path:
    return Path(state_dir) / SNAPSHOT_FILE


def read_snapshot(state_dir: Path) -> PortalSnapshot | None:
    """The last snapshot, or None when the portal has not written one (or it is damaged)."""
    try:
        return msgspec.json.decode(snapshot_path(state_dir).read_bytes(), type=PortalSnapshot)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def write_snapshot(state_dir: Path, snapshot: PortalSnapshot) -> None:
    path = snapshot_path(state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.encode(snapshot))
    tmp.chmod(0o644)
    tmp.replace(path)
