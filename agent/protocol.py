"""The wire schema between agents and the controller, version 1.

Both sides import this module and nothing else of each other: the controller decodes what agents
send with these types, the agent encodes with them. Decoding is strict (unknown fields, wrong
types and out-of-range values are refused) so bad input stops at the edge.

Compatibility: a field added later must have a default, so that messages of older agents still
decode; ``tests/agent/test_protocol.py`` keeps samples of every version's messages.

Channels
--------
* Enrolment, HTTP: ``POST /api/v1/enrol`` with :class:`EnrolRequest` -> :class:`EnrolResponse`.
* Events, Socket.IO namespace ``/agent``: connect with ``auth = {"device_id", "secret",
  "protocol"}``; emit ``"events"`` with an :class:`EventBatch`; the acknowledgement is an
  :class:`EventAck`, sent only once the events are durable.
* Events, HTTP fallback: ``POST /api/v1/agent/events`` with an :class:`EventBatch`, HTTP Basic
  authentication ``device_id:secret`` -> :class:`EventAck`.
* Commands, Socket.IO: the controller emits ``"command"`` with a :class:`CommandMessage` to the
  device, at once and again at each (re)connection until the command is claimed or expires. The
  agent claims it before running it: ``call("claim", ClaimRequest)`` -> :class:`ClaimAnswer`; a
  refused claim (expired, cancelled, already claimed) means: do not run it. The outcome comes back
  as a :class:`CommandResult` event, spooled like every event, so it survives a lost connection.
* Commands, HTTP fallback: ``GET /api/v1/agent/commands`` -> list of :class:`CommandMessage`;
  ``POST /api/v1/agent/commands/<id>/claim`` -> :class:`ClaimAnswer` (200), or 409/410 refusals.
* Secret rotation: when staff ask for it, the acknowledgements say ``rotate_secret``; the agent
  then calls ``POST /api/v1/agent/secret`` (HTTP Basic, its current secret) -> :class:`NewSecret`,
  saves the new secret durably and uses it from then on. Until the new secret is first used the
  old one still works (a crash before saving loses nothing: the agent asks again); its first use
  makes it the only one.
* Agent upgrades: an ``update_config`` whose ``agent_version`` is not the agent's own; the agent
  reads ``GET /api/v1/agent/releases/<version>`` (HTTP Basic) -> :class:`AgentRelease`, then
  downloads ``…/<version>/wheel`` and checks its SHA-256 against it.

Features: a message from the controller gains a field only for agents that said they read it,
since agents decode strictly and an older one would refuse the whole message. An agent lists what
it reads (:data:`AGENT_FEATURES`) in every heartbeat and in its enrolment request, which the
controller keeps with the device: that decides which ``update_config`` fields it is sent
(:data:`UPDATE_CONFIG_FEATURES`; agents older than the list said it with a key of their heartbeat's
state, :data:`LEGACY_STATE_KEYS`). It also lists them per connection, in ``auth["features"]``
(Socket.IO) or the ``Borne-Agent-Features`` header (HTTP, comma-separated), for the fields of the
acknowledgements (:func:`ack_for`).

Delivery is at least once (pushes repeat), execution at most once: the controller grants one
claim per command, and the agent also remembers the ids it ran, across restarts.

Every event carries ``seq``, the agent's own counter, increasing by one per event and kept across
restarts. The controller stores each (device, seq) once, so a batch replayed after a lost
acknowledgement is harmless.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any

import msgspec

PROTOCOL_VERSION = 1
AGENT_NAMESPACE = "/agent"
EVENTS_EVENT = "events"
MAX_BATCH = 500


class AgentFeature(enum.StrEnum):
    """What an agent reads beyond version 1's first messages (see "Features" above)."""

    # EventAck.rotate_secret, then POST /api/v1/agent/secret
    ROTATE_SECRET = "rotate_secret"  # noqa: S105 (a feature's name, not a secret)
    # UpdateConfigArgs.site_language and site_timezone (a public PC's warnings to residents)
    SITE_LOCALE = "site_locale"
    # UpdateConfigArgs.out_of_service (a technician's switch)
    OUT_OF_SERVICE = "out_of_service"
    # UpdateConfigArgs.portal_nearby_places and portal_places_url (a portal's "closed" page)
    PORTAL_NEARBY = "portal_nearby"
    # UpdateConfigArgs.agent_version: the agent upgrades itself (agent/upgrade.py)
    AGENT_UPGRADE = "agent_upgrade"


