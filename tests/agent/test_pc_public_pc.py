"""The pc role's wiring (agent/pc/public_pc.py): a session's end is recorded and resets the PC,
a mediator's reset ends the session as a command, the wipe report is spooled for the controller,
a logout caused by a reset made at the PC is not reset twice, and a mediator's "+15 min" pushes
the session's end later."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agent_testkit import make_command

from agent.actions import Outcome, simulated_actions
from agent.commands import CommandRunner
from agent.pc.login import MemoryLogin
from agent.pc.public_pc import PublicPc, mark_reset, redacted, wipe_event
from agent.pc.report import WipeReport
from agent.protocol import ClaimAnswer, DeviceKind, ExtendSessionArgs, SessionEnd, SessionRecord
from agent.protocol import WipeReport as WipeEvent
from agent.redaction import RedactingSpool
from agent.roles import role_for
from agent.spool import Spool


class Presence:
    def __init__(self) -> None:
        self.in_ = False
        self.idle: float | None = 0.0

    def session_key(self) -> str | None:
        return "login" if self.in_ else None

    def idle_s(self) -> float | None:
        return self.idle


class Resetter:
    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> Outcome:
        self.resets += 1
        return Outcome(True, "ready in 120 ms")


def build(tmp_path: Path, presence: Presence, resetter: Resetter) -> tuple[PublicPc, Spool]:
    spool = Spool(tmp_path / "spool.db")
    pc = PublicPc(
        presence=presence,
        resetter=resetter,
        events=spool,
        warn=lambda text: None,
        state_dir=tmp_path,
        login=MemoryLogin(),
        idle_timeout_s=900,
    )
    return pc, spool


def a_resident_comes_and_goes(pc: PublicPc, presence: Presence) -> None:
    presence.in_ = True
    pc.tick()
    presence.in_ = False
    pc.tick()


def spooled(spool: Spool) -> list[object]:
    batch = spool.pending_batch()
    return list(batch.events) if batch else []


def test_logout_records_the_session_and_resets(tmp_path: Path) -> None:
    presence, resetter = Presence(), Resetter()
    pc, spool = build(tmp_path, presence, resetter)
    a_resident_comes_and_goes(pc, presence)

    events = spooled(spool)
    assert resetter.resets == 1
    assert [type(e) for e in events] == [SessionRecord]
    assert events[0].ended_by is SessionEnd.LOGOUT


def test_mediator_reset_ends_the_session_as_a_command_and_the_report_follows(tmp_path: Path):
    presence, resetter = Presence(), Resetter()
    pc, spool = build(tmp_path, presence, resetter)
    presence.in_ = True
    pc.tick()

    assert pc.reset().ok
    report = WipeReport(ready_ms=120, wipe_ms=900, removed_files=30, removed_bytes=4096)
    report.left("tmp", b"/tmp/a\nb\xff", "immutable")
    pc.report_wipe(report)

    session, wipe = spooled(spool)
    assert isinstance(session, SessionRecord) and session.ended_by is SessionEnd.COMMAND
    assert isinstance(wipe, WipeEvent) and wipe.ended_by is SessionEnd.COMMAND
    assert wipe.leftovers[0].path == "/tmp/…" and wipe.login_locked  # never the name
    assert wipe.started_at <= datetime.now(UTC)
    presence.in_ = False
    pc.tick()
    assert resetter.resets == 1  # the reset's own logout is not a new session end


def test_logout_right_after_a_reset_at_the_pc_is_not_reset_again(tmp_path: Path) -> None:
    presence, resetter = Presence(), Resetter()
    pc, spool = build(tmp_path, presence, resetter)
    presence.in_ = True
    pc.tick()
    mark_reset(tmp_path)  # `borne agent reset` ran in another process
    presence.in_ = False
    pc.tick()

    assert resetter.resets == 0
    assert [e.ended_by for e in spooled(spool)] == [SessionEnd.LOGOUT]


def test_site_limits_apply_from_the_next_look(tmp_path: Path) -> None:
    presence, resetter = Presence(), Resetter()
    pc, spool = build(tmp_path, presence, resetter)
    presence.in_ = True
    pc.tick()
    presence.idle = 400
    pc.tick()
    assert resetter.resets == 0

    pc.set_limits(idle_timeout_s=300, max_session_s=None)
    pc.tick()

    assert resetter.resets == 1 and spooled(spool)[0].ended_by is SessionEnd.IDLE


def test_a_short_session_right_after_the_agents_own_reset_is_reset_too(tmp_path: Path) -> None:
    presence, resetter = Presence(), Resetter()
    pc, _ = build(tmp_path, presence, resetter)
    a_resident_comes_and_goes(pc, presence)  # reset 1
    # The next resident, logged in at once, leaves within seconds.
    a_resident_comes_and_goes(pc, presence)

    assert resetter.resets == 2


def test_leftovers_reach_the_controller_without_the_residents_names(tmp_path: Path) -> None:
    assert redacted("/home/borne-guest/Documents/releve-CAF-Mme-X.pdf") == "/home/…/Documents/….pdf"
    assert redacted("/home/borne-guest/.mozilla/firefox/x.default/places.sqlite") == (
        "/home/…/.mozilla/firefox/…/….sqlite"
    )
    assert redacted("/tmp/Dossier Mme X") == "/tmp/…"
    report = WipeReport()
    report.did("unmounted /media/borne-guest/CLÉ de Mme X")
    report.did("detached /media/borne-guest/PHOTOS (busy: lazy unmount)")
    report.did("ended 12 processes")
    spool = RedactingSpool(tmp_path / "spool.db")  # a public PC's: where events leave it
    spool.append(lambda seq: wipe_event(seq, report, SessionEnd.COMMAND, datetime.now(UTC)))
    batch = spool.pending_batch()
    assert batch is not None
    (event,) = batch.events
    assert isinstance(event, WipeEvent)
    assert event.actions == [
        "unmounted /media/…/…",
        "detached /media/…/… (busy: lazy unmount)",
        "ended 12 processes",
    ]


def test_a_mediators_extension_runs_as_a_command_and_reports_the_new_end(
    tmp_path: Path,
) -> None:
    presence, shown = Presence(), []
    spool = Spool(tmp_path / "spool.db")
    pc = PublicPc(
        presence=presence,
        resetter=Resetter(),
        events=spool,
        warn=shown.append,
        state_dir=tmp_path,
        login=MemoryLogin(),
        idle_timeout_s=900,
        max_session_s=3600,
    )
    actions = simulated_actions()
    actions.session = pc
    runner = CommandRunner(
        spool=spool,
        role=role_for(DeviceKind.PC),
        actions=actions,
        claimer=GrantAll(),
        apply_config=lambda update: "",
    )
    presence.in_ = True
    pc.tick()
    before = pc.tracker.ends_at()
    assert before is not None

    args = {"minutes": 15, "language": "en", "time_zone": "UTC"}
    result = runner.handle(make_command("extend_session", args=args))

    assert result is not None and result.ok
    after = pc.tracker.ends_at()
    assert after is not None and 899 <= (after - before).total_seconds() <= 901
    assert result.output.startswith(f"session ends at {after:%Y-%m-%dT%H:%M}")
    assert result.output.endswith("(+15 min)")
    assert shown == [f"Your session has more time: it now ends at {after:%H:%M}."]
    assert pc.tracker.language == "fr"  # the command's language was for its notice only


def test_extension_without_a_resident_fails_with_the_reason(tmp_path: Path) -> None:
    pc, _ = build(tmp_path, Presence(), Resetter())
    outcome = pc.extend_session(ExtendSessionArgs())
    assert not outcome.ok and outcome.output == "no resident's session is running on this PC"


class GrantAll:
    def claim(self, command_id: str) -> ClaimAnswer:
        return ClaimAnswer(ok=True)
