"""Who gets online: the portal's one decision, made when a resident taps Connect.

In order: the hotspot must be open (mode and opening hours), the address must not be tapping
faster than ``connects_per_minute`` (this also throttles code guesses), in "code" mode the code
must have the shape of one, a new client must find room under ``max_clients`` (a client already
online just renews), and the code must be right (a ticket is used up only once there is room).
Then the address is granted ``session_s`` and the statistics are updated and written.
Nothing here knows HTTP; :mod:`captive_portal.views` turns outcomes into pages.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from captive_portal.abuse import ConnectRateLimit
from captive_portal.access import ClientAccess, ClientAddress
from captive_portal.anonymity import DailyLedger, NeighbourTable, device_identifier
from captive_portal.codes import is_code_of_the_day, normalise_code
from captive_portal.hours import OpeningSchedule
from captive_portal.settings import PortalMode, PortalSettings
from captive_portal.snapshot import read_snapshot, write_snapshot
from captive_portal.stats import PortalStats
from captive_portal.tickets import TicketBook

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]  # aware "now"


MAX_OTHER_ADDRESSES = 4
# Code attempts a hotspot takes per minute, all devices together: 10^6 codes at this pace take
# more than eleven days, and a day's code lasts one day.
CODE_ATTEMPTS_PER_MINUTE = 60
HOTSPOT = "*"


def system_clock() -> datetime:
    return datetime.now(UTC)


class ConnectOutcome(enum.StrEnum):
    GRANTED = "granted"
    CLOSED = "closed"
    RATE_LIMITED = "rate_limited"
    FULL = "full"
    MISSING_CODE = "missing_code"  # code mode, nothing that looks like a code was typed
    WRONG_CODE = "wrong_code"


@dataclasses.dataclass(frozen=True)
class ConnectResult:
    outcome: ConnectOutcome
    remaining: int | None = None  # seconds online, when granted
    retry_after: int | None = None  # seconds, when rate-limited or full


FULL_RETRY_AFTER_S = 300  # "try again in a few minutes"


class Admission:
    """The portal's state for one hotspot: access list, limits, anonymous counts, codes."""

    def __init__(
        self,
        settings: PortalSettings,
        access: ClientAccess,
        neighbours: NeighbourTable,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.access = access
        self.clock = clock
        self.schedule = _schedule(settings)
        self._neighbours = neighbours
        self._state_dir = settings.state_dir
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._limit = ConnectRateLimit(settings.connects_per_minute)
        self._code_attempts = ConnectRateLimit(CODE_ATTEMPTS_PER_MINUTE)
        settings.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._ledger = DailyLedger(settings.runtime_dir)
        self._stats = PortalStats()
        self._stats.resume(read_snapshot(self._state_dir), clock())
        self._tickets = (
            TicketBook(self._state_dir, settings.code_secret) if settings.code_secret else None
        )

    def reconfigure(self, settings: PortalSettings) -> None:
        """Take new web-side settings (from the controller) without a restart.

        Mode, opening hours, time zone, session length and code secret change; clients online
        keep their time. Raises ``ImproperlyConfigured`` (and changes nothing) for hours that
        do not parse. Each attribute is replaced whole, so a request in flight sees the old
        value or the new one.
        """
        schedule = _schedule(settings)
        if settings.code_secret != self.settings.code_secret:
            # Tickets are hashed with the secret: the ones printed before no longer open.
            self._tickets = (
                TicketBook(self._state_dir, settings.code_secret) if settings.code_secret else None
            )
        self.schedule = schedule
        self.settings = settings

    @property
    def mode(self) -> PortalMode:
        """The configured mode, or CLOSED outside opening hours."""
        if self.settings.mode == PortalMode.CLOSED or not self.schedule.is_open(self.clock()):
            return PortalMode.CLOSED
        return PortalMode(self.settings.mode)

    def today(self) -> date:
        return self.schedule.local(self.clock()).date()

    def next_opening(self) -> datetime | None:
        if self.settings.mode == PortalMode.CLOSED:
            return None  # closed by hand: nobody knows until someone reopens it
        return self.schedule.next_opening(self.clock())

    def remaining(self, address: ClientAddress) -> int | None:
        return self.access.remaining(address)

    def connect(self, address: ClientAddress, typed_code: str | None = None) -> ConnectResult:
        """Let ``address`` out if the rules above allow it."""
        mode = self.mode
        if mode == PortalMode.CLOSED:
            return ConnectResult(ConnectOutcome.CLOSED)
        now = self.clock()
        key = str(address)
        if not self._limit.allow(key, now.timestamp()):
            return ConnectResult(
                ConnectOutcome.RATE_LIMITED,
                retry_after=self._limit.retry_after(key, now.timestamp()),
            )
        code = None
        if mode == PortalMode.CODE:
            code = normalise_code(typed_code or "")
            if code is None:
                outcome = ConnectOutcome.WRONG_CODE if typed_code else ConnectOutcome.MISSING_CODE
                return ConnectResult(outcome)
        renewing = self.access.remaining(address) is not None
        if not renewing and self.access.count() >= self.settings.max_clients:
            return ConnectResult(ConnectOutcome.FULL, retry_after=FULL_RETRY_AFTER_S)
        if code is not None:
            # Per hotspot too: a device that changes its (IPv6) address at will gets a fresh
            # allowance per address, and a day's code must not fall to guessing within the day.
            if not self._code_attempts.allow(HOTSPOT, now.timestamp()):
                return ConnectResult(
                    ConnectOutcome.RATE_LIMITED,
                    retry_after=self._code_attempts.retry_after(HOTSPOT, now.timestamp()),
                )
            if not self._code_opens(code):
                return ConnectResult(ConnectOutcome.WRONG_CODE)
        self.access.grant(address, self.settings.session_s)
        self._grant_other_addresses(address)
        self._count_connection(address, now)
        return ConnectResult(ConnectOutcome.GRANTED, remaining=self.settings.session_s)

    def _grant_other_addresses(self, address: ClientAddress) -> None:
        """A dual-stack phone taps once over IPv4 or IPv6: its other addresses go online too.

        The kernel's neighbour table links them by MAC address; only addresses of the client
        networks are granted (never the gateway's own, never another link's).
        """
        mac = self._neighbours.hardware_address(address)
        if mac is None:
            return
        others = [
            other
            for other in self._neighbours.addresses_of(mac)
            if other != address and self._on_client_network(other)
        ]
        # A phone has one IPv4 and a few IPv6 addresses; a device that made the gateway learn
        # hundreds must not fill the hotspot with one tap.
        for other in others[:MAX_OTHER_ADDRESSES]:
            self.access.grant(other, self.settings.session_s)

    def _on_client_network(self, address: ClientAddress) -> bool:
        networks = [ipaddress.ip_network(self.settings.client_subnet)]
        if self.settings.client_subnet6:
            networks.append(ipaddress.ip_network(self.settings.client_subnet6))
        gateway = ipaddress.ip_address(self.settings.gateway_address)
        return address != gateway and any(
            address.version == n.version and address in n for n in networks
        )

    def refresh_statistics(self) -> None:
        """Close expired sessions and rewrite the snapshot the agent reads (every few seconds)."""
        now = self.clock()
        self._stats.observe(self.access, now)
        self._write_snapshot(now)

    def _code_opens(self, code: str) -> bool:
        day = self.today()
        if is_code_of_the_day(code, self.settings.code_secret, day):
            return True
        return self._tickets is not None and self._tickets.redeem(code, day)

    def _count_connection(self, address: ClientAddress, now: datetime) -> None:
        day = self.today()
        device = self._ledger.device_id(device_identifier(address, self._neighbours), day)
        self._ledger.note_connected(device, day)
        self._stats.record_connection(address, now, self.settings.session_s)
        # No observe() here: it reads every client's time left; the refresh every few seconds
        # does that, so a tap costs the same with 10 or 10,000 clients online.
        self._write_snapshot(now)

    def _write_snapshot(self, now: datetime) -> None:
        day = self.schedule.local(now).date()
        snapshot = self._stats.snapshot(
            now, day, self.access.count(), self._ledger.unique_devices(day)
        )
        try:
            write_snapshot(self._state_dir, snapshot)
        except OSError as exc:  # a full disk must not keep residents offline
            log.error("could not write the statistics snapshot: %s", exc)


def _schedule(settings: PortalSettings) -> OpeningSchedule:
    return OpeningSchedule(settings.opening_hours, settings.timezone, settings.country_code)
