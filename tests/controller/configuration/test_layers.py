"""Settings in layers (controller/configuration/layers.py, catalogue.py): defaults ← organisation
← site ← device, previewed as each device's difference, versioned, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from controller.access import Role
from controller.config import load_controller_settings
from controller.configuration import catalogue, layers
from controller.configuration.models import LayerScope
from controller.errors import DomainError, NotFound, PermissionDenied
from tests.factories import make_device, make_organisation, make_site, make_user

SETTINGS = load_controller_settings(overrides={"heartbeat_interval_s": 10})


def _set(db, scope, target_id, values):
    target = layers.find_target(db, "cli", scope, str(target_id))
    return layers.save_version(db, "cli", target, catalogue.check_layer(values))


def test_a_narrower_layer_wins_and_each_value_says_where_it_comes_from(db):
    organisation = make_organisation(db, name="Bibliothèques")
    site = make_site(db, organisation, name="Kateb Yacine")
    pc = make_device(db, site, name="pc-1")
    _set(db, LayerScope.ORGANISATION, organisation.id, {"heartbeat_interval_s": 30})
    _set(db, LayerScope.SITE, site.id, {"heartbeat_interval_s": 20, "inventory_interval_s": 3600})
    _set(db, LayerScope.DEVICE, pc.id, {"heartbeat_interval_s": 5})

    values = layers.effective(db, pc, SETTINGS)

    assert values["heartbeat_interval_s"][0] == 5
    assert values["heartbeat_interval_s"][1].scope == "device"
    assert values["inventory_interval_s"][0] == 3600
    assert values["inventory_interval_s"][1].name == "Kateb Yacine"


def test_without_layers_a_device_runs_the_defaults(db):
    values = layers.effective(db, make_device(db), SETTINGS)

    assert {k: v for k, (v, _s) in values.items()} == {
        "heartbeat_interval_s": 10,
        "inventory_interval_s": catalogue.AGENT_INVENTORY_INTERVAL_S,
    }
    assert all(source.scope == "default" for _v, source in values.values())


def test_the_preview_lists_only_the_devices_whose_settings_change(db):
    organisation = make_organisation(db)
    site, other = make_site(db, organisation), make_site(db, organisation)
    keeps_own = make_device(db, site)
    changes = [make_device(db, site), make_device(db, other)]
    _set(db, LayerScope.DEVICE, keeps_own.id, {"heartbeat_interval_s": 5})
    target = layers.find_target(db, "cli", "organisation", str(organisation.id))

    plan = layers.preview(db, "cli", target, {"heartbeat_interval_s": 60}, SETTINGS)

    assert sorted(c.device_id for c in plan.devices) == sorted(d.id for d in changes)
    assert plan.devices[0].changed == {"heartbeat_interval_s": (10, 60)}
    assert plan.unchanged_devices == 1
    assert plan.layer_before == {} and plan.layer_after == {"heartbeat_interval_s": 60}


def test_every_version_is_kept_whole(db):
    site = make_site(db)
    _set(db, LayerScope.SITE, site.id, {"heartbeat_interval_s": 20})
    layer = _set(db, LayerScope.SITE, site.id, {"inventory_interval_s": 7200})

    assert layer.version == 2 and layer.settings == {"inventory_interval_s": 7200}
    assert layers.version_settings(db, layer, 1) == {"heartbeat_interval_s": 20}
    with pytest.raises(NotFound, match="no version 7"):
        layers.version_settings(db, layer, 7)


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"heartbeat_intervall_s": 5}, "unknown setting"),
        ({"heartbeat_interval_s": "fast"}, "setting heartbeat_interval_s: Expected `int"),
        ({"heartbeat_interval_s": 0}, "setting heartbeat_interval_s"),
        ({"heartbeat_interval_s": True}, "setting heartbeat_interval_s"),
        ({"portal_mode": "closed"}, "unknown setting"),  # the hotspot's page sets it
        ({"agent_version": "latest"}, "setting agent_version"),
        ({"agent_version": 2}, "setting agent_version: Expected `str"),
        (["heartbeat_interval_s"], "object of setting: value"),
    ],
)
def test_a_bad_layer_is_refused_whole_naming_the_setting(db, values, says):
    with pytest.raises(DomainError, match=says) as refused:
        catalogue.check_layer(values)
    assert refused.value.status == 422


def test_only_city_it_changes_a_layer_and_readers_stay_in_their_places(db):
    site, elsewhere = make_site(db), make_site(db)
    technician = make_user(db, Role.TECHNICIAN, sites=[site])
    target = layers.find_target(db, technician, "site", str(site.id))
    outside = layers.find_target(db, technician, "site", str(elsewhere.id))

    with pytest.raises(PermissionDenied):
        layers.preview(db, technician, target, {"heartbeat_interval_s": 30}, SETTINGS)
    assert layers.layers_for_read(db, technician, target) is None
    with pytest.raises(PermissionDenied):
        layers.layers_for_read(db, technician, outside)


def test_unknown_scopes_and_targets_are_not_found(db):
    with pytest.raises(NotFound, match="organisation, site or device"):
        layers.find_target(db, "cli", "city", "1")
    with pytest.raises(NotFound):
        layers.find_target(db, "cli", "site", "999999")
    with pytest.raises(NotFound):
        layers.find_target(db, "cli", "device", "no-such-device")


def test_a_new_device_starts_with_the_layers_over_it(db):
    organisation = make_organisation(db)
    site = make_site(db, organisation)
    _set(db, LayerScope.ORGANISATION, organisation.id, {"inventory_interval_s": 3600})

    assert layers.starting_settings(db, make_device(db, site)) == {"inventory_interval_s": 3600}
    assert layers.starting_settings(db, make_device(db)) is None


def test_the_catalogue_names_every_layered_setting():
    assert list(catalogue.LAYERED) == [
        "heartbeat_interval_s",
        "inventory_interval_s",
        "agent_version",
    ]
    assert "agent_version" not in catalogue.defaults(SETTINGS)  # a device keeps its release


def test_a_layer_naming_a_release_the_controller_lacks_is_refused_before_anything_is_written(
    db, settings, release
):
    site = make_site(db)
    make_device(db, site)
    release("0.2.0")
    target = layers.find_target(db, "cli", "site", str(site.id))

    with pytest.raises(DomainError, match=r"no wheel of borne 0\.3\.0 \(it has 0\.2\.0\)") as no:
        layers.preview(db, "cli", target, {"agent_version": "0.3.0"}, settings)
    plan = layers.preview(db, "cli", target, {"agent_version": "0.2.0"}, settings)

    assert no.value.status == 422 and "agent-release add" in no.value.message
    assert plan.devices[0].changed == {"agent_version": (None, "0.2.0")}
    assert layers.layer_of(db, target) is None


def test_a_new_device_is_not_given_a_release_with_its_identity(db, settings, release):
    site = make_site(db)
    release("0.2.0")
    _set(db, LayerScope.SITE, site.id, {"agent_version": "0.2.0", "heartbeat_interval_s": 20})

    assert layers.starting_settings(db, make_device(db, site)) == {"heartbeat_interval_s": 20}
