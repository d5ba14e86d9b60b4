"""Out of service (controller/maintenance/out_of_service.py): the switch is kept on the device
and reaches its agent when the agent reads it; on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from agent.protocol import SERVICE_STATE_KEY, DeviceKind
from controller.access import Role
from controller.commands.models import Command
from controller.maintenance import out_of_service
from tests.factories import make_device, make_site, make_user


def test_the_switch_reaches_the_agents_that_read_it_and_is_kept_for_the_others(db):
    site = make_site(db)
    technician = make_user(db, Role.TECHNICIAN, sites=[site])
    reads = make_device(db, site, metrics={"state": {SERVICE_STATE_KEY: "in_service"}})
    older = make_device(db, site, metrics={"state": {"session": "none"}})
    kiosk = make_device(db, site, kind=DeviceKind.KIOSK)  # every kiosk's agent reads it

    for device in (reads, older, kiosk):
        out_of_service.set_out_of_service(db, technician, device, True, "new disk")

    sent = {c.device_id: c.args for c in db.scalars(select(Command))}
    assert sent == {reads.id: {"out_of_service": True}, kiosk.id: {"out_of_service": True}}
    assert all(d.out_of_service_since is not None for d in (reads, older, kiosk))
    assert out_of_service.service_settings(db, older) == {"out_of_service": True}
    out_of_service.set_out_of_service(db, technician, older, False)
    assert out_of_service.service_settings(db, older) is None
