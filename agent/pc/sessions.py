"""A resident's session on a public PC: when it starts, and the four ways it ends.

A session starts when the guest logs in and ends when the guest logs out, after the site's idle
timeout (with a warning a minute before, which any input dismisses), after the site's longest
session if it sets one (a mediator may push that end later: :meth:`SessionTracker.extend`), or on
a mediator's command. The warnings are in the site's language. Every end triggers a reset, and
is recorded anonymously: start, end, how it ended — never what the resident did.

:class:`SessionTracker` is pure logic over injected probes and a clock, ticked once a second by
:class:`agent.pc.public_pc.PublicPc`; :class:`GuestPresence` is the real probe.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.actions import run_quiet
from agent.pc.guest import GuestAccount, GuestRefused, resolve_guest
from agent.protocol import SessionEnd

log = logging.getLogger(__name__)

LOGIND_USERS = Path("/run/systemd/users")  # logind's state file per user: SESSIONS=…
IDLE_REFRESH_S = 5.0

# What the PC tells the resident, in the site's language (French unless the controller says
# otherwise); a language missing here falls back to French. ``%(time)s`` is a local time, HH:MM.
DEFAULT_LANGUAGE = "fr"
DEFAULT_TIME_ZONE = "Europe/Paris"
NOTICES: dict[str, dict[str, str]] = {
    "fr": {
        "idle": "Êtes-vous toujours là ? Touchez la souris ou le clavier pour garder votre "
        "session. Sinon elle se termine dans une minute et tout est effacé de ce PC.",
        "last_minute": "Votre session se termine dans une minute : le temps prévu ici est "
        "écoulé. Enregistrez ce dont vous avez besoin sur votre clé USB ou envoyez-le-vous "
        "maintenant.",
        "extended": "Votre session est prolongée : elle se termine à %(time)s.",
    },
    "en": {
        "idle": "Are you still there? Touch the mouse or the keyboard to keep your session. "
        "Otherwise it ends in one minute and everything on this PC is erased.",
        "last_minute": "Your session ends in one minute: this place's time limit is reached. "
        "Save what you need on your own USB stick or send it to yourself now.",
        "extended": "Your session has more time: it now ends at %(time)s.",
    },
}


def notice(key: str, language: str, **values: str) -> str:
    """The resident's notice ``key`` ("idle", "last_minute", "extended") in ``language``."""
    text = NOTICES.get(language, NOTICES[DEFAULT_LANGUAGE])[key]
    return text % values if values else text


def local_time(moment: datetime, time_zone: str) -> str:
    """``moment`` as HH:MM in ``time_zone`` (UTC when the zone is unknown)."""
    try:
        zone: tzinfo = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return moment.astimezone(zone).strftime("%H:%M")


class NoSessionToExtend(Exception):
    """No resident is logged in, or the site sets no longest session: no end to push back."""


class Presence(Protocol):
    def session_key(self) -> str | None:
        """What tells this login from the next one, or None when the guest is not logged in.

        Comparing keys, not just "logged in or not", catches a logout followed by the display
        manager's automatic login between two looks: the key changes, the session has ended.
        """
        ...

    def idle_s(self) -> float | None:
        """Seconds since the resident's last input, or None when it cannot be known."""
        ...


@dataclass(frozen=True)
class EndedSession:
    started_at: datetime
    ended_at: datetime
    ended_by: SessionEnd


