"""The ``kiosk`` role: a charging kiosk's lockers, run beside the agent, and its touch page.

When the agent runs, :class:`KioskService` builds the locker driver the settings name
(:func:`agent.kiosk.drivers.make_driver`), the durable store (``<state_dir>/kiosk.sqlite3``,
:mod:`agent.kiosk.store`) and the :class:`~agent.kiosk.bank.Bank` over them; it ticks the bank
every second and serves the touch page (:mod:`agent.kiosk.web`) on ``127.0.0.1:kiosk_port``,
where Chromium in kiosk mode shows it. Nothing is built before: an agent built and never run
(the tests, ``borne agent`` refusing a setting) opens no port and no file, and a setting the
driver refuses stops the agent at start with its message.

:class:`KioskRole` hands the bank the site's rules the controller sets (``kiosk_*``,
``site_language``, ``site_timezone``, and the technician's ``out_of_service``, which stops new
deposits while phones already inside can still be taken back); they are kept where every remote
setting is, in ``remote-settings.json``, so they survive a restart. It answers the controller's
``open_locker`` (:meth:`KioskRole.open_locker`). The bank's events — lockers reports, charging
sessions, incidents, staff openings — go to the agent's spool, and reach the controller when it
is reachable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from zoneinfo import ZoneInfo

import msgspec

from agent.actions import Outcome
from agent.kiosk.codes import BadHash, parse_pin_hash
from agent.kiosk.hours import SiteHours
from agent.periodic import Periodic
from agent.protocol import (
    SERVICE_STATE_KEY,
    CommandName,
    DeviceKind,
    OpenLockerArgs,
    ServiceState,
    UpdateConfigArgs,
)
from agent.roles import EVERY_DEVICE, SCREEN, RoleDefaults, Service, Wiring

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

    from agent.kiosk.bank import Bank, BankConfig
    from agent.kiosk.drivers.base import LockerDriver
    from agent.settings import AgentSettings

log = logging.getLogger(__name__)

TICK_EVERY_S = 1.0
# Lockers are reported at every change and at least this often when the agent's heartbeat
# period is not known here (the controller gave it at enrolment).
DEFAULT_REPORT_EVERY_S = 10
# The controller's settings the kiosk applies, besides out_of_service.
KIOSK_SETTINGS = (
    "kiosk_max_charge_min",
    "kiosk_help_text",
    "kiosk_forgotten_text",
    "kiosk_opening_hours",
    "kiosk_staff_pins",
    "site_language",
    "site_timezone",
)

DriverFactory = Callable[["AgentSettings"], "LockerDriver"]


class KioskRole(RoleDefaults):
    """A charging kiosk: its lockers (:class:`KioskService`), its screen's commands, the
    controller's ``open_locker``, and whether a technician took it out of service.

    ``driver_factory`` builds the locker driver from the settings (default:
    :func:`~agent.kiosk.drivers.make_driver` with the ``kiosk_*`` driver settings).
    """

    name = DeviceKind.KIOSK
    commands: ClassVar[frozenset[CommandName]] = EVERY_DEVICE | SCREEN | {CommandName.OPEN_LOCKER}

    def __init__(self, driver_factory: DriverFactory | None = None) -> None:
        self.out_of_service = False
        self.lockers: KioskService | None = None  # once wired
        self._driver_factory = driver_factory or _make_driver

    @property
    def bank(self) -> Bank | None:
        """The bank, while the lockers run."""
        return self.lockers.bank if self.lockers is not None else None

    def state(self) -> dict[str, str]:
        # Always there: it also tells the controller that this agent reads out_of_service.
        service = ServiceState.OUT_OF_SERVICE if self.out_of_service else ServiceState.IN_SERVICE
        return {SERVICE_STATE_KEY: service.value}

    def wire(self, wiring: Wiring) -> list[Service]:
        self.out_of_service = bool(wiring.remote.out_of_service)
        self.lockers = KioskService(wiring, driver_factory=self._driver_factory)
        return [self.lockers]

    def screen_update(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs
    ) -> tuple[UpdateConfigArgs, list[str]]:
        return screen_kiosk_settings(update, previous)

    def update_config(
        self, update: UpdateConfigArgs, *, previous: UpdateConfigArgs, in_force: UpdateConfigArgs
    ) -> list[str]:
        changed = []
        if update.out_of_service is not None:
            self.out_of_service = update.out_of_service
            changed.append(f"out_of_service = {update.out_of_service}")
        changed += kiosk_changes(update)
        if self.lockers is not None:
            self.lockers.apply(update, in_force)
        return changed

    def open_locker(self, args: OpenLockerArgs) -> Outcome:
        """The controller's ``open_locker``: the bank opens the locker for the staff member
        named, who gave a reason; the output says what happened."""
        from agent.kiosk.bank import KioskError

        bank = self.bank
        if bank is None:
            return Outcome(False, "the lockers are not running (the agent is starting or stopping)")
        try:
            return Outcome(True, bank.remote_open(args.staff, args.locker, args.reason))
        except KioskError as exc:
            detail = f" ({exc.detail})" if exc.detail else ""
            return Outcome(False, f"locker {args.locker} not opened: {exc.message}{detail}")


class KioskService:
    """The lockers beside the agent's loop: built at :meth:`start`, ticked every second, their
    touch page served; all of it released at :meth:`stop`."""

    def __init__(self, wiring: Wiring, *, driver_factory: DriverFactory) -> None:
        self.settings = wiring.settings
        self.events = wiring.events
        self.wake = wiring.wake
        self.driver_factory = driver_factory
        self.remote = wiring.remote  # the controller's settings in force
        self.bank: Bank | None = None
        self.page: PageServer | None = None
        self._ticker: Periodic | None = None
        self._report_every_s = self.settings.heartbeat_interval_s or DEFAULT_REPORT_EVERY_S

    def start(self) -> None:
        from agent.kiosk.bank import Bank
        from agent.kiosk.store import STORE_FILE, Store

        driver = self.driver_factory(self.settings)
        store = Store(Path(self.settings.state_dir) / STORE_FILE)
        try:
            bank = Bank(
                driver,
                store,
                events=self.events,
                config=bank_config(self.settings, self.remote),
                on_event=self.wake,
                report_every=timedelta(seconds=self._report_every_s),
            )
        except BaseException:
            store.close()
            driver.close()
            raise
        self._ticker = Periodic("borne-kiosk", TICK_EVERY_S, lambda: bank.tick(_now()))
        self._ticker.start()
        self.page = serve_page(bank, self.settings)
        self.bank = bank  # last: running means all of it
        log.info("%d lockers running", bank.count)

    def stop(self) -> None:
        bank, self.bank = self.bank, None
        if self.page is not None:
            self.page.stop()
            self.page = None
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        if bank is not None:
            bank.driver.close()
            bank.store.close()

    def apply(self, update: UpdateConfigArgs, in_force: UpdateConfigArgs) -> None:
        """The controller's settings changed (``in_force`` is all of them, ``update`` what it
        sent now)."""
        self.remote = in_force
        if update.heartbeat_interval_s is not None:
            self._report_every_s = update.heartbeat_interval_s
        bank = self.bank
        if bank is not None:
            bank.report_every = timedelta(seconds=self._report_every_s)
            bank.configure(bank_config(self.settings, in_force))


# -- the site's rules ----------------------------------------------------------------------------


def bank_config(settings: AgentSettings, remote: UpdateConfigArgs) -> BankConfig:
    """The bank's rules from the controller's settings in force (``remote``) over the local
    ones; opening hours that do not parse (kept from an older agent) are left out, logged."""
    from agent.kiosk.bank import DEFAULT_MAX_CHARGE_MIN, BankConfig

    timezone = remote.site_timezone or settings.site_timezone
    hours = remote.kiosk_opening_hours or ""
    try:
        SiteHours(hours, timezone)
    except ValueError as exc:
        log.error("the site's opening hours are ignored: %s", exc)
        hours, timezone = "", settings.site_timezone
    return BankConfig(
        max_charge_min=remote.kiosk_max_charge_min or DEFAULT_MAX_CHARGE_MIN,
        help_text=remote.kiosk_help_text or "",
        forgotten_text=remote.kiosk_forgotten_text or "",
        opening_hours=hours,
        timezone=timezone,
        language=remote.site_language or settings.site_language,
        staff_pins=dict(remote.kiosk_staff_pins or {}),
        out_of_service=bool(remote.out_of_service),
    )


def screen_kiosk_settings(
    update: UpdateConfigArgs, previous: UpdateConfigArgs
) -> tuple[UpdateConfigArgs, list[str]]:
    """``update`` without the kiosk settings the bank could not use — opening hours that do not
    parse, staff PIN hashes in another format — and why, for the command's output. Refused
    before they are saved: the rules in force stay as they were."""
    refused: list[str] = []
    changes: dict[str, object] = {}
    if update.kiosk_opening_hours is not None:
        timezone = update.site_timezone or previous.site_timezone or "UTC"
        try:
            SiteHours(update.kiosk_opening_hours, timezone)
        except ValueError as exc:
            changes["kiosk_opening_hours"] = None
            refused.append(f"{exc}; the opening hours in force are kept")
    if update.kiosk_staff_pins is not None:
        kept = {}
        for username, stored in update.kiosk_staff_pins.items():
            try:
                parse_pin_hash(stored)
            except BadHash as exc:
                refused.append(f"kiosk_staff_pins: the PIN of {username!r} is refused: {exc}")
            else:
                kept[username] = stored
        if len(kept) != len(update.kiosk_staff_pins):
            changes["kiosk_staff_pins"] = kept
    if not changes:
        return update, refused
    return msgspec.structs.replace(update, **changes), refused


def kiosk_changes(update: UpdateConfigArgs) -> list[str]:
    """The kiosk settings ``update`` sets, one line each for the command's output (staff PINs
    by their usernames only, never a hash)."""
    lines = []
    for name in KIOSK_SETTINGS:
        value = getattr(update, name)
        if value is None:
            continue
        if name == "kiosk_staff_pins":
            names = ", ".join(sorted(value)) or "none"
            lines.append(f"kiosk_staff_pins: {len(value)} member(s) of staff ({names})")
        elif name in ("site_language", "site_timezone", "kiosk_max_charge_min"):
            lines.append(f"{name} = {value}")
        else:
            lines.append(f"{name} = {value!r}")
    return lines


# -- the touch page ------------------------------------------------------------------------------


class PageServer:
    """The touch page on 127.0.0.1, served by werkzeug on a thread of its own."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self.server = server
        self.port = server.server_port
        self._thread = threading.Thread(
            target=server.serve_forever, name="borne-kiosk-page", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


def serve_page(bank: Bank, settings: AgentSettings) -> PageServer | None:
    """Serve the touch page on ``127.0.0.1:kiosk_port``; None (logged) when it cannot be: the
    lockers still run, staff can still open them from the controller."""
    try:
        from werkzeug.serving import make_server

        from agent.kiosk.web import create_kiosk_app
    except ModuleNotFoundError as exc:
        log.error("the kiosk's touch page is not served (install borne[kiosk]): %s", exc)
        return None
    printer = None
    if settings.kiosk_receipt_printer:
        from agent.kiosk.receipt import DeviceReceiptPrinter

        def site_time() -> datetime:
            return datetime.now(ZoneInfo(bank.config.timezone))

        printer = DeviceReceiptPrinter(settings.kiosk_receipt_printer, clock=site_time)
    try:
        app = create_kiosk_app(bank, print_receipt=printer)
        server = make_server("127.0.0.1", settings.kiosk_port, app, threaded=True)
    except Exception as exc:  # a port taken, a damaged catalogue: the lockers run on
        log.error(
            "the kiosk's touch page is not served on 127.0.0.1:%d: %s", settings.kiosk_port, exc
        )
        return None
    log.info("the kiosk's touch page is on http://127.0.0.1:%d/", server.server_port)
    return PageServer(server)


def _make_driver(settings: AgentSettings) -> LockerDriver:
    from agent.kiosk.drivers.base import KioskDriverSettings, make_driver

    return make_driver(KioskDriverSettings.from_agent_settings(settings))


def _now() -> datetime:
    return datetime.now(UTC)
