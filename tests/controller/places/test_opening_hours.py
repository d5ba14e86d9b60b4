"""Site schedules from opening hours (controller/places/opening_hours.py): wake, shutdown,
maintenance."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.errors import DomainError
from controller.places.opening_hours import (
    Closure,
    PlannedAction,
    ScheduledAction,
    SchedulePolicy,
    is_open,
    next_opening,
    planned_actions,
    should_be_up,
    validate_opening_hours,
)
from tests.controller.testkit import DEMO_PLACES

PARIS = ZoneInfo("Europe/Paris")

POLICY = SchedulePolicy()


LIBRARY = "Tu-Sa 10:00-18:00"


MDH = "Mo-Fr 09:00-12:00,13:30-17:30"


WAKE = ScheduledAction.WAKE


SHUTDOWN = ScheduledAction.SHUTDOWN


MAINTENANCE = ScheduledAction.MAINTENANCE


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def plan(expr: str, first: date, last: date, **kwargs: object) -> list[PlannedAction]:
    """The plan from local midnight of ``first`` to local midnight after ``last``."""
    start = local(first.year, first.month, first.day)
    end_day = last + timedelta(days=1)
    end = local(end_day.year, end_day.month, end_day.day)
    kwargs.setdefault("policy", POLICY)
    return planned_actions(expr, start, end, **kwargs)  # type: ignore[arg-type]


def local_times(actions: list[PlannedAction], kind: ScheduledAction) -> list[datetime]:
    return [a.at.astimezone(PARIS).replace(tzinfo=None) for a in actions if a.action is kind]


def days(actions: list[PlannedAction], kind: ScheduledAction) -> list[date]:
    return [t.date() for t in local_times(actions, kind)]


def test_every_opening_hours_of_the_demo_places_validates():
    with DEMO_PLACES.open(encoding="utf-8") as f:
        expressions = {row["horaires"] for row in csv.DictReader(f)}

    assert expressions
    for expr in expressions:
        validate_opening_hours(expr)


def test_an_empty_expression_is_valid_and_means_no_schedule():
    validate_opening_hours("")
    validate_opening_hours("  ")


def test_french_style_hours_are_refused_with_a_message_saying_how_to_write_them():
    with pytest.raises(DomainError) as refused:
        validate_opening_hours("mardi-samedi 10h-18h")

    message = refused.value.message
    assert "'mardi-samedi 10h-18h'" in message
    assert "at character" in message
    assert "10:00, not 10h" in message
    assert "Mo Tu We Th Fr Sa Su" in message
    assert "Tu-Sa 10:00-18:00" in message
    assert "\n" not in message and "-->" not in message  # no parser ascii art for a person


def test_a_broken_rule_is_refused_naming_where_it_breaks():
    with pytest.raises(DomainError, match="at character 19"):
        validate_opening_hours("Mo-Fr 09:00-12:00,")


def test_an_expression_longer_than_the_site_column_is_refused():
    with pytest.raises(DomainError, match="at most 500"):
        validate_opening_hours("; ".join(["Mo 10:00-11:00"] * 40))


def test_a_policy_with_an_unknown_timezone_is_refused():
    with pytest.raises(DomainError, match="unknown timezone 'Europe/Grenoble'"):
        SchedulePolicy(timezone="Europe/Grenoble")


def test_a_closure_that_ends_before_it_starts_is_refused():
    with pytest.raises(DomainError, match="ends"):
        Closure(date(2025, 3, 10), date(2025, 3, 9), "inventaire")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        planned_actions(LIBRARY, datetime(2025, 3, 10), datetime(2025, 3, 17), policy=POLICY)


def test_a_library_wakes_at_0945_and_shuts_down_at_1815_on_its_opening_days_only():
    actions = plan(LIBRARY, date(2025, 3, 10), date(2025, 3, 16))  # Monday to Sunday

    tuesday_to_saturday = [date(2025, 3, d) for d in range(11, 16)]
    assert days(actions, WAKE) == tuesday_to_saturday
    assert days(actions, SHUTDOWN) == tuesday_to_saturday
    assert {t.time() for t in local_times(actions, WAKE)} == {time(9, 45)}
    assert {t.time() for t in local_times(actions, SHUTDOWN)} == {time(18, 15)}
    # In UTC: winter time is UTC+1.
    assert next(a for a in actions if a.action is WAKE) == PlannedAction(
        datetime(2025, 3, 11, 8, 45, tzinfo=UTC), WAKE, "opens at 10:00"
    )
    assert all(a.at.utcoffset() == timedelta(0) for a in actions)
    assert [a.at for a in actions] == sorted(a.at for a in actions)


def test_a_lunch_break_shorter_than_two_hours_does_not_shut_pcs_down():
    actions = plan(MDH, date(2025, 3, 10), date(2025, 3, 10))

    assert local_times(actions, WAKE) == [datetime(2025, 3, 10, 8, 45)]
    assert local_times(actions, SHUTDOWN) == [datetime(2025, 3, 10, 17, 45)]


def test_a_two_hour_lunch_break_shuts_pcs_down_and_wakes_them_again():
    actions = plan("Mo-Fr 09:00-12:00,14:00-18:00", date(2025, 3, 10), date(2025, 3, 10))

    assert local_times(actions, WAKE) == [
        datetime(2025, 3, 10, 8, 45),
        datetime(2025, 3, 10, 13, 45),
    ]
    assert local_times(actions, SHUTDOWN) == [
        datetime(2025, 3, 10, 12, 15),
        datetime(2025, 3, 10, 18, 15),
    ]


def test_the_policy_sets_the_margins_and_the_lunch_break_threshold():
    policy = SchedulePolicy(
        wake_before=timedelta(minutes=30), shutdown_after=timedelta(0), min_gap=timedelta(hours=1)
    )
    actions = plan(MDH, date(2025, 3, 10), date(2025, 3, 10), policy=policy)

    assert local_times(actions, WAKE) == [
        datetime(2025, 3, 10, 8, 30),
        datetime(2025, 3, 10, 13, 0),
    ]
    assert local_times(actions, SHUTDOWN) == [
        datetime(2025, 3, 10, 12, 0),
        datetime(2025, 3, 10, 17, 30),
    ]


@pytest.mark.parametrize(
    ("saturday", "tuesday", "saturday_wake_utc", "tuesday_wake_utc"),
    [
        # last Sunday of March: 02:00 CET -> 03:00 CEST
        (date(2025, 3, 29), date(2025, 4, 1), time(8, 45), time(7, 45)),
        # last Sunday of October: 03:00 CEST -> 02:00 CET
        (date(2025, 10, 25), date(2025, 10, 28), time(7, 45), time(8, 45)),
    ],
)
def test_local_times_stay_right_across_a_daylight_saving_change(
    saturday, tuesday, saturday_wake_utc, tuesday_wake_utc
):
    actions = plan(LIBRARY, saturday, tuesday)

    assert local_times(actions, WAKE) == [
        datetime.combine(saturday, time(9, 45)),
        datetime.combine(tuesday, time(9, 45)),
    ]
    assert local_times(actions, SHUTDOWN) == [
        datetime.combine(saturday, time(18, 15)),
        datetime.combine(tuesday, time(18, 15)),
    ]
    wakes = [a.at for a in actions if a.action is WAKE]
    assert [w.time() for w in wakes] == [saturday_wake_utc, tuesday_wake_utc]


def test_another_timezone_is_taken_from_the_policy():
    reunion = SchedulePolicy(timezone="Indian/Reunion")  # UTC+4, no DST
    start = datetime(2025, 3, 11, tzinfo=UTC)
    actions = planned_actions(LIBRARY, start, start + timedelta(days=1), policy=reunion)

    assert [a.at for a in actions if a.action is WAKE] == [datetime(2025, 3, 11, 5, 45, tzinfo=UTC)]


def test_christmas_and_bastille_day_are_closed_though_the_hours_do_not_say_so():
    christmas = plan(LIBRARY, date(2025, 12, 23), date(2025, 12, 27))  # 25th is a Thursday
    bastille = plan(MDH, date(2025, 7, 14), date(2025, 7, 15))  # 14th is a Monday

    assert date(2025, 12, 25) not in days(christmas, WAKE)
    assert days(christmas, WAKE) == [date(2025, 12, d) for d in (23, 24, 26, 27)]
    assert days(bastille, WAKE) == [date(2025, 7, 15)]
    assert not is_open(LIBRARY, local(2025, 12, 25, 12), policy=POLICY)
    assert not is_open(MDH, local(2025, 7, 14, 10), policy=POLICY)
    assert is_open(MDH, local(2025, 7, 15, 10), policy=POLICY)


def test_hours_that_open_on_public_holidays_are_followed():
    expr = "Tu-Sa 10:00-18:00; PH 10:00-12:00"
    actions = plan(expr, date(2025, 12, 25), date(2025, 12, 25))

    assert local_times(actions, WAKE) == [datetime(2025, 12, 25, 9, 45)]
    assert local_times(actions, SHUTDOWN) == [datetime(2025, 12, 25, 12, 15)]


def test_public_holidays_follow_the_weekday_hours_when_holidays_are_not_closed():
    actions = plan(LIBRARY, date(2025, 12, 25), date(2025, 12, 25), holidays_closed=False)

    assert local_times(actions, WAKE) == [datetime(2025, 12, 25, 9, 45)]


def test_a_closure_week_yields_no_wakes_and_the_site_reopens_after_it():
    closure = Closure(date(2025, 3, 10), date(2025, 3, 16), "inventaire")
    actions = plan(LIBRARY, date(2025, 3, 10), date(2025, 3, 18), closures=[closure])

    assert days(actions, WAKE) == [date(2025, 3, 18)]
    assert days(actions, SHUTDOWN) == [date(2025, 3, 18)]
    assert not is_open(LIBRARY, local(2025, 3, 12, 11), policy=POLICY, closures=[closure])


def test_a_closure_recorded_after_the_morning_wake_says_the_pcs_should_be_down():
    closure = Closure(date(2025, 3, 12), date(2025, 3, 12), "dégât des eaux")
    now = local(2025, 3, 12, 11, 5)

    assert should_be_up(LIBRARY, now, policy=POLICY)
    assert not should_be_up(LIBRARY, now, policy=POLICY, closures=[closure])
    actions = planned_actions(
        LIBRARY, now, now + timedelta(days=1), policy=POLICY, closures=[closure]
    )
    assert local_times(actions, SHUTDOWN) == []  # today's 18:15 is gone with the closure
    assert local_times(actions, WAKE) == [datetime(2025, 3, 13, 9, 45)]


def test_pcs_should_be_up_from_the_wake_to_the_shutdown_and_across_a_short_lunch():
    assert not should_be_up(MDH, local(2025, 3, 10, 8, 44), policy=POLICY)
    assert should_be_up(MDH, local(2025, 3, 10, 8, 45), policy=POLICY)
    assert should_be_up(MDH, local(2025, 3, 10, 12, 30), policy=POLICY)
    assert not is_open(MDH, local(2025, 3, 10, 12, 30), policy=POLICY)
    assert not should_be_up(MDH, local(2025, 3, 10, 17, 45), policy=POLICY)
    assert not should_be_up("", local(2025, 3, 10, 12), policy=POLICY)


def test_a_closure_starting_during_overnight_hours_shuts_down_at_its_start():
    expr = "Fr 20:00-02:00"
    closure = Closure(date(2025, 3, 15), date(2025, 3, 15), "élections")
    actions = plan(expr, date(2025, 3, 14), date(2025, 3, 15), closures=[closure])

    assert local_times(actions, WAKE) == [datetime(2025, 3, 14, 19, 45)]
    shutdowns = [a for a in actions if a.action is SHUTDOWN]
    assert len(shutdowns) == 1
    assert shutdowns[0].at.astimezone(PARIS).replace(tzinfo=None) == datetime(2025, 3, 15, 0, 15)
    assert shutdowns[0].reason == "closure: élections"


def test_maintenance_runs_at_two_in_the_morning_local_time_on_closed_nights():
    actions = plan(LIBRARY, date(2025, 3, 10), date(2025, 3, 16))

    assert local_times(actions, MAINTENANCE) == [datetime(2025, 3, d, 2, 0) for d in range(10, 17)]
    assert actions[0].at == datetime(2025, 3, 10, 1, 0, tzinfo=UTC)


def test_maintenance_across_daylight_saving_changes_keeps_to_the_night():
    spring = plan(LIBRARY, date(2025, 3, 30), date(2025, 3, 30))
    autumn = plan(LIBRARY, date(2025, 10, 26), date(2025, 10, 26))

    # 02:00 does not exist on 30 March: maintenance starts when the clock jumps to 03:00.
    assert [a.at for a in spring if a.action is MAINTENANCE] == [
        datetime(2025, 3, 30, 1, 0, tzinfo=UTC)
    ]
    # 02:00 happens twice on 26 October: maintenance starts at the first one, once.
    assert [a.at for a in autumn if a.action is MAINTENANCE] == [
        datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    ]


def test_no_maintenance_while_the_site_is_open_at_night():
    actions = plan("Fr 20:00-03:00", date(2025, 3, 14), date(2025, 3, 16))

    assert date(2025, 3, 15) not in days(actions, MAINTENANCE)  # open Friday night until 03:00
    assert days(actions, MAINTENANCE) == [date(2025, 3, 14), date(2025, 3, 16)]


def test_no_maintenance_when_its_window_would_overlap_the_morning_wake():
    actions = plan("Mo-Su 03:30-12:00", date(2025, 3, 10), date(2025, 3, 10))

    assert local_times(actions, WAKE) == [datetime(2025, 3, 10, 3, 15)]
    assert local_times(actions, MAINTENANCE) == []


def test_maintenance_runs_on_closure_days():
    closure = Closure(date(2025, 3, 10), date(2025, 3, 10), "inventaire")
    actions = plan("Mo-Su 00:00-12:00", date(2025, 3, 10), date(2025, 3, 11), closures=[closure])

    assert days(actions, MAINTENANCE) == [date(2025, 3, 10)]  # open at 02:00 on the 11th


def test_an_on_appointment_fallback_counts_as_closed_and_keeps_the_regular_hours():
    expr = 'Mo-Fr 09:00-18:00 || "sur rendez-vous"'
    validate_opening_hours(expr)
    actions = plan(expr, date(2025, 3, 10), date(2025, 3, 16))

    assert days(actions, WAKE) == [date(2025, 3, d) for d in range(10, 15)]
    assert not is_open(expr, local(2025, 3, 15, 12), policy=POLICY)  # Saturday


def test_a_round_the_clock_site_is_never_woken_or_shut_down_but_gets_nightly_maintenance():
    actions = plan("24/7", date(2025, 12, 22), date(2025, 12, 28))  # Christmas included

    assert days(actions, WAKE) == []
    assert days(actions, SHUTDOWN) == []
    assert local_times(actions, MAINTENANCE) == [datetime(2025, 12, d, 2, 0) for d in range(22, 29)]
    assert is_open("24/7", local(2025, 12, 25, 12), policy=POLICY)
    assert next_opening("24/7", local(2025, 12, 25, 12), policy=POLICY) is None


def test_a_round_the_clock_site_is_shut_down_for_a_closure_and_woken_after_it():
    closure = Closure(date(2025, 3, 12), date(2025, 3, 12), "travaux")
    actions = plan("24/7", date(2025, 3, 11), date(2025, 3, 13), closures=[closure])

    assert local_times(actions, SHUTDOWN) == [datetime(2025, 3, 12, 0, 15)]
    assert local_times(actions, WAKE) == [datetime(2025, 3, 12, 23, 45)]


def test_an_empty_expression_plans_nothing_and_has_no_opening():
    assert plan("", date(2025, 3, 10), date(2025, 3, 16)) == []
    assert not is_open("", local(2025, 3, 11, 12), policy=POLICY)
    assert next_opening("", local(2025, 3, 11, 12), policy=POLICY) is None


def test_after_saturday_closing_the_library_next_opens_on_tuesday_morning():
    opens = next_opening(LIBRARY, local(2025, 3, 15, 18), policy=POLICY)

    assert opens == datetime(2025, 3, 18, 9, 0, tzinfo=UTC)  # 10:00 in Grenoble


def test_the_next_opening_skips_a_public_holiday():
    # 11 November 2025 is a Tuesday.
    opens = next_opening(LIBRARY, local(2025, 11, 8, 18), policy=POLICY)

    assert opens == local(2025, 11, 12, 10)


def test_the_next_opening_skips_a_closure():
    closure = Closure(date(2025, 3, 18), date(2025, 3, 19), "formation")
    opens = next_opening(LIBRARY, local(2025, 3, 15, 18), policy=POLICY, closures=[closure])

    assert opens == local(2025, 3, 20, 10)


def test_while_open_the_next_opening_is_the_one_after_the_current_hours():
    assert is_open(MDH, local(2025, 3, 10, 10), policy=POLICY)
    assert next_opening(MDH, local(2025, 3, 10, 10), policy=POLICY) == local(2025, 3, 10, 13, 30)
