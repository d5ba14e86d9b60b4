"""The configuration API (controller/configuration/api.py): preview, change in waves, follow,
roll back; bad input answered with a clear 4xx and nothing saved."""

from __future__ import annotations

from sqlalchemy import select

from controller.access import Role
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
