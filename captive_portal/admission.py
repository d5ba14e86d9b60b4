"""Who gets online: the portal's one decision, made when a resident taps Connect.

In order: the hotspot must be open (mode and opening hours), the address must not be tapping
faster than ``connects_per_minute`` (this also throttles code guesses), in "code" mode the code
must have the shape of one, a new device must find room under ``max_clients`` (a device already
online just renews), and the code must be right (a voucher is used up only once there is room).
Then the address, and the device's other addresses, are granted ``session_s`` and the
statistics are updated and written.

A device is what the kernel's neighbour table groups under one MAC address at its tap
(:mod:`captive_portal.devices` keeps the grouping for the session): a dual-stack phone with
three addresses is one client, for ``max_clients`` and for the statistics. Every few seconds the
portal reads that table again, and an address a connected device starts using (a new IPv6
privacy address) joins its session.
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
from captive_portal.anonymity import DailyLedger, Neighbour, NeighbourTable, device_identifier
from captive_portal.codes import is_code_of_the_day, normalise_code
from captive_portal.devices import DeviceBook
from captive_portal.hours import OpeningSchedule
from captive_portal.settings import PortalMode, PortalSettings
from captive_portal.snapshot import read_snapshot, write_snapshot
from captive_portal.stats import PortalStats
from captive_portal.vouchers import VoucherBook

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]  # aware "now"


MAX_OTHER_ADDRESSES = 4
# Code attempts a hotspot takes per minute, all devices together: 10^6 codes at this pace take
# more than eleven days, and a day's code lasts one day.
CODE_ATTEMPTS_PER_MINUTE = 60
HOTSPOT = "*"
# A full hotspot counts its devices again on a tap at most this often.
RECOUNT_REUSE_S = 1.0


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
        self._vouchers = (
            VoucherBook(self._state_dir, settings.code_secret) if settings.code_secret else None
        )
        # Parsed once: the refresh asks for every address online.
        self._client_networks = [
            ipaddress.ip_network(subnet)
            for subnet in (settings.client_subnet, settings.client_subnet6)
            if subnet
        ]
        self._gateway = {
            ipaddress.ip_address(a)
            for a in (settings.gateway_address, settings.gateway_address6)
            if a
        }
        # Taps run on the server's threads and the refresh on its own: the book, and a tap's
        # check for room with its reservation, are under this lock; the slow reads (the access
        # list, the neighbour table) are not. One recount at a time.
        self._devices_lock = threading.Lock()
        self._recounting = threading.Lock()
        self._devices = DeviceBook(1 + MAX_OTHER_ADDRESSES)
        self._recounted_at = 0.0  # a time stamp of self.clock
        self._recount()  # a restart with clients online knows them

    def reconfigure(self, settings: PortalSettings) -> None:
        """Take new web-side settings (from the controller) without a restart.

        Mode, opening hours, time zone, session length and code secret change; clients online
        keep their time. Raises ``ImproperlyConfigured`` (and changes nothing) for hours that
        do not parse. Each attribute is replaced whole, so a request in flight sees the old
        value or the new one.
        """
        schedule = _schedule(settings)
        if settings.code_secret != self.settings.code_secret:
            # Vouchers are hashed with the secret: the ones printed before no longer open.
            self._vouchers = (
                VoucherBook(self._state_dir, settings.code_secret) if settings.code_secret else None
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
        mac = self._neighbours.hardware_address(address)
        key = self._devices.key(mac, address)
        with self._devices_lock:
            if address.version == 4 and self._devices.ipv4_of(key) not in (None, address):
                # Another IPv4 address under this MAC: someone else behind a range extender
                # that shows one MAC for all (or a new lease): a device of its own.
                key, mac = self._devices.key(None, address), None
        reserved = self._take_a_seat(key)
        if reserved is None:
            return ConnectResult(ConnectOutcome.FULL, retry_after=FULL_RETRY_AFTER_S)
        try:
            if code is not None:
                # Per hotspot too: a device that changes its (IPv6) address at will gets a
                # fresh allowance per address, and a day's code must not fall to guessing
                # within the day.
                if not self._code_attempts.allow(HOTSPOT, now.timestamp()):
                    return ConnectResult(
                        ConnectOutcome.RATE_LIMITED,
                        retry_after=self._code_attempts.retry_after(HOTSPOT, now.timestamp()),
                    )
                if not self._code_opens(code):
                    return ConnectResult(ConnectOutcome.WRONG_CODE)
            siblings = self._siblings(address, mac)
            in_use = {address, *siblings}
            if not self._let_out(address, key, self.settings.session_s, in_use):
                # Its five addresses are all in use: a device cycling through addresses.
                return ConnectResult(ConnectOutcome.FULL, retry_after=FULL_RETRY_AFTER_S)
            # A renewal renews the whole device, and the addresses it uses go out with it.
            for other in self._devices_addresses(key) - in_use:
                self._grant_quietly(other, self.settings.session_s)
            for other in siblings:  # the resident is out on ``address`` even if these fail
                self._let_out(other, key, self.settings.session_s, in_use, quiet=True)
        finally:
            if reserved:
                with self._devices_lock:
                    self._devices.release(key)
        # Stamped after the grant: a refresh that read the access list before it must not
        # take the new session for one that ended.
        self._count_connection(address, mac, self.clock())
        return ConnectResult(ConnectOutcome.GRANTED, remaining=self.settings.session_s)

    def _siblings(self, address: ClientAddress, mac: str | None) -> list[ClientAddress]:
        """The device's other addresses in use on the client networks (a dual-stack phone taps
        once over IPv4 or IPv6: both go online). The kernel's neighbour table links them."""
        if mac is None:
            return []
        return [
            other
            for other in self._neighbours.addresses_of(mac)
            if other != address and self._on_client_network(other)
        ]

    def _take_a_seat(self, key: str) -> bool | None:
        """True: a place is reserved for a new device (release it); False: the device is online
        already (a renewal, or a new address of it); None: the hotspot is full."""
        for recounted in (False, True):
            with self._devices_lock:
                if self._devices.knows(key):
                    return False
                if self._devices.count() < self.settings.max_clients:
                    self._devices.reserve(key)
                    return True
            # Full by the book, but devices may have left since the last refresh: count again,
            # at most once a second and one recount at a time, so taps on a full hotspot wait
            # for nothing.
            if recounted or abs(self.clock().timestamp() - self._recounted_at) < RECOUNT_REUSE_S:
                return None
            try:
                if not self._recount(wait=False):
                    return None
            except RuntimeError as exc:  # nft failing: the resident is told to come back
                log.warning("counting the devices online failed: %s", exc)
                return None
        return None

    def _let_out(
        self,
        address: ClientAddress,
        key: str,
        seconds: int,
        in_use: set[ClientAddress],
        unless_changed_since: float | None = None,
        *,
        quiet: bool = False,
    ) -> bool:
        """Grant ``address`` as ``key``'s, making room among the device's addresses; False
        when there is none, or (``unless_changed_since``) when a tap changed the address since.

        The book and the sets change together, under the book's lock, so a tap and the
        refresh never act on the same address at once. A failed grant raises (NftError), or
        with ``quiet`` is logged and gives False.
        """
        with self._devices_lock:
            if unless_changed_since is not None and self._devices.joined_since(
                address, unless_changed_since
            ):
                return False
            if self._devices.device_of(address) == key:
                evicted: list[ClientAddress] | None = []
            else:
                evicted = self._devices.make_room(key, address, in_use)
            if evicted is None:
                return False
            for old in evicted:
                self._devices.leave(old)
                self._revoke_quietly(old)
            if quiet:
                if not self._grant_quietly(address, seconds):
                    return False
            else:
                self.access.grant(address, seconds)
            self._devices.join(address, key)
        return True

    def _close(self, address: ClientAddress, previous: str, read_at: float) -> bool:
        with self._devices_lock:
            if self._devices.device_of(address) != previous or self._devices.joined_since(
                address, read_at
            ):
                return False  # a tap got there first
            self._devices.leave(address)
            self._revoke_quietly(address)
        return True

    def _grant_quietly(self, address: ClientAddress, seconds: int) -> bool:
        try:
            self.access.grant(address, seconds)
        except RuntimeError as exc:  # NftError: its message names no client
            log.warning("a grant failed: %s", exc)
            return False
        return True

    def _revoke_quietly(self, address: ClientAddress) -> None:
        try:
            self.access.revoke(address)
        except RuntimeError as exc:
            log.warning("a revocation failed: %s", exc)

    def _devices_addresses(self, key: str) -> set[ClientAddress]:
        with self._devices_lock:
            return self._devices.addresses(key)

    def _on_client_network(self, address: ClientAddress) -> bool:
        return address not in self._gateway and any(
            address.version == n.version and address in n for n in self._client_networks
        )

    def devices_online(self) -> int:
        """Devices online (addresses grouped by device), as of the last refresh and the taps
        since: a device that left shows until the next refresh."""
        with self._devices_lock:
            return self._devices.count()

    def refresh(self) -> None:
        """Every few seconds: count the devices online, let their new addresses out, close
        expired sessions and rewrite the snapshot the agent reads."""
        now = self.clock()
        with self._recounting:
            read_at, entries, authorised = self._recount_locked()
            self._follow_devices(entries, authorised, read_at)
        self._stats.observe(authorised, now)
        self._write_snapshot(now)

    def _recount(self, *, wait: bool = True) -> bool:
        """Bring the book in line with the access list and the neighbour table; False when
        another recount is running and ``wait`` is False."""
        if not self._recounting.acquire(blocking=wait):
            return False
        try:
            self._recount_locked()
        finally:
            self._recounting.release()
        return True

    def _recount_locked(self) -> tuple[float, list[Neighbour], dict[ClientAddress, int]]:
        read_at = self._devices.now()
        entries = self._neighbours.entries()
        authorised = self.access.remaining_all()
        mac_of = {n.address: n.mac for n in entries}
        with self._devices_lock:
            self._devices.keep_only(authorised, read_at)
            self._devices.adopt(authorised, mac_of)
            self._devices.seen(n.address for n in entries if n.in_use)
        self._recounted_at = self.clock().timestamp()
        return read_at, entries, authorised

    def _follow_devices(
        self, entries: list[Neighbour], authorised: dict[ClientAddress, int], read_at: float
    ) -> None:
        """Follow each device's addresses in use since its tap.

        An address a connected device starts using (a new IPv6 privacy address, made every
        day or so) is let out for the time the session has left, in place of the device's
        address unused the longest once it has five. An authorised address now used by a MAC
        that never tapped changed hands (DHCP gave it to someone else): it is closed.
        """
        in_use: dict[str, set[ClientAddress]] = {}
        for n in entries:
            if n.in_use and self._on_client_network(n.address):
                in_use.setdefault(n.mac, set()).add(n.address)
        followed = closed = 0
        for mac, addresses in in_use.items():
            key = self._devices.key(mac, next(iter(addresses)))
            with self._devices_lock:
                online = self._devices.knows(key)
                own = self._devices.addresses(key)
                if online and any(self._devices.joined_since(a, read_at) for a in own):
                    continue  # tapped while the lists were read: the next refresh sees it
            seconds = max((authorised.get(a, 0) for a in own), default=0)
            for address in addresses:
                with self._devices_lock:
                    previous = self._devices.device_of(address)
                if previous == key:
                    continue
                if previous is None and online and seconds >= 1 and address.version == 6:
                    # A new address of a connected device (IPv4 never follows: see make_room).
                    if self._let_out(address, key, seconds, addresses, read_at, quiet=True):
                        followed += 1
                elif (
                    previous is not None
                    and not online
                    and not DeviceBook.by_address(previous)
                    and self._close(address, previous, read_at)
                ):
                    closed += 1  # another device's address, now used by a MAC that never tapped
        if followed or closed:
            log.info("%d address(es) followed their device, %d closed", followed, closed)

    def _code_opens(self, code: str) -> bool:
        day = self.today()
        if is_code_of_the_day(code, self.settings.code_secret, day):
            return True
        return self._vouchers is not None and self._vouchers.redeem(code, day)

    def _count_connection(self, address: ClientAddress, mac: str | None, now: datetime) -> None:
        day = self.today()
        device = self._ledger.device_id(device_identifier(address, mac), day)
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
