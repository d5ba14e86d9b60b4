"""Service-level clocks in a site's opening hours (controller/maintenance/working_time.py): due
dates, time run and pauses, across nights, weekends, closures, public holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.errors import DomainError
from controller.maintenance.working_time import WorkingCalendar
from controller.places.opening_hours import Closure, SchedulePolicy

PARIS = ZoneInfo("Europe/Paris")
# The issue's site: closed from Saturday to Monday, open 10:00-20:00 the other days.
WORKSHOP = "Tu-Fr 10:00-20:00"
MDH = "Mo-Fr 09:00-12:00,13:30-17:30"
HOUR = timedelta(hours=1)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def calendar(hours: str = WORKSHOP, **overrides: object) -> WorkingCalendar:
    """A site's calendar in Paris, French holidays; overrides as WorkingCalendar takes them."""
    overrides.setdefault("timezone", "Europe/Paris")
    return WorkingCalendar(hours, **overrides)  # type: ignore[arg-type]


FRIDAY_5PM = local(2026, 1, 16, 17)  # a Friday with no holiday near it


def test_the_issue_example_four_hours_from_friday_5pm_are_due_tuesday_11am():
    due = calendar().add(FRIDAY_5PM, 4 * HOUR)

    assert due == local(2026, 1, 20, 11)
    assert due.tzinfo is UTC and due == datetime(2026, 1, 20, 10, tzinfo=UTC)
    assert calendar().elapsed(FRIDAY_5PM, due) == 4 * HOUR


def test_a_duration_used_up_at_closing_time_is_due_at_the_closing_not_the_next_opening():
    assert calendar().add(FRIDAY_5PM, 3 * HOUR) == local(2026, 1, 16, 20)


def test_a_ticket_opened_at_night_counts_from_the_next_opening():
    wednesday_3am = local(2026, 1, 14, 3)
    saturday_noon = local(2026, 1, 17, 12)

    assert calendar().add(wednesday_3am, 2 * HOUR) == local(2026, 1, 14, 12)
    assert calendar().add(saturday_noon, 2 * HOUR) == local(2026, 1, 20, 12)
    assert calendar().add(saturday_noon, timedelta(0)) == local(2026, 1, 20, 10)
    assert calendar().add(FRIDAY_5PM, timedelta(0)) == FRIDAY_5PM
    assert calendar().elapsed(local(2026, 1, 16, 21), local(2026, 1, 20, 9)) == timedelta(0)


def test_a_lunch_break_is_not_working_time():
    monday_11am = local(2026, 1, 12, 11)

    assert calendar(MDH).add(monday_11am, 2 * HOUR) == local(2026, 1, 12, 14, 30)
    assert calendar(MDH).elapsed(monday_11am, local(2026, 1, 12, 14, 30)) == 2 * HOUR


def test_many_weeks_of_work_at_a_site_open_two_hours_a_week():
    # 20 Saturday mornings from a Monday, past five months of searching (none a holiday).
    due = calendar("Sa 10:00-12:00").add(local(2026, 1, 5, 9), 40 * HOUR)

    assert due == local(2026, 5, 23, 12)


def test_time_run_and_due_date_agree_from_any_start_including_across_a_dst_change():
    site = calendar(MDH)
    start = local(2026, 3, 23)
    for n in range(0, 14 * 24, 7):  # every seven hours for two weeks around 29 March
        begins = start + timedelta(hours=n)
        for duration in (timedelta(minutes=30), 5 * HOUR, 30 * HOUR):
            assert site.elapsed(begins, site.add(begins, duration)) == duration


# --- pauses ---------------------------------------------------------------------------------


def test_paused_open_time_is_not_counted_and_pushes_the_due_date_later():
    waiting = [(local(2026, 1, 16, 18), local(2026, 1, 16, 19))]

    assert calendar().elapsed(FRIDAY_5PM, local(2026, 1, 20, 11), waiting) == 3 * HOUR
    assert calendar().due(FRIDAY_5PM, 4 * HOUR, waiting) == local(2026, 1, 20, 12)
    assert calendar().due(FRIDAY_5PM, 4 * HOUR) == calendar().add(FRIDAY_5PM, 4 * HOUR)


def test_a_pause_while_the_site_is_closed_costs_nothing():
    weekend = [(local(2026, 1, 16, 20), local(2026, 1, 20, 10))]

    assert calendar().elapsed(FRIDAY_5PM, local(2026, 1, 20, 11), weekend) == 4 * HOUR
    assert calendar().due(FRIDAY_5PM, 4 * HOUR, weekend) == local(2026, 1, 20, 11)


def test_overlapping_pauses_are_not_counted_twice():
    overlapping = [
        (local(2026, 1, 16, 17, 30), local(2026, 1, 16, 18, 30)),
        (local(2026, 1, 16, 18), local(2026, 1, 16, 19)),
        (local(2026, 1, 16, 18, 15), local(2026, 1, 16, 18, 45)),
    ]

    assert calendar().elapsed(FRIDAY_5PM, local(2026, 1, 16, 20), overlapping) == 1.5 * HOUR
    assert calendar().due(FRIDAY_5PM, 3 * HOUR, overlapping) == local(2026, 1, 20, 11, 30)


def test_a_pause_before_the_clock_started_changes_nothing():
    before = [(local(2026, 1, 16, 10), local(2026, 1, 16, 17, 30))]

    assert calendar().elapsed(FRIDAY_5PM, local(2026, 1, 16, 20), before) == 2.5 * HOUR
    assert calendar().due(FRIDAY_5PM, 3 * HOUR, before) == local(2026, 1, 20, 10, 30)


def test_a_ticket_still_waiting_stops_its_clock_from_the_start_of_the_wait():
    waiting_since_6pm = [(local(2026, 1, 16, 18), None)]

    assert calendar().elapsed(FRIDAY_5PM, local(2026, 1, 23, 12), waiting_since_6pm) == HOUR
    assert calendar().due(FRIDAY_5PM, 4 * HOUR, waiting_since_6pm) is None
    # Resumed on Tuesday at 15:00: three hours are left from then.
    resumed = [(local(2026, 1, 16, 18), local(2026, 1, 20, 15))]
    assert calendar().due(FRIDAY_5PM, 4 * HOUR, resumed) == local(2026, 1, 20, 18)


def test_a_wait_that_began_after_the_clock_ran_out_leaves_the_due_date_alone():
    late = [(local(2026, 1, 21, 9), None)]

    assert calendar().due(FRIDAY_5PM, 4 * HOUR, late) == local(2026, 1, 20, 11)


# --- closures and public holidays ----------------------------------------------------------


def test_an_exceptional_closure_in_the_middle_is_not_working_time():
    inventory = Closure(date(2026, 1, 20), date(2026, 1, 21), "inventaire")  # Tuesday, Wednesday
    site = calendar(closures=[inventory])

    assert site.add(FRIDAY_5PM, 4 * HOUR) == local(2026, 1, 22, 11)
    assert site.elapsed(FRIDAY_5PM, local(2026, 1, 22, 11)) == 4 * HOUR


def test_a_public_holiday_is_not_working_time_unless_the_hours_open_on_it():
    thursday_6pm = local(2026, 4, 30, 18)  # 1 May 2026, Labour Day, is a Friday

    assert calendar().add(thursday_6pm, 4 * HOUR) == local(2026, 5, 5, 12)
    opens_on_holidays = calendar(f"{WORKSHOP}; PH 10:00-12:00")
    assert opens_on_holidays.add(thursday_6pm, 4 * HOUR) == local(2026, 5, 1, 12)


def test_holidays_are_those_of_the_policys_country():
    # 1 May is a holiday in Belgium too, 8 May (a Friday) only in France.
    thursday_6pm = local(2026, 5, 7, 18)
    belgium = SchedulePolicy(country="BE")

    assert calendar().add(thursday_6pm, 4 * HOUR) == local(2026, 5, 12, 12)
    assert calendar(policy=belgium).add(thursday_6pm, 4 * HOUR) == local(2026, 5, 8, 12)


# --- daylight saving time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("saturday", "sunday", "utc_hour"),
    [(date(2026, 3, 28), date(2026, 3, 29), 7), (date(2026, 10, 24), date(2026, 10, 25), 8)],
)
def test_openings_stay_at_their_local_time_across_a_dst_change(saturday, sunday, utc_hour):
    site = calendar("Mo-Su 08:00-20:00")
    evening = datetime(saturday.year, saturday.month, saturday.day, 19, tzinfo=PARIS)

    due = site.add(evening, 2 * HOUR)

    assert due.astimezone(PARIS).replace(tzinfo=None) == datetime(
        sunday.year, sunday.month, sunday.day, 9
    )
    assert due.hour == utc_hour


@pytest.mark.parametrize(
    ("sunday", "night"),
    [(date(2026, 3, 29), 7 * HOUR), (date(2026, 10, 25), 9 * HOUR)],
)
def test_a_night_opening_across_the_change_lasts_the_hours_that_really_pass(sunday, night):
    site = calendar("Sa 22:00-24:00; Su 00:00-06:00")
    saturday = sunday - timedelta(days=1)
    start = datetime(saturday.year, saturday.month, saturday.day, tzinfo=PARIS)

    assert site.elapsed(start, start + timedelta(days=2)) == night
    assert site.add(start, night) == datetime(
        sunday.year, sunday.month, sunday.day, 6, tzinfo=PARIS
    )


