"""Who gets online: the portal's one decision, made when a resident taps Connect.

In order: the hotspot must be open (mode and opening hours), the address must not be tapping
faster than ``connects_per_minute`` (this also throttles code guesses), in "code" mode the code
must have the shape of one, a new device must find room under ``max_clients`` (a device already
online just renews), and the code must be right (a ticket is used up only once there is room).
Then the address, and the device's other addresses, are granted ``session_s`` and the
statistics are updated and written.

A device is what the kernel's neighbour table groups under one MAC address (an address it does
not know stands for itself): a dual-stack phone with three addresses is one client, for
``max_clients`` and for the statistics. Every few seconds the portal reads that table again,
and an address a connected device starts using (a new IPv6 privacy address) joins its session.
Nothing here knows HTTP; :mod:`captive_portal.views` turns outcomes into pages.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import logging
import threading
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
        # Devices online at the last refresh, and new ones let out since: the cap's count,
        # without reading the whole neighbour table at each tap.
        self._counting = threading.Lock()  # taps on the server's threads, refreshes on its own
        self._devices_online = 0
        self._new_devices = 0
        self._recount()  # a restart with clients online knows how full it is

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
        if not renewing and not self._has_room(address):
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
        if not renewing:
            with self._counting:
                self._new_devices += 1
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

    def _has_room(self, address: ClientAddress) -> bool:
        if self.devices_online() < self.settings.max_clients:
            return True
        # Full by the estimate: count again, since devices may have left since the refresh.
        devices = self._neighbours.devices()
        authorised = self._recount(devices)
        if self.devices_online() < self.settings.max_clients:
            return True
        # A device online tapping again from a new address takes no more room.
        mac = self._neighbours.hardware_address(address)
        return mac is not None and any(a in authorised for a in devices.get(mac, []))

    def devices_online(self) -> int:
        """Devices with an authorised address: counted at the last refresh, plus the taps since
        (an upper bound until the next refresh, so the cap is never passed)."""
        return self._devices_online + self._new_devices

    def refresh(self) -> None:
        """Every few seconds: let connected devices' new addresses out, count the devices
        online, close expired sessions and rewrite the snapshot the agent reads."""
        now = self.clock()
        devices = self._neighbours.devices()
        # One read of the access list, whatever the number of clients. The addresses followed
        # belong to devices already online: the count does not change with them.
        authorised = self._recount(devices)
        authorised.update(self._follow_new_addresses(authorised, devices))
        self._stats.observe(authorised, now)
        self._write_snapshot(now)

    def _follow_new_addresses(
        self, authorised: dict[ClientAddress, int], devices: dict[str, list[ClientAddress]]
    ) -> dict[ClientAddress, int]:
        """Grant the addresses a connected device started using since its tap, for the time its
        session has left (a phone makes a new IPv6 privacy address every day or so, and its new
        connections would meet the portal again). At most :data:`MAX_OTHER_ADDRESSES` besides
        the one that tapped, as at the tap."""
        granted: dict[ClientAddress, int] = {}
        for addresses in devices.values():
            ours = [a for a in addresses if self._on_client_network(a)]
            left = [authorised[a] for a in ours if a in authorised]
            if not left or max(left) < 1:
                continue
            room = 1 + MAX_OTHER_ADDRESSES - len(left)
            for address in [a for a in ours if a not in authorised][: max(room, 0)]:
                self.access.grant(address, max(left))
                granted[address] = max(left)
        if granted:
            log.info("%d new address(es) of connected devices let out", len(granted))
        return granted

    def _recount(
        self, devices: dict[str, list[ClientAddress]] | None = None
    ) -> dict[ClientAddress, int]:
        """Count the devices online again; returns the authorised addresses it read."""
        with self._counting:
            taps_before = self._new_devices
        authorised = self.access.remaining_all()
        count = self._count_devices(authorised, devices)
        with self._counting:
            # A tap during the read stays counted (perhaps twice until the next refresh: the
            # safe side for a cap), and none is lost.
            self._devices_online = count
            self._new_devices -= taps_before
        return authorised

    def _count_devices(
        self,
        authorised: dict[ClientAddress, int],
        devices: dict[str, list[ClientAddress]] | None = None,
    ) -> int:
        """Distinct devices among the authorised addresses (an unknown address is one)."""
        if devices is None:
            devices = self._neighbours.devices()
        device_of = {address: mac for mac, known in devices.items() for address in known}
        return len({device_of.get(address, f"ip:{address}") for address in authorised})

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
            now, day, self.devices_online(), self._ledger.unique_devices(day)
        )
        try:
            write_snapshot(self._state_dir, snapshot)
        except OSError as exc:  # a full disk must not keep residents offline
            log.error("could not write the statistics snapshot: %s", exc)


def _schedule(settings: PortalSettings) -> OpeningSchedule:
    return OpeningSchedule(settings.opening_hours, settings.timezone, settings.country_code)
