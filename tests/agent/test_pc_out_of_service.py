"""A technician takes a public PC out of service and back (agent/pc/public_pc.py, login.py,
greeter.py): a real guest account, a real reset, PAM's own verdict on the login, the login
screen's files in a test root; and the switch through ``update_config`` on whole agents, public
PC and kiosk, across restarts."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import make_credentials
from guest_testkit import guest_processes
from wipe_testkit import remove_wipe_traces

from agent.actions import Outcome
from agent.daemon import Agent, build_agent
from agent.pc.greeter import GTK_GREETER_DROP_IN, NOTICE_PICTURE, GreeterNotice, notice_svg
from agent.pc.guest import GuestAccount
from agent.pc.login import AccountExpiryLogin, LockKind
from agent.pc.public_pc import PublicPc
from agent.pc.reset import GuestReset, TracePlaces, system_areas
from agent.pc.role import PcRole
from agent.pc.sessions import GuestPresence
from agent.pc.tmpfiles import TempAreas
from agent.protocol import DeviceKind, SessionEnd, SessionRecord, UpdateConfigArgs, WipeReport
from agent.settings import AgentSettings
from agent.spool import Spool

SVG_TEXT = "{http://www.w3.org/2000/svg}text"


def logs_in(guest: GuestAccount) -> bool:
    """What PAM's account check says of the guest (LightDM's automatic login asks the same)."""
    checked = subprocess.run(["su", "-s", "/bin/true", guest.name], capture_output=True)
    return checked.returncode == 0


@dataclass
class LoginScreen:
    """LightDM as the notice sees it: the sessions running, and its restarts."""

    sessions: list[object] = field(default_factory=list)
    restarts: int = 0

    def restart(self) -> Outcome:
        self.restarts += 1
        return Outcome(True, "")


@dataclass
class Pc:
    public_pc: PublicPc
    reset: GuestReset
    login: AccountExpiryLogin
    screen: LoginScreen
    spool: Spool
    root: Path  # where /etc/lightdm is

    @property
    def drop_in(self) -> Path:
        return self.root / GTK_GREETER_DROP_IN

    @property
    def picture(self) -> Path:
        return self.root / NOTICE_PICTURE


@pytest.fixture
def build_pc(guest: GuestAccount, tmp_path: Path) -> Iterator[Callable[..., Pc]]:
    """A public PC of the test's guest, wired as ``build_public_pc`` wires it, with the real
    cleaners (the system's logs and filesystems in the test's dirs); built again on the same
    state and screen, it is the same PC after a restart of the agent."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    root = tmp_path / "root"
    (root / "etc/lightdm").mkdir(parents=True)
    skeleton = tmp_path / "skel"
    skeleton.mkdir()
    (tmp_path / "tmp").mkdir(mode=0o1777)
    os.chmod(tmp_path / "tmp", 0o1777)  # noqa: S103 - sticky like /tmp
    (tmp_path / "run-user").mkdir()
    temp_areas = TempAreas(dirs=(tmp_path / "tmp",), run_user=tmp_path / "run-user")
    places = TracePlaces(
        journal_dirs=(tmp_path / "journal",),
        bluetooth_storage=tmp_path / "bluetooth",
        page_log=tmp_path / "cups" / "page_log",
        scan_roots=(tmp_path,),
    )
    screen = LoginScreen()
    built: list[Pc] = []

    def build(**overrides: Any) -> Pc:
        login = AccountExpiryLogin(guest, state)
        reset = GuestReset(
            guest_name=guest.name,
            skeleton=skeleton,
            login=login,
            state_dir=state,
            on_report=lambda report: None,
            temp_areas=temp_areas,
            areas=system_areas(state, places),
        )
        spool = Spool(tmp_path / f"spool-{len(built)}.db")
        public_pc = PublicPc(
            presence=GuestPresence(guest),
            resetter=reset,
            events=spool,
            warn=lambda text: None,
            state_dir=state,
            login=login,
            idle_timeout_s=900,
            notice=GreeterNotice(root, sessions=lambda: screen.sessions, restart=screen.restart),
            **overrides,
        )
        reset.on_report = public_pc.report_wipe
        pc = Pc(public_pc, reset, login, screen, spool, root)
        built.append(pc)
        return pc

    yield build
    for pc in built:
        pc.reset.wait(120)
        pc.spool.close()
    for parent in (guest.home.parent, *temp_areas.dirs):
        remove_wipe_traces(parent, guest)