AGENT_FEATURES = tuple(AgentFeature)  # what this agent reads
FEATURES_HEADER = "Borne-Agent-Features"
FEATURES_AUTH_KEY = "features"

# Every value is bounded here, at the edge, so that no event that passes can fail the database
# write it shares with other devices' events (a group commit): integers fit their columns,
# instants carry their time zone, texts and lists have a length.
MAX_INT32 = 2**31 - 1  # INTEGER columns: durations in ms, counts
MAX_INT64 = 2**63 - 1  # BIGINT columns: sequence numbers, bytes
Text = Annotated[str, msgspec.Meta(max_length=200)]
ShortText = Annotated[str, msgspec.Meta(max_length=64)]
NonNegInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT32)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=MAX_INT64)]
Moment = Annotated[datetime, msgspec.Meta(tz=True)]  # "2026-11-22T10:00:00Z", never naive
Id = Annotated[str, msgspec.Meta(max_length=64)]
Features = Annotated[list[ShortText], msgspec.Meta(max_length=32)]


class DeviceKind(enum.StrEnum):
    PC = "pc"
    KIOSK = "kiosk"
    HOTSPOT = "hotspot"


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Disk(_Strict):
    """A physical or logical disk as seen at inventory time."""

    device: Text
    mountpoint: Text
    fstype: ShortText
    total_bytes: NonNegInt


class Inventory(_Strict):
    """What the device is. Sent at enrolment and once a day."""

    hostname: Text
    os_name: Text
    os_version: Text
    kernel: Text
    cpu_model: Text
    cpu_count: NonNegInt
    ram_bytes: NonNegInt
    vendor: Text = ""
    model: Text = ""
    serial: Text = ""
    disks: Annotated[list[Disk], msgspec.Meta(max_length=64)] = []
    macs: Annotated[list[ShortText], msgspec.Meta(max_length=64)] = []
    agent_version: ShortText = ""
    # The firmware's release date (DMI ``bios_date``), ISO ``YYYY-MM-DD``: the best hint of the
    # machine's age a PC gives; "" when unknown (a VM, an ARM board) or unreadable.
    firmware_date: Annotated[str, msgspec.Meta(pattern=r"^(\d{4}-\d{2}-\d{2})?$")] = ""


class DiskUsage(_Strict):
    mountpoint: Text
    total_bytes: NonNegInt
    used_bytes: NonNegInt
    percent: Percent


class PrinterState(enum.StrEnum):
    """IPP's ``printer-state`` (RFC 8011, 5.4.11): 3, 4 and 5."""

    IDLE = "idle"
    PRINTING = "printing"  # IPP "processing"
    STOPPED = "stopped"


MAX_PRINTERS = 32


class Printer(_Strict):
    """A print queue of the device's print server (CUPS), as IPP describes it."""

    name: ShortText
    state: PrinterState
    # ``printer-state-reasons`` without "none": "media-jam-error", "toner-empty-warning",
    # "offline-report" … (RFC 8011 5.4.12; the suffix says how bad).
    reasons: Annotated[list[ShortText], msgspec.Meta(max_length=16)] = []
    message: Text = ""  # ``printer-state-message``: the server's or a technician's words
    accepting: bool = True  # ``printer-is-accepting-jobs``


class Metrics(_Strict):
    """A heartbeat's measurements (psutil; a public PC's print queues)."""

    cpu_percent: Percent
    memory_total_bytes: NonNegInt
    memory_used_bytes: NonNegInt
    memory_percent: Percent
    uptime_s: NonNegInt
    load: Annotated[list[Annotated[float, msgspec.Meta(ge=0)]], msgspec.Meta(max_length=3)] = []
    swap_percent: Percent = 0.0
    disks: Annotated[list[DiskUsage], msgspec.Meta(max_length=64)] = []
    net_bytes_sent: NonNegInt = 0
    net_bytes_recv: NonNegInt = 0
    users: Annotated[list[ShortText], msgspec.Meta(max_length=64)] = []
    printers: Annotated[list[Printer], msgspec.Meta(max_length=MAX_PRINTERS)] = []


