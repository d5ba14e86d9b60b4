"""Nothing a resident chose leaves a public PC: every string the agent sends or logs is redacted.

What a resident names on a public PC is theirs: file and folder names (``releve-CAF-Mme-X.pdf``),
a USB stick's label (it shows in ``/media/<guest>/<label>``), a Wi-Fi network's name, a print
job's title. Staff need to know *where* something was left and *why* (``/home/…/Documents/….pdf:
Operation not permitted``), never *what*. Such names reach our strings in two shapes, which is all
this module looks for:

* absolute paths, unquoted (``unmounted /media/guest/CLÉ de Mme X``, ``the wipe left /home/…``),
  in a URI (``file:///home/…``) or home-relative (``~/Documents/…``);
* quoted text: an exception's ``str()`` quotes its file names
  (``[Errno 1] Operation not permitted: '/home/guest/releve-CAF.pdf'``), and so does ``%r``.

A name our code writes bare, neither quoted nor as a path, cannot be told from our own words: code
that names something of the resident must quote it or give its path.

It is applied where strings leave the device, once for everything, on devices whose roles say
residents use them (``redacts_residents``: a public PC): :class:`RedactingSpool` redacts every
event as it is spooled (wipe reports, command results, heartbeats, inventories), so a string added
later cannot go round it; :class:`RedactedLogs` redacts every log record before a handler writes
it, so the journal ``collect_logs`` ships (and keeps on the PC) holds none either.
"""

from __future__ import annotations

import enum
import logging
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec

from agent.protocol import AgentEvent
from agent.spool import Spool

# Path components that say where something is without saying anything of the resident: the
# well-known folders of a home, and the system's own directories (a technician reads
# ``/var/lib/borne-agent`` or ``/etc/NetworkManager/system-connections/….nmconnection``).
_PLAIN_NAMES = frozenset(
    {
        "home", "tmp", "var", "dev", "shm", "run", "user", "media", "mnt", "~",
        "Documents", "Downloads", "Desktop", "Pictures", "Music", "Videos", "Public",
        "Templates", "Bureau", "Téléchargements", "Images", "Musique", "Vidéos",
        ".cache", ".config", ".local", ".mozilla", "share", "Trash", "files", "keyrings",
        "thumbnails", "chromium", "google-chrome", "firefox", "Default",
        "etc", "usr", "bin", "sbin", "lib", "lib64", "opt", "srv", "boot", "efi", "proc", "sys",
        "log", "cache", "spool", "cups", "cron", "crontabs", "mqueue", "apt", "systemd",
        "NetworkManager", "system-connections", "borne-agent", "python3", "dist-packages",
        "site-packages", "mapper", "by-uuid", "by-label",
    }
)  # fmt: skip
# Numbers (a uid in /run/user/1001, a pid in /proc) and the kernel's disk names (an inventory's
# /dev/sda1) are the machine's, not the resident's.
_PLAIN_PATTERN = re.compile(
    r"\d+|sd[a-z]+\d*|vd[a-z]+\d*|nvme\d+n\d+(?:p\d+)?|mmcblk\d+(?:p\d+)?|sr\d+|dm-\d+|loop\d+"
)
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")
HIDDEN = "…"

# Where a resident's files live: a traceback's code file there is theirs (a script they ran),
# anywhere else it is the agent's or Python's and is shown whole, so tracebacks stay useful.
_RESIDENT_AREAS = (
    *("/home/", "/run/user/", "/media/", "/mnt/"),
    *("/tmp/", "/var/tmp/", "/dev/shm/"),  # noqa: S108 - names to compare, no file is made
)

_FREE_TEXT = re.compile(
    # A traceback's code location: ``File "/usr/lib/python3/dist-packages/agent/x.py", line 3``.
    r'(?P<code_lead>File ")(?P<code>/[^"\n]*\.py)(?=", line \d)'
    # Quoted text, bytes literals too. An apostrophe inside a word (``guest's``, ``l'avis``)
    # neither opens nor closes a quotation; one left open (a text cut short) runs to the line's end.
    r"""|(?<!\w)(?P<quote_lead>b?(?P<q>['"]))(?P<quoted>(?:\\.|(?!(?P=q)(?!\w))[^\\\n])*)"""
    r"(?P<quote_end>(?P=q)(?!\w)|(?=\n)|$)"
    # An absolute path: a slash not inside a word (``GNU/Linux``, ``+i/+a``) nor a URL's
    # (``https://``), to the end of the line or a quote. Names hold spaces, so it stops only before
    # ``: `` (between a path and why, in Python's messages and ours) and our ``(busy: …)`` notes.
    r"|(?<![\w.\-+/~])(?P<path_lead>(?:file://)?)"
    r"""(?P<path>~?/[^\s/'"](?:(?!: | \(\w+: )[^'"\n])*)"""
)


