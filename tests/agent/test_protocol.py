"""Messages as agents of protocol v1 send them: they must keep decoding as the schema grows.

Never edit a sample to make a test pass: add new samples for new fields instead.
"""

from __future__ import annotations

import msgspec
import pytest

from agent.protocol import (
    AGENT_FEATURES,
    COMMAND_ARGS,
    LEGACY_STATE_KEYS,
    PORTAL_READS_NEARBY,
    SERVICE_STATE_KEY,
    UPDATE_CONFIG_FEATURES,
    AgentFeature,
    CommandName,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    EventAck,
    EventBatch,
    Heartbeat,
    Inventory,
    InventoryReport,
    PortalStats,
    PrinterState,
    ServiceState,
    SessionEnd,
    SessionRecord,
    UpdateConfigArgs,
    WipeReport,
    from_builtins,
)

V1_ENROL_REQUEST = b"""{
  "token": "enr-7f3a9c2e41",
  "kind": "pc",
  "inventory": {
    "hostname": "pc-bib-centre-03", "os_name": "Debian GNU/Linux", "os_version": "12 (bookworm)",
    "kernel": "6.1.0-18-amd64", "cpu_model": "Intel(R) Core(TM) i3-6100 CPU @ 3.70GHz",
    "cpu_count": 4, "ram_bytes": 8254160896, "vendor": "LENOVO", "model": "10MQS0E500",
    "serial": "PC0ABCDE",
    "disks": [{"device": "/dev/sda2", "mountpoint": "/", "fstype": "ext4",
               "total_bytes": 250059350016}],
    "macs": ["3c:52:82:1a:2b:3c"], "agent_version": "0.1.0"
  },
  "protocol": 1
}"""

V1_MINIMAL_ENROL_REQUEST = b"""{"token": "enr-7f3a9c2e41", "kind": "hotspot", "inventory": {
  "hostname": "gw-mdh-teisseire", "os_name": "Debian GNU/Linux", "os_version": "12",
  "kernel": "6.1.0-18-arm64", "cpu_model": "Cortex-A72", "cpu_count": 4,
  "ram_bytes": 4100000000}}"""

V1_ENROL_RESPONSE = b"""{"device_id": "d-01J9Z3", "device_secret": "k2V9xQ", "site_id": 12,
  "kind": "kiosk", "heartbeat_interval_s": 10}"""

V1_EVENT_BATCH = b"""{"events": [
  {"type": "inventory", "seq": 41, "at": "2025-03-01T09:30:00Z", "inventory": {
    "hostname": "pc-bib-centre-03", "os_name": "Debian GNU/Linux", "os_version": "12 (bookworm)",
    "kernel": "6.1.0-18-amd64", "cpu_model": "Intel(R) Core(TM) i3-6100", "cpu_count": 4,
    "ram_bytes": 8254160896}},
  {"type": "heartbeat", "seq": 42, "at": "2025-03-01T09:30:10.123456+00:00", "interval_s": 10,
   "metrics": {"cpu_percent": 12.5, "memory_total_bytes": 8254160896,
               "memory_used_bytes": 2100000000, "memory_percent": 25.4, "uptime_s": 86400,
               "load": [0.31, 0.22, 0.15], "swap_percent": 0.0,
               "disks": [{"mountpoint": "/", "total_bytes": 250059350016,
                          "used_bytes": 41000000000, "percent": 16.4}],
               "net_bytes_sent": 123456789, "net_bytes_recv": 987654321, "users": ["invite"]},
   "state": {"role": "pc"}},
  {"type": "heartbeat", "seq": 43, "at": "2025-03-01T09:30:20Z", "interval_s": 10,
   "metrics": {"cpu_percent": 0, "memory_total_bytes": 1, "memory_used_bytes": 0,
               "memory_percent": 0, "uptime_s": 0}}
]}"""

# Public PCs (issue 4) and hotspots (issue 5): added to v1 with defaults, so older agents' batches
# above still decode.
V1_PC_AND_PORTAL_EVENTS = b"""{"events": [
  {"type": "session", "seq": 44, "at": "2025-03-01T10:02:00Z",
   "started_at": "2025-03-01T09:31:00Z", "ended_at": "2025-03-01T10:02:00Z", "ended_by": "idle"},
  {"type": "wipe_report", "seq": 45, "at": "2025-03-01T10:02:03Z",
   "started_at": "2025-03-01T10:02:00Z", "ready_ms": 180, "wipe_ms": 2400,
   "removed_files": 5123, "removed_bytes": 310000000,
   "actions": ["ended 14 processes", "cancelled 1 print job"],
   "leftovers": [{"area": "home", "path": "Documents/cv\\nfinal.pdf",
                  "reason": "immutable (chattr +i)"}],
   "login_locked": true},
  {"type": "portal_stats", "seq": 46, "at": "2025-03-01T10:05:00Z", "day": "2025-03-01",
   "clients_now": 7, "unique_devices_today": 31,
   "connections_by_hour": [{"hour": "2025-03-01T09:00:00Z", "connections": 12}],
   "session_lengths_s": [1800, 3600]}
]}"""

# Monitoring (issue 12): the firmware's date in the inventory, the print queues in heartbeats,
# and whether a technician took the device out of service.
V1_MONITORING_EVENTS = b"""{"events": [
  {"type": "inventory", "seq": 47, "at": "2025-03-02T08:00:00Z", "inventory": {
    "hostname": "pc-bib-centre-03", "os_name": "Debian GNU/Linux", "os_version": "12 (bookworm)",
    "kernel": "6.1.0-18-amd64", "cpu_model": "Intel(R) Core(TM) i3-6100", "cpu_count": 4,
    "ram_bytes": 8254160896, "firmware_date": "2017-05-12"}},
  {"type": "heartbeat", "seq": 48, "at": "2025-03-02T08:00:10Z", "interval_s": 10,
   "metrics": {"cpu_percent": 3.0, "memory_total_bytes": 8254160896,
               "memory_used_bytes": 2100000000, "memory_percent": 25.4, "uptime_s": 600,
               "printers": [
                 {"name": "accueil", "state": "stopped",
                  "reasons": ["media-jam-error", "paused"], "message": "Paper jam in tray 2"},
                 {"name": "salle-2", "state": "idle", "accepting": false},
                 {"name": "etage", "state": "printing"}]},
   "state": {"role": "pc", "service": "out_of_service", "guest_login": "locked"}}
]}"""

# Configuration in layers (issue 13): what an agent reads, listed in its heartbeats and its
# enrolment request. "later_feature" stands for what an agent newer than the controller reads.
V1_FEATURES_HEARTBEAT = b"""{"events": [
  {"type": "heartbeat", "seq": 49, "at": "2026-12-17T08:00:10Z", "interval_s": 10,
   "metrics": {"cpu_percent": 3.0, "memory_total_bytes": 8254160896,
               "memory_used_bytes": 2100000000, "memory_percent": 25.4, "uptime_s": 600},
   "state": {"role": "pc", "service": "in_service", "language": "fr"},
   "features": ["rotate_secret", "site_locale", "out_of_service", "portal_nearby",
                "agent_upgrade", "later_feature"]}
]}"""

V1_FEATURES_ENROL_REQUEST = b"""{"token": "bet_7kq2-mx9p-4hzt-2c8w-jn3e-r5dy", "kind": "pc",
  "inventory": {"hostname": "pc-bib-centre-04", "os_name": "Debian GNU/Linux",
    "os_version": "12", "kernel": "6.1.0-18-amd64", "cpu_model": "Intel(R) Core(TM) i3-6100",
    "cpu_count": 4, "ram_bytes": 8254160896, "agent_version": "0.2.0"},
  "protocol": 1, "features": ["site_locale", "agent_upgrade"]}"""