class Heartbeat(_Strict, tag="heartbeat", tag_field="type"):
    """The device is alive; ``interval_s`` tells when to expect the next one."""

    seq: Seq
    at: Moment
    interval_s: Annotated[int, msgspec.Meta(ge=1, le=3600)]
    metrics: Metrics
    state: Annotated[dict[ShortText, Text], msgspec.Meta(max_length=32)] = {}
    # What the agent reads: AgentFeature values, as strings, so that the features of an agent
    # newer than the controller do not make it refuse the heartbeat. Older agents send none.
    features: Features = []


# A heartbeat's ``state["service"]`` on public PCs and kiosks: whether a technician took the
# device out of service (:attr:`UpdateConfigArgs.out_of_service`). Its presence also tells the
# controller that the agent reads that setting.
SERVICE_STATE_KEY = "service"


class ServiceState(enum.StrEnum):
    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"


class InventoryReport(_Strict, tag="inventory", tag_field="type"):
    seq: Seq
    at: Moment
    inventory: Inventory


class CommandName(enum.StrEnum):
    RESET_SESSION = "reset_session"  # a public PC: end the resident's session, wipe, start fresh
    LOCK_SCREEN = "lock_screen"
    UNLOCK_SCREEN = "unlock_screen"
    SHOW_MESSAGE = "show_message"
    REBOOT = "reboot"
    SHUTDOWN = "shutdown"
    WAKE = "wake"  # run by ANOTHER agent of the site: a Wake-on-LAN packet for the target
    MAINTENANCE = "maintenance"  # package updates
    UPDATE_CONFIG = "update_config"
    COLLECT_LOGS = "collect_logs"
    # a public PC: push the running session's end later (a mediator's "+15 min"). Older agents
    # cannot decode the name: they drop the command unclaimed and it expires.
    EXTEND_SESSION = "extend_session"
    # a charging kiosk: open one locker for a member of staff (a forgotten phone, a jam),
    # whatever it holds; audited on the controller with who and why, reported by the kiosk.
    OPEN_LOCKER = "open_locker"


class NoArgs(_Strict):
    pass


class MessageArgs(_Strict):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    # 0: until the resident dismisses it (no time pressure on residents).
    seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 0


MacAddress = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")]


class WakeArgs(_Strict):
    target_device_id: str
    macs: Annotated[list[MacAddress], msgspec.Meta(min_length=1, max_length=8)]


class MaintenanceArgs(_Strict):
    reboot_if_needed: bool = True


class PortalModeName(enum.StrEnum):
    """The captive portal's modes (:class:`captive_portal.settings.PortalMode`)."""

    CLICK = "click"
    CODE = "code"
    CLOSED = "closed"


