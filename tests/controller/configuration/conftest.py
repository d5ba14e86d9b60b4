"""Fixtures of the configuration tests: an agent's answer to the settings it was sent, and
wheels of borne for the releases the controller serves."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from agent.protocol import AgentRelease, CommandResult
from controller.commands import service as commands
from controller.commands.models import Command
from controller.config import ControllerSettings, load_controller_settings
from controller.configuration import releases
from controller.db import utcnow


@pytest.fixture
def answer(db: Session) -> Callable[..., Command]:
    """The device of ``command`` claims and runs it, and says ``ok`` (or why not)."""

    def run(command: Command, ok: bool = True, output: str = "applied") -> Command:
        assert commands.claim(db, command.runner_id, command.id).ok
        result = CommandResult(
            seq=1, at=utcnow(), command_id=command.id, ok=ok, output=output, duration_ms=3
        )
        done = commands.record_result(db, command.runner_id, result)
        assert done is not None
        return done

    return run


@pytest.fixture
def make_wheel(tmp_path: Path) -> Callable[..., Path]:
    """A small file built like a wheel of borne (a zip with its dist-info and the agent
    package), in a folder of its own under ``tmp_path``; each part can be made wrong."""
    built = tmp_path / "built"

    def make(
        version: str = "0.2.0",
        *,
        filename: str | None = None,
        metadata_version: str | None = None,
        metadata_name: str = "borne",
        agent_package: bool = True,
        dist_info: bool = True,
        payload: str = "",
    ) -> Path:
        built.mkdir(exist_ok=True)
        path = built / (filename or f"borne-{version}-py3-none-any.whl")
        with zipfile.ZipFile(path, "w") as archive:
            if agent_package:
                archive.writestr("agent/__init__.py", f'"""borne {version}"""\n{payload}')
            archive.writestr("controller/__init__.py", "")
            if dist_info:
                archive.writestr(
                    f"borne-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {metadata_name}\n"
                    f"Version: {metadata_version or version}\nSummary: borne\n",
                )
                archive.writestr(
                    f"borne-{version}.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
                )
        return path

    return make


@pytest.fixture
def releases_dir(tmp_path: Path) -> Path:
    return tmp_path / "agent-releases"


@pytest.fixture
def settings(tmp_path: Path) -> ControllerSettings:
    """The controller's settings, its wheels kept in ``releases_dir``."""
    return load_controller_settings(
        env={}, overrides={"data_dir": str(tmp_path), "heartbeat_interval_s": 10}
    )


@pytest.fixture
def release(make_wheel: Callable[..., Path], releases_dir: Path) -> Callable[[str], AgentRelease]:
    """Keep a wheel of borne ``version`` where the controller serves them."""

    def keep(version: str) -> AgentRelease:
        return releases.add(releases_dir, make_wheel(version)).release

    return keep