def redacted(path: str) -> str:
    """A path as the controller gets it: where, never what.

    A resident's file and folder names (``releve-CAF-Mme-X.pdf``) would tell staff what the
    resident did; the controller gets ``/home/…/Documents/….pdf``. The full path stays on the PC
    (``last-wipe.json``, root-only) for the technician at the terminal.
    """
    parts = path.split("/")
    shown = [part if _plain(part) else HIDDEN for part in parts]
    extension = _EXTENSION.search(parts[-1]) if parts else None
    if shown and shown[-1] == HIDDEN and extension:
        shown[-1] = HIDDEN + extension.group()
    return "/".join(shown)


def _plain(part: str) -> bool:
    return part == "" or part in _PLAIN_NAMES or _PLAIN_PATTERN.fullmatch(part) is not None


def redacted_text(text: str) -> str:
    """``text`` with every path in it :func:`redacted` and every quoted name hidden.

    ``[Errno 1] Operation not permitted: '/home/guest/releve-CAF.pdf'`` becomes ``[Errno 1]
    Operation not permitted: '/home/…/….pdf'``: the errno and its words stay, so do the area and
    the kind of file. Never longer than ``text``, so bounded fields stay within their bounds.
    """
    return _FREE_TEXT.sub(_redacted_match, text)


def _redacted_match(match: re.Match[str]) -> str:
    if match["code"] is not None:
        code = match["code"]
        shown = redacted(code) if code.startswith(_RESIDENT_AREAS) else code
        return match["code_lead"] + shown
    if match["quoted"] is not None:
        quoted = match["quoted"]
        is_path = quoted.startswith(("/", "~/", "file:///"))
        shown = _redacted_uri(quoted) if is_path else HIDDEN
        return f"{match['quote_lead']}{shown}{match['quote_end']}"
    return match["path_lead"] + redacted(match["path"])


def _redacted_uri(text: str) -> str:
    scheme = "file://" if text.startswith("file://") else ""
    return scheme + redacted(text.removeprefix(scheme))


def redacted_exception(exc: BaseException) -> str:
    """A traceback as a log shows it, without the resident's names its messages quote.

    The code locations (``File "…/agent/pc/wipe.py", line 3``) stay whole for the technician.
    """
    return redacted_text("".join(traceback.format_exception(exc)).rstrip("\n"))


# -- the events ----------------------------------------------------------------------------------

Value = TypeVar("Value")


def redacted_event(event: AgentEvent) -> AgentEvent:
    """The event with every string in it redacted (:func:`redacted_text`), however deep."""
    redacted_one: AgentEvent = _redacted_value(event)
    return redacted_one


def _redacted_value(value: Value) -> Value:
    # Every field, so a field added to the wire schema later is covered without a word here.
    # Enums are the schema's own words (``ended_by``), never a resident's.
    result: Any = value
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        result = redacted_text(value)
    elif isinstance(value, msgspec.Struct):
        fields = {name: _redacted_value(getattr(value, name)) for name in value.__struct_fields__}
        result = msgspec.structs.replace(value, **fields)
    elif isinstance(value, list):
        result = [_redacted_value(item) for item in value]
    elif isinstance(value, dict):
        result = {key: _redacted_value(item) for key, item in value.items()}
    return result  # type: ignore[no-any-return]


class RedactingSpool(Spool):
    """A public PC's spool: each event is redacted before it is stored, so neither the spool on
    the PC nor the controller ever holds a resident's names."""

    def append(self, build: Callable[[int], AgentEvent]) -> AgentEvent:
        return super().append(lambda seq: redacted_event(build(seq)))


# -- the agent's own logs ------------------------------------------------------------------------


class RedactedLogs(logging.Filter):
    """A handler filter that redacts a record's message, arguments and traceback in place.

    In place, so every handler after it writes the redacted record too; redacting twice changes
    nothing. The traceback is formatted here and kept as ``exc_text`` (which formatters print as
    it is), the exception itself dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: logging would print them raw in its error report
            message = f"{record.msg} (arguments that do not fit the message)"
        record.msg, record.args = redacted_text(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redacted_exception(record.exc_info[1])
        elif record.exc_text:
            record.exc_text = redacted_text(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redacted_text(record.stack_info)
        return True


def redact_logs(handlers: Iterable[logging.Handler]) -> Callable[[], None]:
    """Put :class:`RedactedLogs` on ``handlers``; return what takes it off again."""
    chosen = list(handlers)
    redaction = RedactedLogs()
    for handler in chosen:
        handler.addFilter(redaction)

    def undo() -> None:
        for handler in chosen:
            handler.removeFilter(redaction)

    return undo
