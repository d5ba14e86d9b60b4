"""A device's open alerts on its page (controller/maintenance/web.py), in the reader's language
though the stored message is English."""

from __future__ import annotations

from datetime import timedelta

from controller.access import Role
from controller.db import utcnow
from controller.fleet.models import DeviceStatus
from controller.maintenance import service as alerts
from controller.maintenance.models import AlertKind
from tests.controller.testkit import sign_in, words
from tests.factories import make_device, make_user

FRENCH = {"Accept-Language": "fr"}


def clock_ahead(db, device, offset: timedelta) -> None:
    """The device's latest heartbeat claims a time ``offset`` ahead of its arrival."""
    received = utcnow()
    device.status = DeviceStatus.ONLINE
    device.metrics = {
        "at": (received + offset).isoformat(),
        "received_at": received.isoformat(),
    }
    db.flush()


def test_a_clock_alert_reads_in_the_readers_language(client, db):
    device = make_device(db, name="pc-fast")
    clock_ahead(db, device, timedelta(minutes=6, seconds=12))
    alerts.check_clocks(db, utcnow())
    sign_in(client, make_user(db, Role.ADMIN))

    french = words(client.get(f"/devices/{device.id}", headers=FRENCH))
    english = words(client.get(f"/devices/{device.id}"))

    assert "L'horloge de pc-fast avance de 6 min 12 s sur celle du contrôleur" in french
    assert "Depuis" in french and "L'alerte disparaît d'elle-même" in french
    assert "The clock of pc-fast is 6 min 12 s ahead of the controller's" in english


def test_a_wipe_alert_says_the_pc_is_out_of_service_in_french(client, db):
    device = make_device(db, name="pc-accueil")
    alerts.raise_alert(
        db, device, AlertKind.WIPE_INCOMPLETE, "The wipe after a reset left 1 item.", utcnow()
    )
    sign_in(client, make_user(db, Role.ADMIN))

    french = words(client.get(f"/devices/{device.id}", headers=FRENCH))

    assert "Hors service pour le public." in french
    assert "rouvre la session invité" in french
