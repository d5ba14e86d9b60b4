"""The releases of borne the controller serves its agents: wheels kept in one folder
(``agent_releases_dir``), added by ``borne controller agent-release add`` and named by the layered
setting ``agent_version``.

A wheel is checked before it is kept: its file name (``borne-<version>-py3-none-any.whl``), a zip
whose ``borne-<version>.dist-info/METADATA`` says the same version, and the ``agent`` package in
it; an agent installs whatever it is served into its own environment and runs it as root, so a
file that merely ends in ``.whl`` is not enough. A release is never replaced: a different file
under a version already kept is refused (the devices that installed the first one would not run
what the controller says they run). Files arrive whole (copied beside, then renamed), and each
wheel's SHA-256, which agents check after downloading, is computed once and kept beside it in
``<wheel>.sha256``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from packaging.version import Version

from agent.protocol import AGENT_VERSION_PATTERN, AgentRelease
from controller.errors import Conflict, DomainError, NotFound
from controller.i18n import _

WHEEL_NAME = re.compile(r"^borne-(?P<version>[^-]+)-py3-none-any\.whl$")
_VERSION = re.compile(AGENT_VERSION_PATTERN)
MAX_VERSION_LENGTH = 32  # agent/protocol.py AgentVersion
# A wheel's METADATA is a few kilobytes; a larger one is not read (a zip can claim any size).
MAX_METADATA_BYTES = 1 << 20
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Added:
    release: AgentRelease
    unchanged: bool  # the same file was already kept under this version


@dataclass(frozen=True)
class Candidate:
    """A wheel checked and ready to be kept."""

    source: Path
    version: str
    filename: str
    sha256: str
    size: int


def check(folder: Path, wheel: Path) -> Candidate:
    """``wheel`` checked as a release of borne that ``folder`` may keep; refused naming why."""
    if not wheel.is_file():
        raise DomainError(_("no file at %(path)s", path=wheel), code="no_wheel", status=422)
    found = WHEEL_NAME.match(wheel.name)
    if found is None:
        raise DomainError(
            _(
                "%(name)s is not a wheel of borne: its name must be "
                "borne-<version>-py3-none-any.whl",
                name=wheel.name,
            ),
            code="bad_wheel",
            status=422,
        )
    version = found["version"]
    if not is_agent_version(version):
        raise DomainError(
            _(
                "%(name)s: version %(version)s is not one agents accept (such as 0.2.0, "
                "1.0.1 or 1.1.0rc1)",
                name=wheel.name,
                version=version,
            ),
            code="bad_wheel",
            status=422,
        )
    _check_contents(wheel, version)
    digest, size = _digest(wheel)
    kept = folder / wheel.name
    if kept.exists() and sha256_of(kept) != digest:
        raise Conflict(
            _(
                "a different wheel of borne %(version)s is already kept: a release is never "
                "replaced (devices run the first one); build the new one with a new version",
                version=version,
            ),
            code="release_exists",
        )
    return Candidate(wheel, version, wheel.name, digest, size)


def store(folder: Path, candidate: Candidate) -> Added:
    """Keep a checked wheel in ``folder``: copied beside, then renamed, so that an agent never
    downloads half a file; its SHA-256 file is written first."""
    kept = folder / candidate.filename
    release = AgentRelease(
        version=candidate.version,
        filename=candidate.filename,
        sha256=candidate.sha256,
        size=candidate.size,
    )
    if kept.exists():
        return Added(release, unchanged=True)  # check() found the same bytes there
    folder.mkdir(parents=True, exist_ok=True)
    _write_whole(folder, kept.name + ".sha256", f"{candidate.sha256}  {candidate.filename}\n")
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".incoming-", delete=False) as tmp:
        try:
            with candidate.source.open("rb") as source:
                shutil.copyfileobj(source, tmp, _CHUNK)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, kept)
    if sha256_of(kept) != candidate.sha256:  # changed between the check and the copy
        kept.unlink()
        raise DomainError(
            _("%(name)s changed while it was being copied: add it again", name=kept.name),
            code="bad_wheel",
            status=422,
        )
    return Added(release, unchanged=False)


def add(folder: Path, wheel: Path) -> Added:
    """Check ``wheel`` and keep it in ``folder`` (nothing is kept when it is refused)."""
    return store(folder, check(folder, wheel))


def list_releases(folder: Path) -> list[AgentRelease]:
    """The releases kept in ``folder``, oldest version first (PEP 440 order)."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        name = WHEEL_NAME.match(path.name)
        if name is None or not is_agent_version(name["version"]) or not path.is_file():
            continue
        found.append(_release(path, name["version"]))
    return sorted(found, key=lambda release: Version(release.version))


def versions(folder: Path) -> list[str]:
    return [release.version for release in list_releases(folder)]


def find(folder: Path, version: str) -> AgentRelease:
    """The release ``version``, or NotFound saying which ones the controller has."""
    if is_agent_version(version):
        path = folder / wheel_name(version)
        if path.is_file():
            return _release(path, version)
    raise NotFound(_missing(folder, version), code="no_release")


def require(folder: Path, version: str) -> AgentRelease:
    """``version`` must be kept before a layer may name it: a 422 otherwise (not a 404, the
    request's target exists; the value in it is refused)."""
    try:
        return find(folder, version)
    except NotFound as exc:
        raise DomainError(exc.message, code="unknown_release", status=422) from None


def wheel_path(folder: Path, release: AgentRelease) -> Path:
    return folder / release.filename


def added_on(folder: Path, release: AgentRelease) -> datetime:
    """When the wheel was kept (its file's time: it is never replaced)."""
    return datetime.fromtimestamp(wheel_path(folder, release).stat().st_mtime, UTC)


def wheel_name(version: str) -> str:
    return f"borne-{version}-py3-none-any.whl"


def is_agent_version(text: str) -> bool:
    return len(text) <= MAX_VERSION_LENGTH and _VERSION.match(text) is not None


def same_version(a: str, b: str) -> bool:
    """Whether two versions are one release ("0.2" is "0.2.0"); plain text otherwise."""
    if is_agent_version(a) and is_agent_version(b):
        return Version(a) == Version(b)
    return a == b


def sha256_of(path: Path) -> str:
    """The wheel's SHA-256, from the file kept beside it or computed once and kept there."""
    cached = path.with_name(path.name + ".sha256")
    try:
        digest = cached.read_text(encoding="ascii").split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        digest = ""
    if re.fullmatch(r"[0-9a-f]{64}", digest):
        return digest
    digest, _size = _digest(path)
    # A folder the controller may only read: computed again next time.
    with contextlib.suppress(OSError):
        _write_whole(path.parent, cached.name, f"{digest}  {path.name}\n")
    return digest


def _release(path: Path, version: str) -> AgentRelease:
    return AgentRelease(
        version=version, filename=path.name, sha256=sha256_of(path), size=path.stat().st_size
    )


def _missing(folder: Path, version: str) -> str:
    kept = versions(folder)
    if kept:
        return _(
            "the controller has no wheel of borne %(version)s (it has %(kept)s): add one with "
            "'borne controller agent-release add borne-%(version)s-py3-none-any.whl'",
            version=version,
            kept=", ".join(kept),
        )
    return _(
        "the controller has no wheel of borne %(version)s (it has none yet): add one with "
        "'borne controller agent-release add borne-%(version)s-py3-none-any.whl'",
        version=version,
    )


def _check_contents(wheel: Path, version: str) -> None:
    metadata_name = f"borne-{version}.dist-info/METADATA"
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
            if metadata_name not in names:
                raise _bad(wheel, _("it has no %(file)s", file=metadata_name))
            if "agent/__init__.py" not in names:
                raise _bad(wheel, _("it does not hold the agent package (agent/__init__.py)"))
            info = archive.getinfo(metadata_name)
            if info.file_size > MAX_METADATA_BYTES:
                raise _bad(wheel, _("its %(file)s is too large", file=metadata_name))
            metadata = BytesHeaderParser().parsebytes(archive.read(info))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError):
        raise _bad(wheel, _("it is not a zip archive (a wheel is one)")) from None
    name, said = metadata.get("Name", ""), metadata.get("Version", "")
    if name.strip().lower() != "borne":
        raise _bad(wheel, _("its METADATA names %(name)s, not borne", name=repr(name)))
    if said.strip() != version:
        raise _bad(
            wheel,
            _(
                "its METADATA says version %(said)s, its name %(version)s",
                said=repr(said),
                version=version,
            ),
        )


def _bad(wheel: Path, problem: str) -> DomainError:
    return DomainError(
        _("%(name)s is not a wheel of borne: %(problem)s", name=wheel.name, problem=problem),
        code="bad_wheel",
        status=422,
    )


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_whole(folder: Path, name: str, text: str) -> None:
    with tempfile.NamedTemporaryFile(
        "w", dir=folder, prefix=".incoming-", delete=False, encoding="ascii"
    ) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, folder / name)
