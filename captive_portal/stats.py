"""The portal's statistics for the hotspot's agent: clients now, connections per hour, the day's
unique devices, and session lengths; aggregates only, written with :func:`write_snapshot`.

Session lengths, honestly: a session starts at the first grant of an address and ends when the
nftables element expires (or is revoked); nobody tells the portal when, so each check (every few
seconds, and at each connection) asks the access list what remains. When an address is found
gone, its end is taken as the expected end computed at the previous check (``check time +
remaining``) but never later than now: exact for a natural expiry, at most one check interval
off for a revocation. A tap that renews a live session extends the same session. Sessions that
were open when the portal restarted are not counted (their start is known only in memory).
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime, timedelta

from captive_portal.access import ClientAddress
from captive_portal.snapshot import EndedSession, PortalSnapshot

KEEP_FOR = timedelta(hours=24)


@dataclasses.dataclass
class _OpenSession:
    started: datetime
    expected_end: datetime
    renewed: datetime  # the last tap


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class PortalStats:
    """Counts connections and follows sessions in memory; addresses never leave this object."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hour: dict[datetime, int] = {}
        self._open: dict[ClientAddress, _OpenSession] = {}
        self._ended: list[EndedSession] = []

    def resume(self, previous: PortalSnapshot | None, now: datetime) -> None:
        """Carry over the last snapshot's counts after a restart (the agent may not have sent
        them yet)."""
        if previous is None:
            return
        with self._lock:
            self._by_hour = {hour_of(h): n for h, n in previous.connections_by_hour.items()}
            self._ended = list(previous.ended_sessions)
            self._prune(now)

    def record_connection(self, address: ClientAddress, now: datetime, seconds: int) -> None:
        with self._lock:
            hour = hour_of(now)
            self._by_hour[hour] = self._by_hour.get(hour, 0) + 1
            session = self._open.get(address)
            if session is None:
                self._open[address] = _OpenSession(now, now + timedelta(seconds=seconds), now)
            else:
                session.expected_end = now + timedelta(seconds=seconds)
                session.renewed = now

    def observe(self, authorised: dict[ClientAddress, int], now: datetime) -> None:
        """Close the sessions whose access has expired; see the module's note on accuracy.

        ``authorised`` is every authorised address with its seconds left (one read of the
        access list, whatever the number of clients), read at ``now`` or later: a session
        tapped at ``now`` or after may be missing from it, and is left for the next look.
        """
        with self._lock:
            for address, session in list(self._open.items()):
                if session.renewed >= now:
                    continue
                remaining = authorised.get(address)
                if remaining is not None:
                    session.expected_end = now + timedelta(seconds=remaining)
                    continue
                ended = min(now, session.expected_end)
                del self._open[address]
                self._ended.append(
                    EndedSession(
                        ended_at=ended.astimezone(UTC).replace(second=0, microsecond=0),
                        seconds=max(0, int((ended - session.started).total_seconds())),
                    )
                )
            self._prune(now)

    def snapshot(
        self, now: datetime, day: date, clients_now: int, unique_devices: int
    ) -> PortalSnapshot:
        with self._lock:
            self._prune(now)
            return PortalSnapshot(
                at=now.astimezone(UTC),
                day=day,
                clients_now=clients_now,
                connections_by_hour=dict(sorted(self._by_hour.items())),
                unique_devices_today=unique_devices,
                ended_sessions=list(self._ended),
            )

    def _prune(self, now: datetime) -> None:
        oldest = now - KEEP_FOR
        self._by_hour = {h: n for h, n in self._by_hour.items() if h >= hour_of(oldest)}
        self._ended = [s for s in self._ended if s.ended_at >= oldest]
