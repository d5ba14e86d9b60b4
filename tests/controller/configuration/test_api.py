"""The configuration API (controller/configuration/api.py): preview, change in waves, follow,
roll back; bad input answered with a clear 4xx and nothing saved; the releases of borne agents
download with their own credentials."""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select

from controller.access import Role
from controller.accounts import api_tokens
from controller.commands.models import Command
from controller.configuration.models import ConfigLayer
from tests.controller.testkit import sign_in
from tests.factories import make_device, make_organisation, make_site, make_user


def _network(db):
    organisation = make_organisation(db)
    sites = [make_site(db, organisation, name=name) for name in ("A", "B")]
    devices = [make_device(db, site) for site in sites for _ in range(2)]
    return organisation, sites, devices


def test_an_admin_previews_then_rolls_out_in_waves_and_follows_each_device(client, db):
    organisation, _sites, devices = _network(db)
    sign_in(client, make_user(db, Role.ADMIN))
    url = f"/api/v1/config/organisation/{organisation.id}"

    preview = client.post(f"{url}/preview", json={"settings": {"heartbeat_interval_s": 30}})
    put = client.put(url, json={"settings": {"heartbeat_interval_s": 30}, "strategy": "waves"})
    rollout = client.get(f"/api/v1/config/rollouts/{put.get_json()['id']}").get_json()
    layer = client.get(url).get_json()
    device = client.get(f"/api/v1/devices/{devices[0].id}/settings").get_json()

    assert preview.status_code == 200
    assert {d["device_id"] for d in preview.get_json()["devices"]} == {d.id for d in devices}
    assert preview.get_json()["devices"][0]["changes"] == {"heartbeat_interval_s": [10, 30]}
    assert put.status_code == 201 and len(put.get_json()["commands"]) == 2
    assert rollout["counts"] == {
        "pending": 2,
        "sent": 2,
        "applied": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert layer["version"] == 1 and layer["versions"][0]["settings"] == {
        "heartbeat_interval_s": 30
    }
    assert device["heartbeat_interval_s"] == {
        "value": 30,
        "source": "organisation",
        "source_name": organisation.name,
        "version": 1,
        "agent_reads": True,
    }


def test_a_preview_saves_nothing(client, db):
    _organisation, sites, _devices = _network(db)
    sign_in(client, make_user(db, Role.ADMIN))

    client.post(
        f"/api/v1/config/site/{sites[0].id}/preview",
        json={"settings": {"heartbeat_interval_s": 30}},
    )

    assert db.scalars(select(ConfigLayer)).all() == []
    assert db.scalars(select(Command)).all() == []


def test_bad_input_is_a_clear_4xx_and_nothing_is_saved(client, db):
    organisation, _sites, _devices = _network(db)
    sign_in(client, make_user(db, Role.ADMIN))
    url = f"/api/v1/config/organisation/{organisation.id}"

    unknown = client.put(url, json={"settings": {"heartbeat": 30}})
    wrong_type = client.put(url, json={"settings": {"heartbeat_interval_s": "30s"}})
    bad_strategy = client.put(
        url, json={"settings": {"heartbeat_interval_s": 30}, "strategy": "later"}
    )
    naive_time = client.put(
        url,
        json={
            "settings": {"heartbeat_interval_s": 30},
            "strategy": "scheduled",
            "at": "2030-01-01T08:00:00",
        },
    )
    no_scope = client.get("/api/v1/config/city/1")
    no_site = client.get("/api/v1/config/site/999999")

    assert unknown.status_code == 422 and "unknown setting" in unknown.get_json()["message"]
    assert (
        wrong_type.status_code == 422 and "heartbeat_interval_s" in wrong_type.get_json()["message"]
    )
    assert bad_strategy.status_code == 422
    assert naive_time.status_code == 422 and "time zone" in naive_time.get_json()["message"]
    assert no_scope.status_code == 404 and no_site.status_code == 404
    assert db.scalars(select(ConfigLayer)).all() == []
    assert db.scalars(select(Command)).all() == []


def test_a_rollback_through_the_api(client, db):
    _organisation, sites, _devices = _network(db)
    sign_in(client, make_user(db, Role.ADMIN))
    url = f"/api/v1/config/site/{sites[0].id}"
    client.put(url, json={"settings": {"heartbeat_interval_s": 30}})
    client.put(url, json={"settings": {"heartbeat_interval_s": 60}})

    back = client.post(f"{url}/rollback", json={"version": 1})
    missing = client.post(f"{url}/rollback", json={"version": 9})

    assert back.status_code == 201 and back.get_json()["version"] == 3
    assert missing.status_code == 404


def test_a_technician_reads_their_layers_but_changes_none(client, db):
    _organisation, sites, _devices = _network(db)
    sign_in(client, make_user(db, Role.TECHNICIAN, sites=[sites[0]]))
    url = f"/api/v1/config/site/{sites[0].id}"

    read = client.get(url)
    put = client.put(url, json={"settings": {"heartbeat_interval_s": 30}})
    outside = client.get(f"/api/v1/config/site/{sites[1].id}")

    assert read.status_code == 200 and read.get_json()["version"] == 0
    assert put.status_code == 403
    assert outside.status_code == 403


def _basic(device_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{device_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_a_device_reads_a_release_and_downloads_its_wheel(client, db, release, releases_dir):
    pc = make_device(db, secret="pc-secret")
    kept = release("0.2.0")
    auth = _basic(pc.id, "pc-secret")

    described = client.get("/api/v1/agent/releases/0.2.0", headers=auth)
    wheel = client.get("/api/v1/agent/releases/0.2.0/wheel", headers=auth)

    assert described.status_code == 200
    assert described.get_json() == {
        "version": "0.2.0",
        "filename": "borne-0.2.0-py3-none-any.whl",
        "sha256": kept.sha256,
        "size": kept.size,
    }
    assert wheel.status_code == 200
    assert wheel.mimetype == "application/octet-stream"
    assert "borne-0.2.0-py3-none-any.whl" in wheel.headers["Content-Disposition"]
    assert hashlib.sha256(wheel.data).hexdigest() == kept.sha256
    assert wheel.data == (releases_dir / kept.filename).read_bytes()


def test_a_release_the_controller_lacks_is_a_404_that_says_what_it_has(client, db, release):
    pc = make_device(db, secret="pc-secret")
    release("0.2.0")
    auth = _basic(pc.id, "pc-secret")

    missing = client.get("/api/v1/agent/releases/0.3.0", headers=auth)
    missing_wheel = client.get("/api/v1/agent/releases/0.3.0/wheel", headers=auth)
    not_a_version = client.get("/api/v1/agent/releases/..%2F..%2Fsecret_key/wheel", headers=auth)

    assert missing.status_code == 404
    assert missing.get_json()["error"] == "no_release"
    assert "it has 0.2.0" in missing.get_json()["message"]
    assert missing_wheel.status_code == 404 and missing_wheel.is_json
    assert not_a_version.status_code == 404


def test_releases_are_for_enrolled_devices_and_staff_only(client, db, release):
    pc = make_device(db, secret="pc-secret")
    release("0.2.0")

    anonymous = client.get("/api/v1/agent/releases/0.2.0/wheel")
    wrong_secret = client.get("/api/v1/agent/releases/0.2.0", headers=_basic(pc.id, "guess"))
    as_device_list = client.get("/api/v1/agent/releases", headers=_basic(pc.id, "pc-secret"))

    assert anonymous.status_code == 401 and wrong_secret.status_code == 401
    assert as_device_list.status_code == 401


def test_staff_list_the_releases_with_a_read_only_token(client, db, release):
    technician = make_user(db, Role.TECHNICIAN)
    _, secret = api_tokens.create_token(db, technician, technician, name="ro", read_only=True)
    for version in ("0.10.0", "0.9.0"):
        release(version)

    listed = client.get("/api/v1/agent/releases", headers={"Authorization": f"Bearer {secret}"})

    assert listed.status_code == 200
    assert [r["version"] for r in listed.get_json()] == ["0.9.0", "0.10.0"]


def test_a_layer_naming_a_release_the_controller_lacks_is_refused(client, db, release):
    organisation, _sites, _devices = _network(db)
    release("0.2.0")
    sign_in(client, make_user(db, Role.ADMIN))
    url = f"/api/v1/config/organisation/{organisation.id}"

    preview = client.post(f"{url}/preview", json={"settings": {"agent_version": "0.3.0"}})
    put = client.put(url, json={"settings": {"agent_version": "0.3.0"}, "strategy": "waves"})
    bad = client.put(url, json={"settings": {"agent_version": "latest"}})
    good = client.put(url, json={"settings": {"agent_version": "0.2.0"}, "strategy": "waves"})

    assert preview.status_code == 422 and put.status_code == 422
    message = put.get_json()["message"]
    assert "0.3.0" in message and "it has 0.2.0" in message and "agent-release add" in message
    assert bad.status_code == 422 and "agent_version" in bad.get_json()["message"]
    assert good.status_code == 201 and good.get_json()["upgrades_agent"] is True
    assert db.scalar(select(ConfigLayer)).version == 1  # only the good one was saved