class SessionTracker:
    """Decides, at each :meth:`tick`, whether the session started, needs a warning, or ended.

    ``on_end`` receives the ended session and must reset the PC; ``warn`` shows a message on the
    resident's screen. Times come from ``clock`` (monotonic seconds) and ``now`` (wall clock).
    """

    def __init__(
        self,
        presence: Presence,
        *,
        idle_timeout_s: int,
        max_session_s: int = 0,
        warning_s: int = 60,
        warn: Callable[[str], None],
        on_end: Callable[[EndedSession], None],
        clock: Callable[[], float],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        language: str = DEFAULT_LANGUAGE,
        time_zone: str = DEFAULT_TIME_ZONE,
    ) -> None:
        self.presence = presence
        self.idle_timeout_s = idle_timeout_s
        self.max_session_s = max_session_s
        self.warning_s = warning_s
        self.language = language
        self.time_zone = time_zone
        self._extra_s = 0.0  # a mediator's extensions of this session's longest length
        self.warn = warn
        self.on_end = on_end
        self._clock = clock
        self._now = now
        self._started_at: datetime | None = None
        self._key: str | None = None
        self._started_clock = 0.0
        self._idle_warned = False
        self._limit_warned = False

    @property
    def active(self) -> bool:
        return self._started_at is not None

    @property
    def started_at(self) -> datetime | None:
        return self._started_at

    def ends_at(self) -> datetime | None:
        """When the running session reaches its longest length, extensions included; None
        without a session or without a longest session."""
        if self._started_at is None or not self.max_session_s:
            return None
        left = self._started_clock + self.max_session_s + self._extra_s - self._clock()
        return self._now() + timedelta(seconds=max(0.0, left))

    def extend(self, *, minutes: int = 15, ends_in_s: int | None = None) -> datetime:
        """Push the running session's end later, by ``minutes`` or to ``ends_in_s`` from now
        (never earlier than it was); the resident is told the new end in the site's language.

        Raises :class:`NoSessionToExtend` without a session or a longest session."""
        if self._started_at is None:
            raise NoSessionToExtend("no resident's session is running on this PC")
        if not self.max_session_s:
            raise NoSessionToExtend(
                "this site sets no longest session: the session has no end to push back"
            )
        elapsed = self._clock() - self._started_clock
        left = self.max_session_s + self._extra_s - elapsed
        wanted_left = float(ends_in_s) if ends_in_s is not None else max(left, 0.0) + minutes * 60
        self._extra_s += max(0.0, wanted_left - left)
        self._limit_warned = False  # a minute before the new end, warn again
        ends = self.ends_at()
        assert ends is not None
        self.warn(notice("extended", self.language, time=local_time(ends, self.time_zone)))
        return ends

    def tick(self) -> EndedSession | None:
        """Look at the PC once; returns the session if it just ended (``on_end`` was called)."""
        key = self.presence.session_key()
        if self._started_at is None:
            if key is not None:
                self._start(key)
            return None
        if key != self._key:  # logged out, and maybe already logged in again
            return self.end(SessionEnd.LOGOUT)
        elapsed = self._clock() - self._started_clock
        if self.max_session_s:
            longest = self.max_session_s + self._extra_s
            if elapsed >= longest:
                return self.end(SessionEnd.MAX_DURATION)
            if elapsed >= longest - self.warning_s and not self._limit_warned:
                self._limit_warned = True
                self.warn(notice("last_minute", self.language))
        idle = self.presence.idle_s()
        if idle is None:
            return None
        if idle >= self.idle_timeout_s:
            return self.end(SessionEnd.IDLE)
        if idle >= self.idle_timeout_s - self.warning_s:
            if not self._idle_warned:
                self._idle_warned = True
                self.warn(notice("idle", self.language))
        else:
            self._idle_warned = False  # the resident came back: warn again next time
        return None

    def end(self, how: SessionEnd) -> EndedSession | None:
        """End the session now (a command does this too); None if no session was open."""
        if self._started_at is None:
            return None
        ended = EndedSession(self._started_at, self._now(), how)
        self._started_at = None
        log.info("session ended (%s)", how.value)
        self.on_end(ended)
        return ended

    def _start(self, key: str) -> None:
        self._key = key
        self._started_at = self._now()
        self._started_clock = self._clock()
        self._idle_warned = self._limit_warned = False
        self._extra_s = 0.0  # an extension was the last resident's, not the next one's
        log.info("session started")


class NoPresence:
    """A PC whose guest account is missing: nobody can be logged in."""

    def session_key(self) -> str | None:
        return None

    def idle_s(self) -> float | None:
        return None