def a_resident_at_the_pc(guest: GuestAccount) -> subprocess.Popen[bytes]:
    (guest.home / "attestation-CAF.pdf").write_text("a resident's document")
    return subprocess.Popen(
        ["sleep", "600"],
        user=guest.uid,
        group=guest.gid,
        extra_groups=[],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_out_of_service_ends_the_residents_session_as_a_reset_and_refuses_the_guest(
    build_pc: Callable[..., Pc], guest: GuestAccount
) -> None:
    pc = build_pc()
    resident = a_resident_at_the_pc(guest)
    try:
        pc.public_pc.tick()
        assert pc.public_pc.tracker.active and logs_in(guest)

        done = pc.public_pc.set_out_of_service(True)

        assert pc.reset.wait(120)
    finally:
        resident.wait(30)
    assert guest_processes(guest.uid) == []
    assert not (guest.home / "attestation-CAF.pdf").exists()
    assert not logs_in(guest)
    assert pc.public_pc.out_of_service
    assert done[:2] == [
        "the login screen shows the out-of-service notice (fr)",
        "the guest login is locked",
    ]
    assert done[2].startswith("the resident's session was reset: ready in ")
    assert pc.screen.restarts == 0  # the session's end brings LightDM's login screen by itself
    batch = pc.spool.pending_batch()
    assert batch is not None
    session, wipe = batch.events
    assert isinstance(session, SessionRecord) and session.ended_by is SessionEnd.COMMAND
    assert isinstance(wipe, WipeReport) and not wipe.leftovers


def test_the_login_screen_shows_the_notice_in_the_sites_language(
    build_pc: Callable[..., Pc],
) -> None:
    pc = build_pc(language="en")

    pc.public_pc.set_out_of_service(True)

    assert pc.drop_in.read_text().splitlines()[-5:] == [
        "[greeter]",
        "background=/etc/lightdm/borne-out-of-service.svg",
        "user-background=false",
        "hide-user-image=true",
        "position=50%,center 96%,end",
    ]
    picture = ET.parse(pc.picture).getroot()  # noqa: S314 - the agent's own picture
    texts = [t.text for t in picture.iter(SVG_TEXT)]
    assert texts[0] == "This computer is out of service"
    assert "Ce poste est hors service" in texts
    assert pc.picture.stat().st_mode & 0o777 == 0o644  # LightDM's greeter runs as its own user
    # Nobody's session was running: LightDM is restarted, so its login screen reads the notice.
    assert pc.screen.restarts == 1


def test_a_clean_reset_does_not_lift_out_of_service(
    build_pc: Callable[..., Pc], guest: GuestAccount
) -> None:
    pc = build_pc()
    pc.public_pc.set_out_of_service(True)
    pc.login.lock("the wipe left /tmp/…: immutable (chattr +i)")  # and an earlier wipe's lock

    outcome = pc.reset.reset_and_wait(120)

    assert outcome.ok, outcome.output
    assert pc.reset.last_report is not None
    assert "this wipe was clean; the guest login stays locked: out of service" in (
        pc.reset.last_report.actions
    )
    assert pc.login.locked_reason() == "out of service: a technician's switch on the controller"
    assert not logs_in(guest) and pc.public_pc.out_of_service
    assert pc.reset.reset_and_wait(120).ok
    assert not logs_in(guest)


def test_back_in_service_the_guest_logs_in_again_and_the_notice_is_gone(
    build_pc: Callable[..., Pc], guest: GuestAccount
) -> None:
    pc = build_pc()
    pc.public_pc.set_out_of_service(True)

    done = pc.public_pc.set_out_of_service(False)

    assert logs_in(guest) and not pc.public_pc.out_of_service
    assert not pc.drop_in.exists() and not pc.picture.exists()
    assert done == [
        "the out-of-service notice is removed from the login screen",
        "guest login open",
        "restarted the display manager",  # which logs the guest in on its own again
    ]
    assert pc.screen.restarts == 2
    assert pc.public_pc.set_out_of_service(False) == ["already in service"]


def test_back_in_service_leaves_a_wipes_lock_in_place(
    build_pc: Callable[..., Pc], guest: GuestAccount
) -> None:
    pc = build_pc()
    pc.login.lock("the wipe left /home/…/Documents/….pdf: immutable (chattr +i)")
    pc.public_pc.set_out_of_service(True)
    assert pc.login.locked_reason() == (
        "out of service: a technician's switch on the controller; "
        "the wipe left /home/…/Documents/….pdf: immutable (chattr +i)"
    )

    done = pc.public_pc.set_out_of_service(False)

    assert not logs_in(guest)
    assert done[1] == (
        "the guest login stays locked: the wipe left /home/…/Documents/….pdf: immutable (chattr +i)"
    )
    role = PcRole()
    role.public_pc = pc.public_pc
    state = role.state()
    assert (state["service"], state["guest_login"]) == ("in_service", "locked")
    # The wipe's lock goes the way it always did: with a clean wipe.
    assert pc.reset.reset_and_wait(120).ok
    assert logs_in(guest)


def test_the_switch_holds_across_a_restart_of_the_agent_without_acting_again(
    build_pc: Callable[..., Pc], guest: GuestAccount
) -> None:
    build_pc().public_pc.set_out_of_service(True)
    restarts = build_pc().screen.restarts

    again = build_pc()  # the agent restarted: its state is on disk
    done = again.public_pc.set_out_of_service(True)  # what PcRole.wire does at start

    assert again.public_pc.out_of_service and not logs_in(guest)
    assert done == ["the login screen shows the out-of-service notice (fr)"]
    assert again.screen.restarts == restarts  # no restart of LightDM at each start


def test_a_new_site_language_rewrites_the_notice(build_pc: Callable[..., Pc]) -> None:
    pc = build_pc()
    role = PcRole()
    role.public_pc = pc.public_pc
    nothing = UpdateConfigArgs()
    role.update_config(UpdateConfigArgs(out_of_service=True), previous=nothing, in_force=nothing)

    lines = role.update_config(
        UpdateConfigArgs(site_language="es"),
        previous=UpdateConfigArgs(out_of_service=True),
        in_force=UpdateConfigArgs(out_of_service=True, site_language="es"),
    )

    assert lines == [
        "site_language = es",
        "the login screen shows the out-of-service notice (es)",
    ]
    assert "Este ordenador está fuera de servicio" in pc.picture.read_text()


def test_without_lightdm_the_login_is_refused_and_the_output_says_there_is_no_notice(
    tmp_path: Path,
) -> None:
    screen = LoginScreen()
    notice = GreeterNotice(tmp_path, sessions=lambda: screen.sessions, restart=screen.restart)

    assert notice.show("fr") == (
        "no LightDM on this PC: the login is refused, without a notice on screen"
    )
    assert notice.refresh() == "" and screen.restarts == 0
    assert not (tmp_path / "etc").exists()


def test_the_login_screen_is_not_restarted_under_someones_session(tmp_path: Path) -> None:
    (tmp_path / "etc/lightdm").mkdir(parents=True)
    screen = LoginScreen(sessions=["a technician's session"])
    notice = GreeterNotice(tmp_path, sessions=lambda: screen.sessions, restart=screen.restart)

    assert notice.refresh() == "a session is running: the login screen changes when it ends"
    assert screen.restarts == 0
    failing = GreeterNotice(
        tmp_path, sessions=list, restart=lambda: Outcome(False, "Unit lightdm.service not found.")
    )
    assert failing.refresh() == (
        "the display manager did not restart: Unit lightdm.service not found."
    )


@pytest.mark.parametrize("language", ["fr", "en", "es", "pt", "tr", "ar", "de"])
def test_the_notice_is_a_picture_in_every_language_and_french_by_default(language: str) -> None:
    svg = ET.fromstring(notice_svg(language))  # noqa: S314 - the agent's own picture

    texts = list(svg.iter(SVG_TEXT))
    headline = texts[0]
    assert headline.get("font-weight") == "bold"
    expected = {"de": "Ce poste est hors service", "ar": "هذا الحاسوب خارج الخدمة"}
    if language in expected:
        assert headline.text == expected[language]
    assert headline.get("direction") == ("rtl" if language == "ar" else None)
    # The headline in the other languages, smaller: six in all, each once.
    assert len({t.text for t in texts if t.get("font-size") in ("76", "30")}) == 6


# -- the switch through update_config, on whole agents -----------------------------------------


@pytest.fixture
def agents(state_dir: Path) -> Iterator[Callable[[DeviceKind], Agent]]:
    """Builds agents on one state directory (simulated actions, a controller nobody answers
    at): building one again is restarting it."""
    built: list[Agent] = []

    def build(kind: DeviceKind) -> Agent:
        agent = build_agent(
            AgentSettings(state_dir=state_dir, actions="simulated"),
            make_credentials("http://127.0.0.1:1", kind=kind),
        )
        built.append(agent)
        return agent

    yield build
    for agent in built:
        agent.link.close()
        agent.spool.close()


def apply(agent: Agent, **settings: Any) -> str:
    assert agent.commands is not None
    return agent.commands.apply_config(UpdateConfigArgs(**settings))


def test_a_public_pcs_heartbeats_say_out_of_service_across_restarts(
    agents: Callable[[DeviceKind], Agent],
) -> None:
    pc = agents(DeviceKind.PC)
    assert pc.spool_heartbeat().state["service"] == "in_service"

    output = apply(pc, out_of_service=True)

    assert output == (
        "applied: out_of_service = True (simulated: the login screen shows the out-of-service "
        "notice (fr); the guest login is locked; simulated: restarted the display manager)"
    )
    state = pc.spool_heartbeat().state
    assert (state["service"], state["guest_login"]) == ("out_of_service", "locked")
    assert state["locked_because"] == "out of service: a technician's switch on the controller"
    restarted = agents(DeviceKind.PC)
    assert restarted.spool_heartbeat().state["service"] == "out_of_service"
    apply(restarted, out_of_service=False)
    state = restarted.spool_heartbeat().state
    assert (state["service"], state["guest_login"]) == ("in_service", "open")


def test_a_kiosks_heartbeats_say_out_of_service_across_restarts(
    agents: Callable[[DeviceKind], Agent],
) -> None:
    kiosk = agents(DeviceKind.KIOSK)
    assert kiosk.spool_heartbeat().state == {"role": "kiosk", "service": "in_service"}

    assert apply(kiosk, out_of_service=True) == "applied: out_of_service = True"

    assert kiosk.spool_heartbeat().state == {"role": "kiosk", "service": "out_of_service"}
    restarted = agents(DeviceKind.KIOSK)
    assert restarted.spool_heartbeat().state["service"] == "out_of_service"
    apply(restarted, out_of_service=False)
    assert restarted.spool_heartbeat().state["service"] == "in_service"
    assert apply(restarted, heartbeat_interval_s=20) == "applied: heartbeat_interval_s = 20"


def test_the_lock_reasons_are_kept_apart_on_disk(guest: GuestAccount, tmp_path: Path) -> None:
    login = AccountExpiryLogin(guest, tmp_path)
    login.lock("out of service", kind=LockKind.OUT_OF_SERVICE)
    login.lock("the wipe left a file")

    login.unlock()  # the wipe's

    assert login.locked_reason() == "out of service" and not logs_in(guest)
    assert login.locked_reason(LockKind.WIPE) is None
    login.unlock(kind=LockKind.OUT_OF_SERVICE)
    assert login.locked_reason() is None and logs_in(guest)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
