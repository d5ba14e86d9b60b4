"""Device secret rotation (controller/fleet/enrolment.py, api.py, channel.py, web.py, cli.py):
staff ask, the agent fetches a new secret that waits beside the old one, and its first use
retires the old one, so a device is never locked out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import socketio
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from agent.credentials import Credentials, load_credentials, replace_secret, save_credentials
from agent.protocol import DeviceKind, Heartbeat
from agent.spool import Spool
from agent.transport import ControllerLink, CredentialsRefused, HttpChannel, SocketIOChannel
from controller.access import Role
from controller.audit import AuditLog
from controller.errors import Conflict, PermissionDenied, Unauthenticated
from controller.fleet import enrolment
from controller.fleet.enrolment import SecretToPromote, _digest
from controller.fleet.models import Device
from tests.controller.testkit import csrf_token, sign_in, words
from tests.factories import (
    enrol_request,
    make_device,
    make_organisation,
    make_site,
    make_user,
)

OLD = "the-secret-given-at-enrolment"


def actions(db, device: Device) -> list[str]:
    return list(
        db.scalars(
            select(AuditLog.action)
            .where(AuditLog.target_id == str(device.id), AuditLog.action.like("device.secret%"))
            .order_by(AuditLog.id)
        )
    )


# -- the domain, on SQLite and PostgreSQL -------------------------------------------------------


def test_the_old_secret_works_until_the_new_one_is_used_then_is_refused(db):
    device = make_device(db, secret=OLD)

    enrolment.request_secret_rotation(db, "cli", device)
    new = enrolment.issue_new_secret(db, device)

    assert enrolment.authenticate_device(db, device.id, OLD) == device  # still in
    assert enrolment.authenticate_device(db, device.id, new) == device  # first use: promoted
    with pytest.raises(Unauthenticated, match="unknown device or wrong secret"):
        enrolment.authenticate_device(db, device.id, OLD)
    assert enrolment.authenticate_device(db, device.id, new) == device
    assert device.secret_hash == _digest(new) and device.pending_secret_hash is None
    assert device.secret_rotation_requested_at is None
    assert actions(db, device) == ["device.secret_rotation_requested", "device.secret_rotated"]


def test_a_new_secret_lost_before_it_was_saved_is_replaced_and_never_works(db):
    device = make_device(db, secret=OLD)
    enrolment.request_secret_rotation(db, "cli", device)
    lost = enrolment.issue_new_secret(db, device)  # the agent crashed before saving it

    kept = enrolment.issue_new_secret(db, device)  # it asks again, with the old secret

    with pytest.raises(Unauthenticated):
        enrolment.authenticate_device(db, device.id, lost)
    assert enrolment.authenticate_device(db, device.id, OLD) == device
    assert enrolment.authenticate_device(db, device.id, kept) == device
    with pytest.raises(Unauthenticated):
        enrolment.authenticate_device(db, device.id, OLD)


def test_nobody_asked_no_new_secret_and_asking_twice_audits_once(db):
    device = make_device(db, secret=OLD)
    with pytest.raises(Conflict, match="nobody asked") as refused:
        enrolment.issue_new_secret(db, device)
    assert refused.value.code == "no_rotation_requested"

    enrolment.request_secret_rotation(db, "cli", device)
    enrolment.request_secret_rotation(db, "cli", device)

    assert actions(db, device) == ["device.secret_rotation_requested"]


def test_a_read_only_check_leaves_the_promotion_to_a_writing_one(db):
    device = make_device(db, secret=OLD)
    enrolment.request_secret_rotation(db, "cli", device)
    new = enrolment.issue_new_secret(db, device)

    assert enrolment.authenticate_device(db, device.id, OLD, read_only=True) == device
    with pytest.raises(SecretToPromote):
        enrolment.authenticate_device(db, device.id, new, read_only=True)
    assert device.secret_hash == _digest(OLD) and device.pending_secret_hash == _digest(new)


def test_a_retired_device_cannot_rotate_and_its_pending_secret_is_refused(db):
    retired = make_device(db, secret=OLD, retired_at=datetime.now(UTC))
    with pytest.raises(Conflict, match="retired"):
        enrolment.request_secret_rotation(db, "cli", retired)

    rotating = make_device(db, secret=OLD)
    enrolment.request_secret_rotation(db, "cli", rotating)
    new = enrolment.issue_new_secret(db, rotating)
    enrolment.retire_device(db, "cli", rotating)

    for secret in (OLD, new):
        with pytest.raises(Unauthenticated) as refused:
            enrolment.authenticate_device(db, rotating.id, secret)
        assert refused.value.code in ("device_retired", "bad_credentials")
    assert rotating.secret_rotation_requested_at is None


def test_who_may_ask_for_a_new_secret(db):
    organisation = make_organisation(db)
    site = make_site(db, organisation, name="Bibliothèque Kateb Yacine")
    device = make_device(db, site, name="pc-kateb-3")
    mediator = make_user(db, Role.MEDIATOR, sites=[site])
    outsider = make_user(db, Role.TECHNICIAN, organisations=[make_organisation(db)])

    with pytest.raises(PermissionDenied, match="a mediator may not"):
        enrolment.request_secret_rotation(db, mediator, device)
    with pytest.raises(PermissionDenied) as outside:
        enrolment.request_secret_rotation(db, outsider, device)
    assert "Kateb" not in outside.value.message and "pc-kateb" not in outside.value.message
    assert device.secret_rotation_requested_at is None and actions(db, device) == []

    technician = make_user(db, Role.TECHNICIAN, organisations=[organisation])
    enrolment.request_secret_rotation(db, technician, device)
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "device.secret_rotation_requested"))
    assert entry.actor_id == technician.id and entry.target_id == device.id


# -- the device page ---------------------------------------------------------------------------


def test_staff_ask_from_the_device_page_and_the_page_says_it_waits(client, db):
    device = make_device(db, name="pc-accueil-2")
    admin = make_user(db, Role.ADMIN)
    sign_in(client, admin)
    page = f"/devices/{device.id}"
    assert "New secret…" in words(client.get(page))

    answer = client.post(f"{page}/secret-rotation", data={"csrf_token": csrf_token(client, page)})

    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{page}#secret")
    shown = words(client.get(page))
    assert "pc-accueil-2 will get a new secret at its next heartbeat" in shown
    assert "A new secret was asked for" in shown and "New secret…" not in shown
    db.refresh(device)
    assert device.secret_rotation_requested_at is not None
    assert actions(db, device) == ["device.secret_rotation_requested"]


def test_the_form_is_not_offered_to_a_mediator_and_outsiders_get_a_403_naming_nothing(app, db):
    site = make_site(db, name="Maison des Habitants Teisseire")
    device = make_device(db, site, name="pc-teisseire-1")
    page = f"/devices/{device.id}"

    mediator = app.test_client()
    sign_in(mediator, make_user(db, Role.MEDIATOR, sites=[site]))
    assert "New secret…" not in words(mediator.get(page))
    refused = mediator.post(
        f"{page}/secret-rotation", data={"csrf_token": csrf_token(mediator, page)}
    )
    assert refused.status_code == 403

    outsider = app.test_client()
    sign_in(outsider, make_user(db, Role.TECHNICIAN, organisations=[make_organisation(db)]))
    refused = outsider.post(
        f"{page}/secret-rotation", data={"csrf_token": csrf_token(outsider, "/tokens")}
    )
    assert refused.status_code == 403
    assert "Teisseire" not in words(refused) and "pc-teisseire" not in words(refused)
    db.refresh(device)
    assert device.secret_rotation_requested_at is None and actions(db, device) == []


# -- the command line --------------------------------------------------------------------------


def test_rotate_secret_from_the_command_line(run, tmp_path):
    from controller.db import Database

    database = Database(f"sqlite:///{tmp_path / 'borne.sqlite3'}")
    try:
        with database.session() as session:
            device_id = make_device(session, secret=OLD, name="kiosk-gare").id
            retired_id = make_device(session, retired_at=datetime.now(UTC)).id

        asked = run("device", "rotate-secret", device_id)
        retired = run("device", "rotate-secret", retired_id)
        unknown = run("device", "rotate-secret", "nope")

        with database.session() as session:
            device = session.get(Device, device_id)
            assert device.secret_rotation_requested_at is not None
            assert actions(session, device) == ["device.secret_rotation_requested"]
            entry = session.scalar(select(AuditLog).where(AuditLog.target_id == device_id))
            assert entry.actor == "cli"
    finally:
        database.dispose()
    assert asked.exit_code == 0 and "kiosk-gare: new secret asked for" in asked.output
    assert retired.exit_code == 1 and "retired" in retired.output
    assert unknown.exit_code == 1 and "no device nope" in unknown.output


# -- the agent's API, through the in-process client ----------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def heartbeat(seq: int) -> dict[str, Any]:
    return {
        "type": "heartbeat",
        "seq": seq,
        "at": datetime.now(UTC).isoformat(),
        "interval_s": 10,
        "metrics": {
            "cpu_percent": 3.0,
            "memory_total_bytes": 100,
            "memory_used_bytes": 50,
            "memory_percent": 50.0,
            "uptime_s": 10,
        },
    }


READS_ROTATION = {"Borne-Agent-Features": "rotate_secret"}


def test_the_whole_handover_over_http(own_app: Flask):
    database = own_app.extensions["borne.db"]
    with database.session() as session:
        device_id = make_device(session, secret=OLD).id
    agent = own_app.test_client()

    def events(seq: int, secret: str, headers: dict[str, str] = READS_ROTATION) -> Any:
        return agent.post(
            "/api/v1/agent/events",
            json={"events": [heartbeat(seq)]},
            headers={**basic(device_id, secret), **headers},
        )

    def new_secret(secret: str) -> Any:
        return agent.post("/api/v1/agent/secret", headers=basic(device_id, secret))

    assert "rotate_secret" not in events(1, OLD).json
    assert new_secret(OLD).status_code == 409  # nobody asked

    with database.session() as session:
        enrolment.request_secret_rotation(session, "cli", session.get(Device, device_id))

    assert events(2, OLD).json["rotate_secret"] is True
    assert "rotate_secret" not in events(3, OLD, headers={}).json  # an older agent: not told
    lost = new_secret(OLD).json["device_secret"]  # the agent crashed before saving it
    answer = new_secret(OLD)
    kept = answer.json["device_secret"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert events(4, lost).status_code == 401
    assert events(4, OLD).status_code == 200  # the old one still works meanwhile

    first_use = events(5, kept)

    assert first_use.status_code == 200 and "rotate_secret" not in first_use.json
    refused = events(6, OLD)
    assert refused.status_code == 401 and refused.json["error"] == "bad_credentials"
    assert new_secret(kept).status_code == 409  # done: no further secret
    assert events(6, kept).json["acked_seq"] == 6
    with database.session() as session:
        device = session.get(Device, device_id)
        assert device.secret_hash == _digest(kept) and device.pending_secret_hash is None
        assert actions(session, device) == [
            "device.secret_rotation_requested",
            "device.secret_rotated",
        ]


def test_a_retired_device_gets_no_new_secret(own_app: Flask):
    database = own_app.extensions["borne.db"]
    with database.session() as session:
        device = make_device(session, secret=OLD)
        enrolment.request_secret_rotation(session, "cli", device)
        enrolment.retire_device(session, "cli", device)
        device_id = device.id

    answer = own_app.test_client().post("/api/v1/agent/secret", headers=basic(device_id, OLD))

    assert answer.status_code == 401 and answer.json["error"] == "device_retired"


# -- the real agent transport against the controller served on loopback --------------------------


@pytest.fixture
def served(own_app: Flask) -> Iterator[str]:
    """``own_app`` (HTTP and the agents' Socket.IO channel) on a free loopback port."""
    server = make_server("127.0.0.1", 0, own_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Clock:
    """The link's monotonic clock, moved by the test (its retry delays pass at once)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def enrol_agent(own_app: Flask, state_dir: Path, url: str) -> Credentials:
    with own_app.extensions["borne.db"].session() as session:
        issued = enrolment.create_token(session, "cli", make_site(session), ttl=timedelta(hours=1))
        answer = enrolment.enrol(session, enrol_request(issued.token), heartbeat_interval_s=10)
    credentials = Credentials(
        device_id=answer.device_id,
        device_secret=answer.device_secret,
        site_id=answer.site_id,
        kind=DeviceKind.PC,
        controller_url=url,
    )
    save_credentials(state_dir, credentials)
    return credentials


class Agent:
    """The agent's own link, spool and credentials file, as ``agent.daemon`` wires them."""

    def __init__(self, url: str, credentials: Credentials, state_dir: Path, keep: Any) -> None:
        self.spool = Spool(state_dir / "spool.sqlite3")
        self.socket = SocketIOChannel(
            url, credentials.device_id, credentials.device_secret, timeout_s=10
        )
        self.clock = Clock()
        self.link = ControllerLink(
            self.spool,
            self.socket,
            HttpChannel(url, credentials.device_id, credentials.device_secret, timeout_s=10),
            keep_secret=keep,
            clock=self.clock,
        )
        self.seq = 0

    def heartbeat(self) -> None:
        """Spool a heartbeat and send what the link can, as the daemon's loop does."""
        self.spool.append(
            lambda seq: Heartbeat(seq=seq, at=datetime.now(UTC), interval_s=10, metrics=_metrics())
        )
        self.link.flush()

    def close(self) -> None:
        self.link.close()
        self.spool.close()


def _metrics() -> Any:
    from agent.protocol import Metrics

    return Metrics(
        cpu_percent=1.0,
        memory_total_bytes=100,
        memory_used_bytes=10,
        memory_percent=10.0,
        uptime_s=5,
    )


def connects(url: str, device_id: str, secret: str) -> bool:
    channel = SocketIOChannel(url, device_id, secret, timeout_s=10)
    try:
        channel.connect()
    except CredentialsRefused:
        return False
    channel.close()
    return True


def stored_secret_hash(own_app: Flask, device_id: str) -> tuple[str, str | None]:
    with own_app.extensions["borne.db"].session(writes=False) as session:
        device = session.get(Device, device_id)
        return device.secret_hash, device.pending_secret_hash


def test_the_real_agent_takes_its_new_secret_over_socketio_and_the_old_one_is_refused(
    own_app: Flask, served: str, tmp_path: Path
):
    credentials = enrol_agent(own_app, tmp_path, served)
    old = credentials.device_secret
    agent = Agent(served, credentials, tmp_path, lambda secret: replace_secret(tmp_path, secret))
    try:
        agent.heartbeat()
        assert agent.socket.connected and len(agent.spool) == 0
        with own_app.extensions["borne.db"].session() as session:
            enrolment.request_secret_rotation(
                session, "cli", session.get(Device, credentials.device_id)
            )

        agent.heartbeat()  # the acknowledgement asks; the agent fetches, saves, reconnects

        saved = load_credentials(tmp_path)
        assert saved.device_secret != old and saved.device_id == credentials.device_id
        assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600
        assert agent.socket.connected
        assert stored_secret_hash(own_app, credentials.device_id) == (
            _digest(saved.device_secret),
            None,
        )
        assert not connects(served, credentials.device_id, old)
        assert connects(served, credentials.device_id, saved.device_secret)
        agent.heartbeat()
        assert len(agent.spool) == 0  # events still flow, with the new secret
    finally:
        agent.close()
    with own_app.extensions["borne.db"].session(writes=False) as session:
        assert actions(session, session.get(Device, credentials.device_id)) == [
            "device.secret_rotation_requested",
            "device.secret_rotated",
        ]


def test_an_agent_that_cannot_save_the_new_secret_keeps_the_old_one_and_asks_again(
    own_app: Flask, served: str, tmp_path: Path
):
    credentials = enrol_agent(own_app, tmp_path, served)
    old = credentials.device_secret
    failures = [OSError(28, "No space left on device")]

    def keep(secret: str) -> None:
        if failures:
            raise failures.pop()
        replace_secret(tmp_path, secret)

    agent = Agent(served, credentials, tmp_path, keep)
    try:
        agent.heartbeat()
        with own_app.extensions["borne.db"].session() as session:
            enrolment.request_secret_rotation(
                session, "cli", session.get(Device, credentials.device_id)
            )

        agent.heartbeat()  # fetched, not saved: a pending secret nobody holds

        assert load_credentials(tmp_path).device_secret == old
        current, pending = stored_secret_hash(own_app, credentials.device_id)
        assert current == _digest(old) and pending is not None
        assert connects(served, credentials.device_id, old)

        agent.clock.now += 3600  # past the retry delay
        agent.heartbeat()  # asked again: a new pending secret, saved, used

        saved = load_credentials(tmp_path).device_secret
        assert saved != old
        assert stored_secret_hash(own_app, credentials.device_id) == (_digest(saved), None)
        assert not connects(served, credentials.device_id, old)
    finally:
        agent.close()


def test_an_older_agent_is_never_told_over_socketio(own_app: Flask, served: str, tmp_path: Path):
    credentials = enrol_agent(own_app, tmp_path, served)
    with own_app.extensions["borne.db"].session() as session:
        enrolment.request_secret_rotation(
            session, "cli", session.get(Device, credentials.device_id)
        )
    answers = {}
    for name, features in (("older", None), ("newer", ["rotate_secret"])):
        client = socketio.Client(reconnection=False)
        auth = {"device_id": credentials.device_id, "secret": credentials.device_secret}
        if features is not None:
            auth["features"] = features
        client.connect(
            served, namespaces=["/agent"], transports=["websocket"], wait_timeout=10, auth=auth
        )
        try:
            answers[name] = client.call(
                "events", {"events": [heartbeat(len(answers) + 1)]}, namespace="/agent", timeout=10
            )
        finally:
            client.disconnect()

    assert "rotate_secret" not in answers["older"] and answers["older"]["acked_seq"] == 1
    assert answers["newer"]["rotate_secret"] is True