def test_a_round_the_clock_day_lasts_23_hours_in_march_and_25_in_october():
    site = calendar("24/7")

    assert site.elapsed(local(2026, 3, 29), local(2026, 3, 30)) == 23 * HOUR
    assert site.elapsed(local(2026, 10, 25), local(2026, 10, 26)) == 25 * HOUR
    assert site.add(local(2026, 3, 28, 12), 24 * HOUR) == local(2026, 3, 29, 13)


# --- round the clock and no hours ----------------------------------------------------------


@pytest.mark.parametrize("hours", ["24/7", "", "   "])
def test_round_the_clock_and_no_hours_count_calendar_time_holidays_included(hours):
    site = calendar(hours)
    may_day_eve = local(2026, 4, 30, 18)  # across Labour Day and a weekend

    assert site.add(may_day_eve, 4 * HOUR) == may_day_eve + 4 * HOUR
    assert site.add(may_day_eve, 100 * HOUR) == may_day_eve + 100 * HOUR
    assert site.elapsed(may_day_eve, local(2026, 5, 4, 18)) == 96 * HOUR
    paused = [(local(2026, 5, 1), local(2026, 5, 2))]
    assert site.due(may_day_eve, 10 * HOUR, paused) == local(2026, 5, 2, 4)


def test_a_site_without_hours_still_stops_the_clock_on_its_closures():
    works = Closure(date(2026, 5, 1), date(2026, 5, 3), "travaux")
    site = calendar("", closures=[works])

    assert site.add(local(2026, 4, 30, 18), 10 * HOUR) == local(2026, 5, 4, 4)


# --- what cannot be counted ----------------------------------------------------------------


@pytest.mark.parametrize(
    "hours", ["off", "Mo-Fr off", "2020 Mo-Fr 10:00-18:00", "Mo-Fr 10:00-18:00 unknown"]
)
def test_hours_that_never_open_are_refused_when_a_due_date_is_asked(hours):
    site = calendar(hours)

    with pytest.raises(DomainError) as refused:
        site.add(FRIDAY_5PM, 4 * HOUR)

    message = refused.value.message
    assert repr(hours) in message
    assert "not open once in the year from 2026-01-16" in message
    assert site.elapsed(FRIDAY_5PM, FRIDAY_5PM + timedelta(days=30)) == timedelta(0)
    assert site.due(FRIDAY_5PM, 4 * HOUR, [(FRIDAY_5PM, None)]) is None


def test_a_closure_longer_than_a_year_is_refused_when_the_clock_would_run_into_it():
    for_good = Closure(date(2026, 1, 17), date(2027, 6, 30), "démolition")
    site = calendar(closures=[for_good])

    assert site.add(FRIDAY_5PM, 3 * HOUR) == local(2026, 1, 16, 20)
    with pytest.raises(DomainError, match="not open once in the year from 2026-01-16"):
        site.add(FRIDAY_5PM, 4 * HOUR)


def test_a_site_that_reopens_within_the_year_is_waited_for():
    rebuilt = Closure(date(2026, 1, 17), date(2026, 12, 31), "rénovation")

    assert calendar(closures=[rebuilt]).add(FRIDAY_5PM, 4 * HOUR) == local(2027, 1, 5, 11)


def test_badly_written_hours_are_refused_when_the_calendar_is_made():
    with pytest.raises(DomainError, match="10:00, not 10h"):
        calendar("mardi-vendredi 10h-20h")


def test_an_unknown_timezone_is_refused():
    with pytest.raises(DomainError, match="unknown timezone 'Europe/Grenoble'"):
        calendar(timezone="Europe/Grenoble")


def test_the_sites_timezone_wins_over_the_policys():
    reunion = calendar(timezone="Indian/Reunion", policy=SchedulePolicy(timezone="Europe/Paris"))
    tuesday_10am_there = datetime(2026, 1, 20, 6, tzinfo=UTC)  # UTC+4

    assert reunion.add(tuesday_10am_there, HOUR) == datetime(2026, 1, 20, 7, tzinfo=UTC)


def test_naive_instants_negative_durations_and_backward_pauses_are_refused():
    naive = datetime(2026, 1, 16, 17)

    with pytest.raises(ValueError, match="timezone-aware"):
        calendar().add(naive, HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar().elapsed(FRIDAY_5PM, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar().due(FRIDAY_5PM, HOUR, [(naive, None)])
    with pytest.raises(ValueError, match="negative"):
        calendar().add(FRIDAY_5PM, -HOUR)
    with pytest.raises(ValueError, match="before it begins"):
        calendar().elapsed(FRIDAY_5PM, local(2026, 1, 20), [(local(2026, 1, 17), FRIDAY_5PM)])


def test_an_end_before_the_start_has_run_no_time():
    assert calendar().elapsed(local(2026, 1, 20, 12), local(2026, 1, 20, 11)) == timedelta(0)
