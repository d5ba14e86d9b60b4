"""IPP to the PC's own cupsd over its Unix socket: the few bytes the agent needs, no new dependency.

Two requests use it: Purge-Jobs, which cancels the guest's print jobs at each reset
(:mod:`agent.pc.printing`), and CUPS-Get-Printers, which reads the printers' states for each
heartbeat (:mod:`agent.pc.printers`). The encoding is RFC 8010's: a request is a version, an
operation, a request id, then attribute groups of ``value-tag, name, value`` triples, where a
triple with an empty name is one more value of the attribute before it. Responses have the same
shape with a status code in place of the operation.

HTTP goes over the socket, not TCP: cupsd authenticates a local client by the socket's peer
credentials (``SO_PEERCRED``), so the agent running as root may act on any user's jobs, and
nothing listens on the network for it.
"""

from __future__ import annotations

import http.client
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CUPS_SOCKET = Path("/run/cups/cups.sock")

IPP_VERSION_2_0 = 0x0200
# Operations: RFC 8011's and CUPS' own (CUPS Implementation of IPP, "CUPS Operations").
OP_PURGE_JOBS = 0x0012
OP_CUPS_GET_PRINTERS = 0x4002
# Delimiter tags (attribute groups) and value tags, RFC 8010 3.5.
TAG_OPERATION_ATTRIBUTES = 0x01
TAG_END = 0x03
TAG_PRINTER_ATTRIBUTES = 0x04
TAG_INTEGER = 0x21
TAG_BOOLEAN = 0x22
TAG_ENUM = 0x23
TAG_TEXT = 0x41
TAG_NAME = 0x42
TAG_KEYWORD = 0x44
TAG_URI = 0x45
TAG_CHARSET = 0x47
TAG_LANGUAGE = 0x48
# Status codes: 0x0000-0x00FF are successes; CUPS answers CUPS-Get-Printers with this one when
# it has no printer at all.
STATUS_NOT_FOUND = 0x0406


class IppError(Exception):
    """The print server did not answer, or its answer is not IPP."""


@dataclass(frozen=True)
class Attribute:
    tag: int
    name: str
    values: Sequence[bytes]


@dataclass
class Response:
    status: int
    # One dict per attribute group, in order, with the group's delimiter tag: a printer per
    # ``TAG_PRINTER_ATTRIBUTES`` group in a CUPS-Get-Printers answer.
    groups: list[tuple[int, dict[str, list[tuple[int, bytes]]]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status < 0x0100

    def printer_groups(self) -> list[dict[str, list[tuple[int, bytes]]]]:
        return [values for tag, values in self.groups if tag == TAG_PRINTER_ATTRIBUTES]


def operation(op: int, attributes: Sequence[Attribute], request_id: int = 1) -> bytes:
    """A request of one operation-attributes group (charset and language come first)."""
    body = struct.pack(">HHI", IPP_VERSION_2_0, op, request_id) + bytes([TAG_OPERATION_ATTRIBUTES])
    body += attribute(TAG_CHARSET, "attributes-charset", b"utf-8")
    body += attribute(TAG_LANGUAGE, "attributes-natural-language", b"en")
    for item in attributes:
        first, *more = item.values
        body += attribute(item.tag, item.name, first)
        body += b"".join(attribute(item.tag, "", value) for value in more)
    return body + bytes([TAG_END])


def attribute(tag: int, name: str, value: bytes) -> bytes:
    encoded = name.encode("ascii")
    return (
        bytes([tag]) + struct.pack(">H", len(encoded)) + encoded + struct.pack(">H", len(value))
    ) + value


def parse_response(data: bytes) -> Response:
    """Split an IPP answer into its status and attribute groups; raises :class:`IppError` when
    it is cut short or malformed."""
    if len(data) < 9:
        raise IppError(f"an IPP answer of {len(data)} bytes")
    _version, status, _request_id = struct.unpack_from(">HHI", data)
    response = Response(status)
    group: dict[str, list[tuple[int, bytes]]] | None = None
    name = ""
    at = 8
    while at < len(data):
        tag = data[at]
        at += 1
        if tag == TAG_END:
            return response
        if tag < 0x10:  # a delimiter: a new group starts
            group = {}
            response.groups.append((tag, group))
            continue
        if group is None or at + 2 > len(data):
            break
        (name_length,) = struct.unpack_from(">H", data, at)
        at += 2
        new_name = data[at : at + name_length].decode("utf-8", errors="replace")
        at += name_length
        if at + 2 > len(data):
            break
        (value_length,) = struct.unpack_from(">H", data, at)
        at += 2
        value = data[at : at + value_length]
        at += value_length
        if len(value) != value_length:
            break
        if name_length:
            name = new_name
        group.setdefault(name, []).append((tag, value))
    raise IppError("the IPP answer is cut short")


def send(request: bytes, *, server: Path = CUPS_SOCKET, timeout_s: float) -> Response:
    """POST ``request`` to cupsd at ``server``, unauthenticated, and parse its answer.

    Raises :class:`IppError` on a refused, reset, timed-out or garbled exchange, or an HTTP
    refusal.
    """
    connection = LocalCups(server, timeout_s)
    try:
        connection.request("POST", "/", request, {"Content-Type": "application/ipp"})
        answer = connection.getresponse()
        body = answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise IppError(str(exc) or type(exc).__name__) from exc
    finally:
        connection.close()
    if answer.status != 200:
        raise IppError(f"HTTP {answer.status} {answer.reason}")
    return parse_response(body)


class LocalCups(http.client.HTTPConnection):
    """HTTP to cupsd over its Unix socket (the peer credentials are what authenticate root)."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self.socket_path = path
        self.timeout_s = timeout_s

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(str(self.socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock
