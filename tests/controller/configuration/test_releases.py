"""The releases of borne the controller serves its agents (controller/configuration/releases.py):
a wheel checked before it is kept, never replaced, listed in version order with its SHA-256."""

from __future__ import annotations

import hashlib
import re

import pytest

from borne.settings import ImproperlyConfigured
from controller.config import load_controller_settings
from controller.configuration import releases
from controller.errors import Conflict, DomainError, NotFound


def test_an_added_wheel_is_kept_whole_with_its_sha256_beside_it(make_wheel, releases_dir):
    wheel = make_wheel("0.2.0")

    added = releases.add(releases_dir, wheel)

    kept = releases_dir / "borne-0.2.0-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert not added.unchanged
    assert kept.read_bytes() == wheel.read_bytes()
    assert added.release.version == "0.2.0" and added.release.sha256 == digest
    assert added.release.size == wheel.stat().st_size
    assert (releases_dir / "borne-0.2.0-py3-none-any.whl.sha256").read_text().startswith(digest)
    assert sorted(p.name for p in releases_dir.iterdir()) == [
        "borne-0.2.0-py3-none-any.whl",
        "borne-0.2.0-py3-none-any.whl.sha256",
    ]  # nothing half-copied left beside


def test_releases_are_listed_in_version_order_not_text_order(release, releases_dir):
    for version in ("0.10.0", "0.2.0", "0.2.0rc1", "0.9.1"):
        release(version)

    assert releases.versions(releases_dir) == ["0.2.0rc1", "0.2.0", "0.9.1", "0.10.0"]


def test_no_folder_yet_is_no_release(tmp_path):
    assert releases.list_releases(tmp_path / "never-made") == []


def test_find_gives_the_release_or_says_which_ones_there_are(release, releases_dir):
    kept = release("0.2.0")

    assert releases.find(releases_dir, "0.2.0") == kept
    with pytest.raises(NotFound, match=r"no wheel of borne 0\.3\.0 \(it has 0\.2\.0\)"):
        releases.find(releases_dir, "0.3.0")
    with pytest.raises(NotFound, match="agent-release add"):
        releases.find(releases_dir, "../../etc/passwd")


def test_the_sha256_is_computed_once_and_then_read_from_its_file(make_wheel, releases_dir):
    releases_dir.mkdir()
    wheel = releases_dir / "borne-0.4.0-py3-none-any.whl"
    wheel.write_bytes(make_wheel("0.4.0").read_bytes())  # copied in by hand: no .sha256 yet

    first = releases.find(releases_dir, "0.4.0")
    cached = releases_dir / "borne-0.4.0-py3-none-any.whl.sha256"
    cached.write_text("a" * 64 + "  borne-0.4.0-py3-none-any.whl\n")
    second = releases.find(releases_dir, "0.4.0")

    assert first.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert second.sha256 == "a" * 64  # the file is believed: never computed twice


def test_the_same_wheel_again_is_unchanged(make_wheel, releases_dir):
    releases.add(releases_dir, make_wheel("0.2.0"))

    again = releases.add(releases_dir, make_wheel("0.2.0"))

    assert again.unchanged


def test_a_different_wheel_under_a_kept_version_is_refused(make_wheel, releases_dir):
    releases.add(releases_dir, make_wheel("0.2.0"))
    before = (releases_dir / "borne-0.2.0-py3-none-any.whl").read_bytes()

    with pytest.raises(Conflict, match=r"a different wheel of borne 0\.2\.0 is already kept"):
        releases.add(releases_dir, make_wheel("0.2.0", payload="changed = True\n"))

    assert (releases_dir / "borne-0.2.0-py3-none-any.whl").read_bytes() == before


@pytest.mark.parametrize(
    ("wheel", "says"),
    [
        ({"filename": "borne-0.2.0.tar.gz"}, "its name must be borne-<version>-py3-none-any.whl"),
        ({"filename": "other-0.2.0-py3-none-any.whl"}, "is not a wheel of borne"),
        ({"version": "0.2.0-beta"}, "is not a wheel of borne"),
        ({"version": "2024.1.1.1.1"}, "version 2024.1.1.1.1 is not one agents accept"),
        ({"metadata_version": "0.3.0"}, "its METADATA says version '0.3.0', its name 0.2.0"),
        ({"metadata_name": "borne-fork"}, "its METADATA names 'borne-fork', not borne"),
        ({"agent_package": False}, "it does not hold the agent package"),
        ({"dist_info": False}, "it has no borne-0.2.0.dist-info/METADATA"),
    ],
)
def test_a_bad_wheel_is_refused_naming_why_and_nothing_is_kept(
    make_wheel, releases_dir, wheel, says
):
    with pytest.raises(DomainError, match=re.escape(says)):
        releases.add(releases_dir, make_wheel(**wheel))

    assert releases.list_releases(releases_dir) == []


def test_a_file_that_is_not_a_zip_is_refused(tmp_path, releases_dir):
    fake = tmp_path / "borne-0.2.0-py3-none-any.whl"
    fake.write_text("#!/bin/sh\nrm -rf /\n")

    with pytest.raises(DomainError, match=r"it is not a zip archive \(a wheel is one\)"):
        releases.add(releases_dir, fake)
    with pytest.raises(DomainError, match="no file at"):
        releases.add(releases_dir, tmp_path / "borne-0.9.0-py3-none-any.whl")

    assert not releases_dir.exists()


def test_versions_are_compared_as_releases():
    assert releases.same_version("0.2", "0.2.0")
    assert not releases.same_version("0.2.0", "0.2.1")
    assert not releases.same_version("0.2.0", "")


def test_the_releases_folder_is_beside_the_data_unless_set(tmp_path):
    default = load_controller_settings(env={"BORNE_DATA_DIR": str(tmp_path)})
    chosen = load_controller_settings(env={"BORNE_AGENT_RELEASES_DIR": str(tmp_path / "wheels")})

    assert default.releases_dir == tmp_path / "agent-releases"
    assert chosen.releases_dir == tmp_path / "wheels"


@pytest.mark.parametrize("value", ["wheels", "{file}"])
def test_a_releases_folder_that_cannot_be_one_stops_the_start_naming_it(tmp_path, value):
    a_file = tmp_path / "a-file"
    a_file.write_text("")

    with pytest.raises(ImproperlyConfigured, match="setting agent_releases_dir must be"):
        load_controller_settings(env={"BORNE_AGENT_RELEASES_DIR": value.format(file=a_file)})
