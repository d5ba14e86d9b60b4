"""The agent's wheelhouse: every wheel a host needs, gathered on the admin's machine.

Public places often have no internet for their PCs (a filtered library network, a hotspot not
yet up), so the host installs with ``pip install --no-index`` from wheels copied over SSH. This
module builds the project's wheel from its source tree (``pip wheel``, in a copy, so the
checkout gets no ``build/`` folder) and downloads its dependencies as binary wheels for the
*host's* Python and platform (``pip download --python-version … --platform …``: the admin may run
another Python, or a Mac). Both are cached under the admin's cache folder, keyed by a digest of
the source and by the host's target, so a batch of fifty PCs builds once and a second run of the
same source copies the same bytes — which is how the host sees that nothing changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from provisioning.errors import ProvisioningError

# What goes into the project's wheel (pyproject.toml's packages.find), and what does not.
SOURCE_FILES = ("pyproject.toml", "README.md")
SOURCE_PACKAGES = ("borne", "agent", "controller", "captive_portal", "provisioning")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
# The oldest glibc that manylinux wheels name (manylinux1).
OLDEST_GLIBC_MINOR = 5


@dataclass(frozen=True)
class Target:
    """A host's interpreter and platform, as wheel tags name them."""

    python: tuple[int, int]  # (3, 11)
    machine: str  # uname -m: x86_64, aarch64
    glibc: tuple[int, int]  # (2, 36)

    @property
    def tag(self) -> str:
        major, minor = self.python
        return f"cp{major}{minor}-{self.machine}-glibc{self.glibc[0]}.{self.glibc[1]}"

    def platforms(self) -> list[str]:
        """manylinux tags this host accepts, newest first (PEP 600, plus the legacy aliases)."""
        major, minor = self.glibc
        tags = [
            f"manylinux_{major}_{m}_{self.machine}"
            for m in range(minor, OLDEST_GLIBC_MINOR - 1, -1)
        ]
        legacy = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
        tags += [
            f"{name}_{self.machine}"
            for (ma, mi), name in legacy.items()
            if (ma, mi) <= (major, minor)
        ]
        return [*tags, f"linux_{self.machine}"]


@dataclass(frozen=True)
class Wheelhouse:
    """The wheels of one build for one target."""

    folder: Path
    wheels: tuple[Path, ...]

    def manifest(self) -> str:
        """One line per wheel, ``sha256 name``: what the host keeps to recognise this build."""
        lines = [f"{_sha256(wheel)} {wheel.name}" for wheel in self.wheels]
        return "\n".join(sorted(lines)) + "\n"


def _sha256(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def find_source_tree() -> Path | None:
    """The checkout this code runs from (a development or admin install), if it is one."""
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "borne"' in pyproject.read_text(errors="replace"):
        return root
    return None


def source_digest(root: Path) -> str:
    """A digest of every file that goes into the project's wheel: same digest, same wheel."""
    digest = hashlib.sha256()
    paths = [root / name for name in SOURCE_FILES]
    for package in SOURCE_PACKAGES:
        paths += [
            path
            for path in (root / package).rglob("*")
            if path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix != ".pyc"
            and not any(part.endswith(".egg-info") for part in path.parts)
        ]
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _pip(args: list[str], what: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise ProvisioningError(f"{what} failed:\n{(result.stdout + result.stderr)[-3000:]}")


class Wheelhouses:
    """Builds and caches a wheelhouse per target; safe to share between a batch's threads."""

    def __init__(self, cache_dir: Path, *, agent_wheel: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.agent_wheel = agent_wheel
        self._lock = threading.Lock()

    def project_wheel(self) -> Path:
        """The project's wheel: given, or built once per source digest."""
        if self.agent_wheel is not None:
            if not self.agent_wheel.is_file() or self.agent_wheel.suffix != ".whl":
                raise ProvisioningError(f"--agent-wheel {self.agent_wheel} is not a wheel file")
            return self.agent_wheel
        root = find_source_tree()
        if root is None:
            raise ProvisioningError(
                "borne is not installed from a source tree here: pass the agent's wheel with "
                "--agent-wheel (pip wheel --no-deps borne)"
            )
        folder = self.cache_dir / "project" / source_digest(root)[:20]
        built = sorted(folder.glob("borne-*.whl"))
        if built:
            return built[0]
        with tempfile.TemporaryDirectory(prefix="borne-wheel-") as tmp:
            copy = Path(tmp) / "src"
            copy.mkdir()
            for name in SOURCE_FILES:
                shutil.copy2(root / name, copy / name)
            for package in SOURCE_PACKAGES:
                shutil.copytree(root / package, copy / package, ignore=IGNORED)
            out = Path(tmp) / "out"
            _pip(
                ["wheel", "--no-deps", "--wheel-dir", str(out), str(copy)], "building borne's wheel"
            )
            _publish(out, folder)
        return sorted(folder.glob("borne-*.whl"))[0]

    def for_target(self, target: Target) -> Wheelhouse:
        """The project's wheel and its dependencies' wheels for ``target``."""
        with self._lock:
            project = self.project_wheel()
            folder = self.cache_dir / "wheelhouse" / target.tag / _sha256(project)[:20]
            if not (folder / "complete").exists():
                self._download(project, target, folder)
            wheels = tuple(sorted(folder.glob("*.whl")))
        return Wheelhouse(folder, wheels)

    def _download(self, project: Path, target: Target, folder: Path) -> None:
        major, minor = target.python
        with tempfile.TemporaryDirectory(prefix="borne-wheelhouse-", dir=self._tmp_parent()) as tmp:
            out = Path(tmp) / "wheels"
            platforms = [arg for tag in target.platforms() for arg in ("--platform", tag)]
            _pip(
                [
                    "download",
                    "--dest",
                    str(out),
                    "--only-binary=:all:",
                    "--implementation",
                    "cp",
                    "--python-version",
                    f"{major}.{minor}",
                    *platforms,
                    str(project),
                ],
                f"downloading the agent's dependencies for Python {major}.{minor} on "
                f"{target.machine} (glibc {target.glibc[0]}.{target.glibc[1]})",
            )
            (out / "complete").write_text(target.tag + "\n")
            _publish(out, folder)

    def _tmp_parent(self) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir


def _publish(built: Path, folder: Path) -> None:
    """Move a finished build into place in one rename: a killed build leaves nothing half-made."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(built, folder)
    except OSError:
        if not folder.exists():  # else another process published the same build first
            shutil.copytree(built, folder)
