"""A resident's session (agent/pc/sessions.py): it starts at login and ends on logout, on idle
after a warning, on the site's longest session (which a mediator may push later), or by command;
each end is reported once; the warnings are in the site's language."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from guest_testkit import run_as

from agent.pc.sessions import GuestPresence, NoSessionToExtend, SessionTracker, notice
from agent.protocol import SessionEnd


class FakePresence:
    def __init__(self) -> None:
        self.in_ = False
        self.login = 1  # which login it is, when logged in
        self.idle: float | None = 0.0

    def session_key(self) -> str | None:
        return f"login-{self.login}" if self.in_ else None

    def idle_s(self) -> float | None:
        return self.idle


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime(2026, 11, 22, 14, 0, tzinfo=UTC) + timedelta(seconds=self.t)


def tracker(presence, clock, **limits):
    warnings: list[str] = []
    ended = []
    t = SessionTracker(
        presence,
        idle_timeout_s=limits.get("idle", 900),
        max_session_s=limits.get("max", 0),
        warn=warnings.append,
        on_end=ended.append,
        clock=clock,
        now=clock.wall,
    )
    return t, warnings, ended


def test_session_starts_at_login_and_ends_at_logout_with_its_times():
    presence, clock = FakePresence(), Clock()
    t, _, ended = tracker(presence, clock)
    t.tick()
    assert not t.active
    presence.in_ = True
    t.tick()
    clock.t = 600
    presence.in_ = False
    t.tick()
    t.tick()  # a second look changes nothing: one end, one reset

    assert len(ended) == 1 and ended[0].ended_by is SessionEnd.LOGOUT
    assert ended[0].ended_at - ended[0].started_at == timedelta(seconds=600)


def test_logout_and_automatic_login_between_two_looks_still_ends_the_session():
    presence, clock = FakePresence(), Clock()
    t, _, ended = tracker(presence, clock)
    presence.in_ = True
    t.tick()
    presence.login = 2  # the display manager logged the guest in again at once
    t.tick()

    assert [e.ended_by for e in ended] == [SessionEnd.LOGOUT]


def test_idle_session_is_warned_a_minute_before_and_input_dismisses_the_warning():
    presence, clock = FakePresence(), Clock()
    t, warnings, ended = tracker(presence, clock, idle=900)
    presence.in_ = True
    t.tick()

    presence.idle = 845
    t.tick()
    assert len(warnings) == 1 and "dans une minute" in warnings[0]
    t.tick()
    assert len(warnings) == 1  # warned once, not every second

    presence.idle = 3  # the resident moved the mouse: dismissed, the session goes on
    t.tick()
    assert ended == []

    presence.idle = 850
    t.tick()
    assert len(warnings) == 2  # idle again: a new warning
    presence.idle = 900
    t.tick()
    assert [e.ended_by for e in ended] == [SessionEnd.IDLE]


def test_longest_session_is_announced_then_ends_the_session():
    presence, clock = FakePresence(), Clock()
    t, warnings, ended = tracker(presence, clock, max=3600)
    presence.in_ = True
    t.tick()
    clock.t = 3545
    t.tick()
    assert len(warnings) == 1 and "le temps prévu ici est écoulé" in warnings[0]
    clock.t = 3600
    t.tick()
    assert [e.ended_by for e in ended] == [SessionEnd.MAX_DURATION]


def test_no_limit_means_no_time_pressure():
    presence, clock = FakePresence(), Clock()
    t, warnings, ended = tracker(presence, clock, max=0)
    presence.in_ = True
    presence.idle = None  # idle time unknown: only logout, a limit or a mediator end it
    t.tick()
    clock.t = 12 * 3600
    t.tick()
    assert warnings == [] and ended == []


def test_command_ends_the_open_session_and_is_harmless_without_one():
    presence, clock = FakePresence(), Clock()
    t, _, ended = tracker(presence, clock)
    assert t.end(SessionEnd.COMMAND) is None
    presence.in_ = True
    t.tick()
    t.end(SessionEnd.COMMAND)
    assert [e.ended_by for e in ended] == [SessionEnd.COMMAND] and not t.active


def test_real_presence_sees_the_guest_log_in_and_out(guest):
    presence = GuestPresence(guest)
    assert presence.session_key() is None

    first = subprocess.Popen(["sleep", "60"], user=guest.uid, group=guest.gid, extra_groups=[])
    try:
        run_as(guest, "true")  # the guest account works
        key = presence.session_key()
        assert key is not None
        later = subprocess.Popen(["sleep", "60"], user=guest.uid, group=guest.gid, extra_groups=[])
        assert presence.session_key() == key  # more programs: the same login
        first.kill()
        first.wait()
        assert presence.session_key() not in (None, key)  # what a new login looks like
        later.kill()
        later.wait()
    finally:
        first.kill()
        first.wait()
    assert presence.session_key() is None


def test_the_guest_is_looked_up_by_name_at_each_use_and_locked_for_real(tmp_path):
    from guest_testkit import throwaway_guest

    from agent.pc.login import GuestLoginByName
    from agent.pc.sessions import GuestPresenceByName

    with throwaway_guest() as guest:
        presence = GuestPresenceByName(guest.name)
        login = GuestLoginByName(guest.name, tmp_path)
        assert presence.session_key() is None and login.locked_reason() is None

        sleeper = subprocess.Popen(["sleep", "60"], user=guest.uid, group=guest.gid)
        try:
            assert presence.session_key() is not None
        finally:
            sleeper.kill()
            sleeper.wait()
        login.lock("the wipe left a file")
        assert login.locked_reason() == "the wipe left a file"
        login.unlock()
        assert login.locked_reason() is None
    assert GuestLoginByName("no-such-guest", tmp_path).locked_reason() is None


def test_logind_sessions_are_read_from_its_state_file_without_running_a_tool(guest, tmp_path):
    users = tmp_path / "users"
    users.mkdir()
    (users / str(guest.uid)).write_text("NAME=x\nSTATE=active\nSESSIONS=5 3\n")

    assert GuestPresence(guest, logind_users=users).session_key() == "logind:3,5"


def test_the_idle_time_is_looked_up_at_most_every_few_seconds(guest):
    class Counting(GuestPresence):
        looks = 0

        def _logind_idle_s(self):
            Counting.looks += 1
            return float(Counting.looks)

    clock = Clock()
    presence = Counting(guest, clock=clock)
    first = presence.idle_s()
    clock.t = 1
    second = presence.idle_s()  # the cached value: lower than the truth, never higher
    clock.t = 6
    third = presence.idle_s()

    assert (first, second, third) == (1.0, 1.0, 2.0) and Counting.looks == 2


def test_a_mediators_extension_pushes_the_end_later_and_tells_the_resident_in_french():
    presence, clock = FakePresence(), Clock()
    t, warnings, ended = tracker(presence, clock, max=3600)
    presence.in_ = True
    t.tick()  # 14:00 UTC, 15:00 in Paris: the session ends at 16:00 Paris time
    clock.t = 3000

    ends = t.extend(minutes=15)

    assert ends == clock.wall() + timedelta(seconds=600 + 900)
    assert warnings == ["Votre session est prolongée : elle se termine à 16:15."]
    clock.t = 3600
    t.tick()
    assert ended == []  # the old end passed: the session goes on
    clock.t = 4500 - 55
    t.tick()
    assert "le temps prévu ici est écoulé" in warnings[-1]  # warned again before the new end
    clock.t = 4500
    t.tick()
    assert [e.ended_by for e in ended] == [SessionEnd.MAX_DURATION]


def test_until_closing_sets_the_end_but_never_moves_it_earlier():
    presence, clock = FakePresence(), Clock()
    t, _, _ = tracker(presence, clock, max=3600)
    presence.in_ = True
    t.tick()

    assert t.extend(ends_in_s=2 * 3600) == clock.wall() + timedelta(hours=2)
    assert t.extend(ends_in_s=600) == clock.wall() + timedelta(hours=2)  # closing is sooner


def test_extension_is_refused_without_a_session_or_a_longest_session():
    presence, clock = FakePresence(), Clock()
    limited, _, _ = tracker(presence, clock, max=3600)
    with pytest.raises(NoSessionToExtend, match="no resident's session"):
        limited.extend()
    unlimited, warnings, _ = tracker(presence, clock, max=0)
    presence.in_ = True
    unlimited.tick()
    with pytest.raises(NoSessionToExtend, match="no end to push back"):
        unlimited.extend()
    assert warnings == []


def test_the_next_resident_starts_without_the_last_ones_extension():
    presence, clock = FakePresence(), Clock()
    t, _, _ = tracker(presence, clock, max=3600)
    presence.in_ = True
    t.tick()
    t.extend(minutes=60)
    presence.in_ = False
    t.tick()
    presence.in_ = True
    presence.login = 2
    t.tick()

    assert t.ends_at() == clock.wall() + timedelta(hours=1)


def test_a_site_in_english_warns_in_english_at_its_own_time():
    presence, clock = FakePresence(), Clock()
    warnings: list[str] = []
    t = SessionTracker(
        presence,
        idle_timeout_s=900,
        max_session_s=3600,
        warn=warnings.append,
        on_end=lambda ended: None,
        clock=clock,
        now=clock.wall,
        language="en",
        time_zone="America/Montreal",
    )
    presence.in_ = True
    t.tick()
    t.extend(minutes=15)
    presence.idle = 845
    t.tick()

    assert warnings[0] == "Your session has more time: it now ends at 10:15."
    assert "Are you still there?" in warnings[1]
    assert notice("idle", "xx") == notice("idle", "fr")  # an unknown language: French
