"""The public PC's lockdown (agent/pc/lockdown.py), on a copy of /etc in a temp dir."""

from __future__ import annotations

from pathlib import Path

from agent.pc.lockdown import check_lockdown, polkit_rule, write_lockdown


def test_setup_writes_the_polkit_rule_and_takes_subordinate_ids_away(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "subuid").write_text("marie:100000:65536\nborne-guest:165536:65536\n")
    (etc / "subgid").write_text("borne-guest:165536:65536\n")

    before = check_lockdown("borne-guest", tmp_path)
    done = write_lockdown("borne-guest", tmp_path)
    after = check_lockdown("borne-guest", tmp_path)

    assert len(before) == 3 and len(done) == 3 and after == []
    assert (etc / "subuid").read_text() == "marie:100000:65536\n"
    rule = (etc / "polkit-1/rules.d/50-borne-guest.rules").read_text()
    assert 'subject.user == "borne-guest"' in rule
    assert "org.freedesktop.NetworkManager.settings.modify.system" in rule
    assert write_lockdown("borne-guest", tmp_path) == []  # nothing more to do


def test_the_guests_name_cannot_break_out_of_the_rule() -> None:
    assert 'subject.user == "a\\"b"' in polkit_rule('a"b')
