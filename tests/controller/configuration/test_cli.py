"""``borne controller agent-release …`` (controller/configuration/cli.py): wheels added for the
agents, listed; a bad one refused with its reason and a non-zero exit, none of the batch kept."""

from __future__ import annotations


def test_added_wheels_are_listed_with_their_size_and_sha256(run, make_wheel, tmp_path):
    wheels = [make_wheel("0.10.0"), make_wheel("0.9.0")]

    added = run("agent-release", "add", *map(str, wheels))
    again = run("agent-release", "add", str(wheels[0]))
    listed = run("agent-release", "list")

    assert added.exit_code == 0, added.output
    assert "borne 0.10.0 added" in added.output and "borne 0.9.0 added" in added.output
    assert str(tmp_path / "agent-releases") in added.output
    assert "borne 0.10.0: unchanged" in again.output
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines] == ["0.9.0", "0.10.0"]
    assert lines[0].split()[1] == str(wheels[1].stat().st_size)
    assert lines[0].endswith("borne-0.9.0-py3-none-any.whl")


def test_one_bad_wheel_keeps_the_whole_batch_out(run, make_wheel, tmp_path):
    good, bad = make_wheel("0.2.0"), make_wheel("0.3.0", metadata_version="0.3.1")

    result = run("agent-release", "add", str(good), str(bad))

    assert result.exit_code != 0
    assert "borne-0.3.0-py3-none-any.whl is not a wheel of borne" in result.output
    assert "METADATA says version '0.3.1'" in result.output
    assert not (tmp_path / "agent-releases").exists()


def test_no_release_yet_says_how_to_add_one(run):
    listed = run("agent-release", "list")

    assert listed.exit_code == 0
    assert "no release kept" in listed.output and "agent-release add" in listed.output