V1_EVENT_ACK = b'{"acked_seq": 43, "stored": 2, "duplicates": 1}'
V1_ERROR = b'{"error": "invalid_event", "message": "events[0].seq: expected >= 1"}'


def test_v1_enrol_requests_decode() -> None:
    full = msgspec.json.decode(V1_ENROL_REQUEST, type=EnrolRequest)
    assert full.inventory.disks[0].total_bytes == 250059350016
    minimal = msgspec.json.decode(V1_MINIMAL_ENROL_REQUEST, type=EnrolRequest)
    assert minimal.protocol == 1 and minimal.inventory.serial == ""


def test_v1_enrol_response_decodes() -> None:
    answer = msgspec.json.decode(V1_ENROL_RESPONSE, type=EnrolResponse)
    assert answer.kind == "kiosk" and answer.heartbeat_interval_s == 10


def test_v1_event_batch_decodes_over_http_and_socketio() -> None:
    batch = msgspec.json.decode(V1_EVENT_BATCH, type=EventBatch)
    assert [type(e) for e in batch.events] == [InventoryReport, Heartbeat, Heartbeat]
    assert [e.seq for e in batch.events] == [41, 42, 43]
    # Socket.IO hands the controller already-parsed JSON: the same sample must pass that way too.
    as_dict = msgspec.json.decode(V1_EVENT_BATCH)
    assert from_builtins(as_dict, EventBatch) == batch


def test_pc_and_portal_events_decode() -> None:
    batch = msgspec.json.decode(V1_PC_AND_PORTAL_EVENTS, type=EventBatch)
    session, wipe, portal = batch.events
    assert isinstance(session, SessionRecord) and session.ended_by is SessionEnd.IDLE
    assert isinstance(wipe, WipeReport) and wipe.login_locked and wipe.leftovers[0].area == "home"
    assert wipe.ended_by is SessionEnd.COMMAND  # the default for reports of older agents
    assert isinstance(portal, PortalStats) and portal.connections_by_hour[0].connections == 12


def test_monitoring_events_decode() -> None:
    inventory, heartbeat = msgspec.json.decode(V1_MONITORING_EVENTS, type=EventBatch).events
    assert isinstance(inventory, InventoryReport)
    assert inventory.inventory.firmware_date == "2017-05-12"
    assert isinstance(heartbeat, Heartbeat)
    jammed, refusing, busy = heartbeat.metrics.printers
    assert (jammed.state, jammed.reasons, jammed.accepting) == (
        PrinterState.STOPPED,
        ["media-jam-error", "paused"],
        True,
    )
    assert (refusing.state, refusing.accepting, refusing.message) == ("idle", False, "")
    assert busy.state is PrinterState.PRINTING
    assert heartbeat.state[SERVICE_STATE_KEY] == ServiceState.OUT_OF_SERVICE
    # Older agents' messages: no printers, no firmware date.
    older = msgspec.json.decode(V1_EVENT_BATCH, type=EventBatch).events
    assert isinstance(older[0], InventoryReport) and older[0].inventory.firmware_date == ""
    assert isinstance(older[1], Heartbeat) and older[1].metrics.printers == []


def test_out_of_service_is_an_update_config_setting() -> None:
    args = msgspec.convert({"out_of_service": True}, COMMAND_ARGS[CommandName.UPDATE_CONFIG])
    assert isinstance(args, UpdateConfigArgs) and args.out_of_service is True
    assert UpdateConfigArgs().out_of_service is None  # not set: nothing changes
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"out_of_service": "yes"}, UpdateConfigArgs, strict=True)


@pytest.mark.parametrize("date", ["05/12/2017", "2017-5-12", "yesterday"])
def test_a_firmware_date_that_is_not_iso_is_refused(date: str) -> None:
    inventory = msgspec.json.decode(V1_MONITORING_EVENTS)["events"][0]["inventory"]
    with pytest.raises(msgspec.ValidationError, match="firmware_date"):
        msgspec.convert({**inventory, "firmware_date": date}, Inventory)