class GuestPresenceByName:
    """:class:`GuestPresence` of the account named ``name``, looked up until it exists, so a
    PC whose guest is created after the agent started (``borne agent pc setup``) is watched."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._presence: GuestPresence | None = None

    def session_key(self) -> str | None:
        presence = self._resolved()
        return presence.session_key() if presence else None

    def idle_s(self) -> float | None:
        presence = self._resolved()
        return presence.idle_s() if presence else None

    def _resolved(self) -> GuestPresence | None:
        if self._presence is None:
            try:
                self._presence = GuestPresence(resolve_guest(self.name))
            except GuestRefused:
                return None
        return self._presence


class GuestPresence:
    """The real probe: is a guest process running, and how long has the seat been idle.

    Idle time comes from systemd-logind (``IdleSinceHint`` of the guest's graphical session,
    which desktop environments keep up to date) and, failing that, from the X server through
    ``xprintidle``. When neither answers, the idle timeout cannot apply: the session then ends
    on logout, on the longest-session limit or by a mediator.

    Asked once a second, it must stay cheap (the agent's budget is 0.5 % of a core): logind's
    sessions are read from its state file rather than by running ``loginctl``, and the idle time,
    which needs a tool per look, is refreshed every :data:`IDLE_REFRESH_S` at most. A cached idle
    time can only be lower than the truth, so a session may end a few seconds late, never early.
    """

    def __init__(
        self,
        guest: GuestAccount,
        proc: Path = Path("/proc"),
        logind_users: Path = LOGIND_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.guest = guest
        self.uid = guest.uid
        self.proc = proc
        self.logind_users = logind_users
        self._clock = clock
        self._idle: tuple[float, float | None] | None = None  # (when read, idle seconds)

    def session_key(self) -> str | None:
        """logind's session ids of the guest when logind runs; otherwise the guest's oldest
        process (pid and start time), which a new login replaces since a reset kills them all."""
        sessions = self._logind_sessions()
        if sessions:
            return "logind:" + ",".join(sorted(sessions))
        oldest: tuple[int, int] | None = None
        for entry in self.proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != self.uid:
                    continue
                started = _start_time(entry)
            except (FileNotFoundError, ProcessLookupError):
                continue
            if started is not None and (oldest is None or started < oldest[0]):
                oldest = (started, int(entry.name))
        return None if oldest is None else f"process:{oldest[1]}:{oldest[0]}"

    def _logind_sessions(self) -> list[str]:
        """The ``SESSIONS=`` of logind's state file for the user (what sd_uid_get_sessions
        reads); none when logind does not run or the guest has no session."""
        try:
            text = (self.logind_users / str(self.uid)).read_text(encoding="utf-8")
        except OSError:
            return []
        for line in text.splitlines():
            if line.startswith("SESSIONS="):
                return line.removeprefix("SESSIONS=").split()
        return []

    def idle_s(self) -> float | None:
        now = self._clock()
        if self._idle is None or now - self._idle[0] >= IDLE_REFRESH_S:
            idle = self._logind_idle_s()
            self._idle = (now, idle if idle is not None else self._x_idle_s())
        return self._idle[1]

    def _logind_idle_s(self) -> float | None:
        if shutil.which("loginctl") is None:
            return None
        try:
            for session in self._logind_sessions():
                done = run_quiet(
                    ["loginctl", "show-session", session,
                     "--property=IdleHint", "--property=IdleSinceHintMonotonic", "--value"],
                    timeout_s=5,
                )  # fmt: skip
                if done is None or done.returncode != 0:
                    return None
                out = done.stdout.split()
                if len(out) == 2 and out[0] == "yes" and out[1] != "0":
                    now_us = int(_monotonic_ns() / 1000)
                    return max(0.0, (now_us - int(out[1])) / 1e6)
                if len(out) == 2 and out[0] == "no":
                    return 0.0
        except (OSError, ValueError):
            return None
        return None

    def _x_idle_s(self) -> float | None:
        if shutil.which("xprintidle") is None:
            return None
        # LightDM keeps the session's X cookie in the home; GDM under /run/user.
        cookies = [self.guest.home / ".Xauthority", Path(f"/run/user/{self.uid}/gdm/Xauthority")]
        cookie = next((c for c in cookies if c.exists()), cookies[0])
        env = {"DISPLAY": ":0", "XAUTHORITY": str(cookie)}
        done = run_quiet(
            ["runuser", "-u", self.guest.name, "--", "xprintidle"],
            timeout_s=5,
            env={**os.environ, **env},
        )
        if done is None or done.returncode != 0:
            return None
        try:
            return int(done.stdout.strip()) / 1000
        except ValueError:
            return None


def _start_time(entry: Path) -> int | None:
    """The process's start time in clock ticks since boot, or None for a zombie (ended, not yet
    reaped by its parent: not someone at the keyboard)."""
    stat = (entry / "stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of proc_pid_stat(5); fields[0] is field 3


def _monotonic_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)
