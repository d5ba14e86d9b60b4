"""Scheduled commands (controller/places/schedule.py): opening hours become commands, once."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from agent.protocol import CommandName, DeviceKind
from controller.commands.models import Command
from controller.fleet.models import DeviceStatus
from controller.places import schedule as scheduler
from controller.places import service as places
from controller.places.opening_hours import SchedulePolicy
from tests.factories import make_device, make_site

POLICY = SchedulePolicy()


# Tuesday 24 November 2026, around 09:45 Paris time (08:45 UTC): the wake before 10:00.
START = datetime(2026, 11, 24, 8, 40, tzinfo=UTC)


END = datetime(2026, 11, 24, 8, 50, tzinfo=UTC)


def library(db):
    site = make_site(db, opening_hours="Tu-Sa 10:00-18:00")
    pcs = [make_device(db, site, inventory={"macs": [f"52:54:00:00:00:0{n}"]}) for n in range(2)]
    make_device(db, site, kind=DeviceKind.HOTSPOT, status=DeviceStatus.ONLINE)
    return site, pcs


def test_pcs_are_woken_before_opening_by_the_sites_hotspot(db):
    _, pcs = library(db)

    issued = scheduler.issue_due(db, START, END, POLICY)

    assert sorted(c.device_id for c in issued) == sorted(pc.id for pc in pcs)
    assert {c.name for c in issued} == {CommandName.WAKE}
    assert {c.requested_by for c in issued} == {"schedule"}


def test_each_planned_action_is_issued_once_whatever_the_number_of_ticks(db):
    library(db)
    scheduler.issue_due(db, START, END, POLICY)
    again = scheduler.issue_due(db, START, END, POLICY)
    assert again == []
    assert len(db.scalars(select(Command)).all()) == 2


def test_a_closed_day_wakes_nobody(db):
    site, _ = library(db)
    places.add_closure(db, "cli", site, date(2026, 11, 24), date(2026, 11, 24), "inventaire")
    assert scheduler.issue_due(db, START, END, POLICY) == []


def test_a_site_without_devices_or_hours_plans_nothing(db):
    make_site(db, opening_hours="")
    make_site(db, opening_hours="Tu-Sa 10:00-18:00")
    assert scheduler.issue_due(db, START, END, POLICY) == []