class NearbyPlace(_Strict):
    """A public place near a hotspot, for its portal's "closed" page: the portal says offline
    whether it is open now or when it opens, from its OpenStreetMap hours."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    opening_hours: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "24/7"
    distance_m: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


# A hotspot whose heartbeats carry this state key hands ``portal_nearby_places`` and
# ``portal_places_url`` to its portal; an older one would refuse the whole ``update_config``.
PORTAL_READS_NEARBY = "portal_nearby"


# A release of borne as agents and the controller name it (PEP 440's public versions, plainly:
# "0.2.0", "1.0.1", "1.1.0rc1", "0.2.0.dev3").
AGENT_VERSION_PATTERN = r"^\d+(\.\d+){1,3}((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$"
AgentVersion = Annotated[str, msgspec.Meta(pattern=AGENT_VERSION_PATTERN, max_length=32)]


class UpdateConfigArgs(_Strict):
    """Settings the controller may change remotely; the agent keeps them across restarts."""

    heartbeat_interval_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] | None = None
    inventory_interval_s: Annotated[int, msgspec.Meta(ge=60, le=7 * 86400)] | None = None
    device_name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    # Public PCs, set per site: a resident's session ends after this long without input (a
    # warning comes a minute before) and, if not 0, after this long in all.
    idle_timeout_s: Annotated[int, msgspec.Meta(ge=120, le=86400)] | None = None
    max_session_s: Annotated[int, msgspec.Meta(ge=0, le=86400)] | None = None
    # Hotspots, set per hotspot: the captive portal's mode, opening hours (OpenStreetMap syntax,
    # "" for always open) and their time zone, how long a tap lets a device out, and the secret
    # the codes of "code" mode derive from (the controller shows the mediators the day's code).
    portal_mode: PortalModeName | None = None
    portal_opening_hours: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    portal_timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    portal_session_s: Annotated[int, msgspec.Meta(ge=60, le=7 * 86400)] | None = None
    portal_code_secret: Annotated[str, msgspec.Meta(min_length=16, max_length=128)] | None = None
    # Grows with each change on the controller: a delayed command carrying older portal
    # settings (queued, then delivered after a newer one) must not undo the newer ones.
    portal_revision: Annotated[int, msgspec.Meta(ge=1)] | None = None
    # The public places nearest the hotspot and the controller's page of them, for the portal's
    # "closed" page (sent only to agents with AgentFeature.PORTAL_NEARBY).
    portal_nearby_places: Annotated[list[NearbyPlace], msgspec.Meta(max_length=10)] | None = None
    portal_places_url: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    # Public PCs: the site's language and time zone, for what the PC tells residents (the
    # end-of-session warnings). Sent only to agents with AgentFeature.SITE_LOCALE (older ones
    # would refuse the whole command); an agent told nothing speaks French, Paris time.
    site_language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] | None = None
    site_timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    # A technician's switch: a public PC refuses the guest login and shows residents an "out of
    # service" notice, a kiosk's page says so, until the switch is turned back. Sent only to
    # agents with AgentFeature.OUT_OF_SERVICE (older ones would refuse the whole command).
    out_of_service: bool | None = None
    # Charging kiosks, set per site: the longest a phone may charge (past it the locker stays
    # shut and staff are alerted), where to ask for help (shown on the kiosk's screen), what
    # happens to a phone still there at closing time, the site's opening hours (OpenStreetMap
    # syntax, "" for always open: a phone left at closing is an alert) and the staff's PINs
    # (username -> "pbkdf2_sha256$iterations$salt$hash", never the PIN itself).
    kiosk_max_charge_min: Annotated[int, msgspec.Meta(ge=10, le=24 * 60)] | None = None
    kiosk_help_text: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    kiosk_forgotten_text: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    kiosk_opening_hours: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    # The release of borne this device must run (a layered setting). An agent running another
    # one downloads it from the controller (GET /api/v1/agent/releases/<version>/wheel), installs
    # it into its own virtual environment and restarts; it answers this command once the new
    # version is connected, or, when it did not come back in time, after its guard put the
    # previous version back (agent/upgrade.py). Sent only to agents with
    # AgentFeature.AGENT_UPGRADE.
    agent_version: AgentVersion | None = None
    kiosk_staff_pins: (
        Annotated[
            dict[
                Annotated[str, msgspec.Meta(max_length=80)],
                Annotated[str, msgspec.Meta(max_length=200)],
            ],
            msgspec.Meta(max_length=200),
        ]
        | None
    ) = None


# The update_config settings that are the captive portal's, not the agent's: the hotspot's
# agent hands them to the portal, and only the controller's hotspot_portal module sends them.
PORTAL_SETTINGS = tuple(f for f in UpdateConfigArgs.__struct_fields__ if f.startswith("portal_"))

# The update_config fields that came after version 1's first agents, each with the feature an
# agent lists when it reads it. Any other field every agent reads. The controller sends an
# agent only the fields it reads (controller/fleet/features.py), since it would refuse the
# whole command for one it does not know.
UPDATE_CONFIG_FEATURES: dict[str, AgentFeature] = {
    "site_language": AgentFeature.SITE_LOCALE,
    "site_timezone": AgentFeature.SITE_LOCALE,
    "out_of_service": AgentFeature.OUT_OF_SERVICE,
    "portal_nearby_places": AgentFeature.PORTAL_NEARBY,
    "portal_places_url": AgentFeature.PORTAL_NEARBY,
    "agent_version": AgentFeature.AGENT_UPGRADE,
}
# Before agents listed their features, their heartbeat's state said some with a key: each key
# here, and what the releases that say it read. An agent decodes every field of its release's
# UpdateConfigArgs, so a key also means the features that came before its own (the site's
# locale, then out of service, then the nearby places). Upgrades have no key: the first agents
# that could upgrade themselves list their features.
LEGACY_STATE_KEYS: dict[str, frozenset[AgentFeature]] = {
    "language": frozenset({AgentFeature.SITE_LOCALE}),  # public PCs
    SERVICE_STATE_KEY: frozenset({AgentFeature.SITE_LOCALE, AgentFeature.OUT_OF_SERVICE}),
    PORTAL_READS_NEARBY: frozenset(  # hotspots
        {AgentFeature.SITE_LOCALE, AgentFeature.OUT_OF_SERVICE, AgentFeature.PORTAL_NEARBY}
    ),
}
# And what every agent enrolled as a kind reads, said or not: charging kiosks came after the
# site's locale and out of service (their settings, sent at enrolment, carry the first).
LEGACY_KIND_FEATURES: dict[DeviceKind, frozenset[AgentFeature]] = {
    DeviceKind.KIOSK: frozenset({AgentFeature.SITE_LOCALE, AgentFeature.OUT_OF_SERVICE}),
}


class ExtendSessionArgs(_Strict):
    """Push the running session's end later: by ``minutes``, or, when ``ends_in_s`` is given, to
    that many seconds after the command arrives (the site's closing time, which the controller
    works out from the opening hours; relative, so that a PC's wrong clock does not matter).
    The end never moves earlier. ``language`` and ``time_zone``: those of the resident's notice
    of the new end (else the PC's own, :attr:`UpdateConfigArgs.site_language`)."""

    minutes: Annotated[int, msgspec.Meta(ge=1, le=240)] = 15
    ends_in_s: Annotated[int, msgspec.Meta(ge=60, le=86400)] | None = None
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] | None = None
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class CollectLogsArgs(_Strict):
    since_hours: Annotated[int, msgspec.Meta(ge=1, le=168)] = 24


LockerNumber = Annotated[int, msgspec.Meta(ge=1, le=64)]


class OpenLockerArgs(_Strict):
    """Open locker ``locker`` for ``staff`` (a username), who gave ``reason``."""

    locker: LockerNumber
    staff: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


COMMAND_ARGS: dict[CommandName, type[_Strict]] = {
    CommandName.RESET_SESSION: NoArgs,
    CommandName.LOCK_SCREEN: NoArgs,
    CommandName.UNLOCK_SCREEN: NoArgs,
    CommandName.SHOW_MESSAGE: MessageArgs,
    CommandName.REBOOT: NoArgs,
    CommandName.SHUTDOWN: NoArgs,
    CommandName.WAKE: WakeArgs,
    CommandName.MAINTENANCE: MaintenanceArgs,
    CommandName.UPDATE_CONFIG: UpdateConfigArgs,
    CommandName.COLLECT_LOGS: CollectLogsArgs,
    CommandName.EXTEND_SESSION: ExtendSessionArgs,
    CommandName.OPEN_LOCKER: OpenLockerArgs,
}

COMMAND_EVENT = "command"
CLAIM_EVENT = "claim"
MAX_OUTPUT = 4000


class CommandMessage(_Strict):
    """A command for this device; ``args`` validate against ``COMMAND_ARGS[name]``."""

    id: str
    name: CommandName
    args: dict[str, Any]
    issued_at: Moment
    expires_at: Moment


class ClaimRequest(_Strict):
    command_id: Id


class ClaimAnswer(_Strict):
    ok: bool
    # when refused: "expired", "claimed" (already), "cancelled" or "unknown"
    reason: str = ""
    message: str = ""


class CommandResult(_Strict, tag="command_result", tag_field="type"):
    """How a claimed command ended on the device."""

    seq: Seq
    at: Moment
    command_id: Id
    ok: bool
    output: Annotated[str, msgspec.Meta(max_length=MAX_OUTPUT)] = ""
    duration_ms: Count = 0


class SessionEnd(enum.StrEnum):
    """How a resident's session on a public PC ended."""

    LOGOUT = "logout"  # the resident logged out
    IDLE = "idle"  # no input for the site's idle timeout
    MAX_DURATION = "max_duration"  # the site's longest session
    COMMAND = "command"  # a mediator's "Reset now"
    LOCAL = "local"  # ``borne agent reset`` at the PC


class SessionRecord(_Strict, tag="session", tag_field="type"):
    """One resident's use of a public PC: anonymous, only when and how it ended."""

    seq: Seq
    at: Moment
    started_at: Moment
    ended_at: Moment
    ended_by: SessionEnd


class Leftover(_Strict):
    """Something of the guest's the wipe could not remove (``path`` has control bytes escaped)."""

    area: ShortText
    path: Text
    reason: Text


class WipeReport(_Strict, tag="wipe_report", tag_field="type"):
    """The proof after a reset: what went, how long it took, and anything left."""

    seq: Seq
    at: Moment
    started_at: Moment
    ready_ms: Count
    wipe_ms: Count
    removed_files: NonNegInt
    removed_bytes: NonNegInt
    actions: Annotated[list[Text], msgspec.Meta(max_length=32)] = []
    leftovers: Annotated[list[Leftover], msgspec.Meta(max_length=100)] = []
    # More leftovers than the list holds: their number (the list shows the first ones).
    leftovers_total: Count = 0
    login_locked: bool = False  # the guest login was locked because something was left
    ended_by: SessionEnd = SessionEnd.COMMAND


class PortalHour(_Strict):
    hour: Moment  # start of the hour, UTC
    connections: Count  # devices let out in that hour


class PortalStats(_Strict, tag="portal_stats", tag_field="type"):
    """A hotspot's captive portal, in aggregates only: no address of any device, ever."""

    seq: Seq
    at: Moment
    day: date  # the hotspot's local day that ``unique_devices_today`` counts
    clients_now: Count
    unique_devices_today: Count
    # The hours that changed since the previous report, each with its total so far.
    connections_by_hour: Annotated[list[PortalHour], msgspec.Meta(max_length=48)] = []
    # Lengths of the sessions that ended since the previous report.
    session_lengths_s: Annotated[list[Count], msgspec.Meta(max_length=2000)] = []


class LockerState(enum.StrEnum):
    FREE = "free"  # empty, door shut, may be chosen
    DEPOSIT = "deposit"  # opened for a resident to put a phone in; no code yet
    OCCUPIED = "occupied"  # a phone inside, door shut, a code opens it
    OVERTIME = "overtime"  # occupied past the site's longest charge: only staff open it
    OUT_OF_ORDER = "out_of_order"  # its door or lock misbehaves: nobody is offered it


class DoorState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    UNKNOWN = "unknown"  # the driver does not answer


class Locker(_Strict):
    """One locker as the controller may know it: never a code, never who."""

    number: LockerNumber
    state: LockerState
    door: DoorState
    since: Moment  # when it entered ``state``


class LockersReport(_Strict, tag="lockers", tag_field="type"):
    """A kiosk's lockers, sent when one changes and with every heartbeat's period at most."""

    seq: Seq
    at: Moment
    lockers: Annotated[list[Locker], msgspec.Meta(max_length=64)]
    driver_ok: bool = True
    driver_message: Text = ""


class ChargingEnd(enum.StrEnum):
    CODE = "code"  # the resident typed the code
    STAFF = "staff"  # a member of staff opened it with their PIN, at the kiosk
    REMOTE = "remote"  # a member of staff opened it from the controller
    ABANDONED = "abandoned"  # the resident chose a locker and closed it empty


class ChargingSession(_Strict, tag="charging_session", tag_field="type"):
    """One phone charged: anonymous, when and how it ended."""

    seq: Seq
    at: Moment
    locker: LockerNumber
    started_at: Moment
    ended_at: Moment
    ended_by: ChargingEnd


class LockerIncidentKind(enum.StrEnum):
    OVERTIME = "overtime"  # charged past the site's longest time
    FORGOTTEN = "forgotten"  # a phone still there at closing time
    DOOR_OPEN = "door_open"  # a door found open when it should be shut
    DOOR_SHUT_EMPTY = "door_shut_empty"  # shut on a locker that should be open (not deposited)
    DRIVER_DOWN = "driver_down"  # the lock board or GPIO does not answer
    KEYPAD_PAUSED = "keypad_paused"  # too many wrong codes


class LockerIncident(_Strict, tag="locker_incident", tag_field="type"):
    """Something staff must look at on a kiosk, or its end (``resolved``)."""

    seq: Seq
    at: Moment
    kind: LockerIncidentKind
    locker: LockerNumber | None = None
    resolved: bool = False
    message: Text = ""


class StaffOpening(_Strict, tag="locker_opened", tag_field="type"):
    """A member of staff opened a locker (at the kiosk with their PIN, or remotely)."""

    seq: Seq
    at: Moment
    locker: LockerNumber
    staff: Annotated[str, msgspec.Meta(max_length=80)]
    reason: Text
    remote: bool = False


AgentEvent = (
    Heartbeat
    | InventoryReport
    | CommandResult
    | SessionRecord
    | WipeReport
    | PortalStats
    | LockersReport
    | ChargingSession
    | LockerIncident
    | StaffOpening
)


class EventBatch(_Strict):
    events: Annotated[list[AgentEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class EventAck(_Strict):
    """Every event up to ``acked_seq`` is durable on the controller; the agent may forget them."""

    acked_seq: NonNegInt
    stored: NonNegInt = 0
    duplicates: NonNegInt = 0
    # Staff asked for a new device secret: fetch it (POST /api/v1/agent/secret). Only for agents
    # with AgentFeature.ROTATE_SECRET; absent (False) for the others.
    rotate_secret: bool = False


class EnrolRequest(_Strict):
    token: Annotated[str, msgspec.Meta(min_length=8, max_length=128)]
    kind: DeviceKind
    inventory: Inventory
    protocol: Annotated[int, msgspec.Meta(ge=1)] = PROTOCOL_VERSION
    # What the agent reads, as in its heartbeats: the settings of the answer and of the first
    # commands, before its first heartbeat, depend on it.
    features: Features = []


class EnrolResponse(_Strict):
    device_id: str
    device_secret: str
    site_id: int
    kind: DeviceKind
    heartbeat_interval_s: int
    # Settings of the site the device starts with (a public PC: its session limits), kept like
    # those of a later ``update_config``.
    remote_settings: UpdateConfigArgs | None = None


class AgentRelease(_Strict):
    """A wheel of borne the controller serves to agents: ``GET /api/v1/agent/releases/<version>``
    (HTTP Basic, the device's credentials); the wheel itself at ``…/<version>/wheel``."""

    version: AgentVersion
    filename: Annotated[str, msgspec.Meta(max_length=200)]  # borne-0.2.0-py3-none-any.whl
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    size: NonNegInt


class NewSecret(_Strict):
    """The device's next secret. The current one keeps working until this one is first used."""

    device_secret: str


class ErrorBody(_Strict):
    """Every 4xx/5xx answer of the API: ``error`` is a stable code, ``message`` is for a person."""

    error: str
    message: str


def features_of(value: object) -> frozenset[str]:
    """The features an agent listed: ``auth["features"]`` (a list) or the HTTP header (a
    comma-separated string). Anything else, an older agent's silence included, is none."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return frozenset()
    return frozenset(f.strip() for f in value[:16] if isinstance(f, str) and f.strip())


def ack_for(ack: EventAck, features: frozenset[str]) -> EventAck:
    """``ack`` as an agent with ``features`` can read it."""
    if ack.rotate_secret and AgentFeature.ROTATE_SECRET not in features:
        return msgspec.structs.replace(ack, rotate_secret=False)
    return ack


def decode(data: bytes | str, type_: type[msgspec.Struct] | object) -> object:
    """Decode JSON into ``type_``, raising :class:`msgspec.ValidationError` or ``DecodeError``."""
    return msgspec.json.decode(data, type=type_)


def to_builtins(obj: object) -> object:
    """Plain JSON-ready values (for Socket.IO, which serialises dicts itself)."""
    return msgspec.to_builtins(obj)


def from_builtins(obj: object, type_: object) -> object:
    """Validate already-parsed JSON (a Socket.IO payload) into ``type_``."""
    return msgspec.convert(obj, type=type_, strict=True)