def test_agents_list_their_features_and_older_ones_none() -> None:
    [heartbeat] = msgspec.json.decode(V1_FEATURES_HEARTBEAT, type=EventBatch).events
    enrol = msgspec.json.decode(V1_FEATURES_ENROL_REQUEST, type=EnrolRequest)

    assert isinstance(heartbeat, Heartbeat)
    assert set(AGENT_FEATURES) <= set(heartbeat.features)
    assert "later_feature" in heartbeat.features  # a newer agent's heartbeat still decodes
    assert enrol.features == ["site_locale", "agent_upgrade"]
    older = msgspec.json.decode(V1_EVENT_BATCH, type=EventBatch).events[1]
    assert isinstance(older, Heartbeat) and older.features == []
    assert msgspec.json.decode(V1_ENROL_REQUEST, type=EnrolRequest).features == []
    assert b"features" not in msgspec.json.encode(older)  # an older controller reads it too


def test_each_later_update_config_field_names_a_feature_this_agent_lists() -> None:
    fields = set(UpdateConfigArgs.__struct_fields__)
    assert set(UPDATE_CONFIG_FEATURES) <= fields
    assert set(UPDATE_CONFIG_FEATURES.values()) <= set(AGENT_FEATURES)
    # A legacy state key means its own feature and those that came before it.
    assert LEGACY_STATE_KEYS["language"] < LEGACY_STATE_KEYS[SERVICE_STATE_KEY]
    assert LEGACY_STATE_KEYS[SERVICE_STATE_KEY] < LEGACY_STATE_KEYS[PORTAL_READS_NEARBY]
    assert all(AgentFeature.AGENT_UPGRADE not in f for f in LEGACY_STATE_KEYS.values())


def test_v1_ack_and_error_decode() -> None:
    assert msgspec.json.decode(V1_EVENT_ACK, type=EventAck).acked_seq == 43
    assert msgspec.json.decode(V1_ERROR, type=ErrorBody).error == "invalid_event"


@pytest.mark.parametrize(
    "bad",
    [
        b'{"events": []}',
        b'{"events": [{"type": "heartbeat", "seq": 0, "at": "2025-03-01T09:30:20Z",'
        b' "interval_s": 10, "metrics": {"cpu_percent": 0, "memory_total_bytes": 1,'
        b' "memory_used_bytes": 0, "memory_percent": 0, "uptime_s": 0}}]}',
        b'{"events": [{"type": "reboot", "seq": 1}]}',
    ],
)
def test_invalid_batches_are_refused(bad: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(bad, type=EventBatch)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 2**63),  # past BIGINT: failed the group commit of every device
        ("at", "2026-11-22T10:00:00"),  # no time zone: failed it too
        ("interval_s", 0),
    ],
)
def test_values_that_no_column_holds_are_refused_at_the_edge(field, value):
    event = {
        "type": "heartbeat",
        "seq": 1,
        "at": "2026-11-22T10:00:00Z",
        "interval_s": 10,
        "metrics": {
            "cpu_percent": 1.0,
            "memory_total_bytes": 1,
            "memory_used_bytes": 1,
            "memory_percent": 1.0,
            "uptime_s": 1,
        },
        field: value,
    }
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"events": [event]}, EventBatch, strict=True)


def test_counts_kept_in_integer_columns_are_bounded():
    result = {"type": "command_result", "seq": 1, "at": "2026-11-22T10:00:00Z", "ok": True}
    with pytest.raises(msgspec.ValidationError, match="duration_ms"):
        msgspec.convert(
            {"events": [{**result, "command_id": "x", "duration_ms": 2**31}]}, EventBatch
        )
    with pytest.raises(msgspec.ValidationError, match="command_id"):
        msgspec.convert({"events": [{**result, "command_id": "x" * 65}]}, EventBatch)
