"""A real SMTP server for a test (aiosmtpd, on 127.0.0.1), keeping what it receives.

It speaks plain SMTP, STARTTLS or TLS from the first byte with a certificate made for the test,
and may ask for a password, so the controller's mail is tested against a server that answers
as a city's relay would; ``stop()`` and ``start()`` again on the same port play an outage.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests import certificates
from tests.postgres import free_port


@dataclass
class Received:
    """One message as the server took it: the envelope, the parsed message, who signed in."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    signed_in_as: str | None = None


@dataclass
class Collector:
    """The server's handler: keeps each message, refuses the addresses in ``refuse`` as an
    unknown mailbox; ``hold`` makes DATA wait until it is set."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    hold: threading.Event | None = None
    in_data: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.in_data.set()
        if self.hold is not None:
            # Off the server's event loop: another client may connect meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30)
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.login_data if session.authenticated else None
        self.received.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                message,
                login.decode() if isinstance(login, bytes) else None,
            )
        )
        return "250 Message accepted for delivery"


class SMTPServer:
    """An aiosmtpd server on 127.0.0.1:``port``; ``users`` (name → password) makes it ask for
    a sign-in, ``certificate`` (cert and key files) offers STARTTLS, or TLS from the start
    with ``implicit_tls``."""

    def __init__(
        self,
        port: int | None = None,
        *,
        users: dict[str, str] | None = None,
        certificate: tuple[Path, Path] | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.handler = Collector()
        self.users = users
        self._kwargs: dict[str, Any] = {"server_hostname": "smtp.test"}
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
            if implicit_tls:
                self._kwargs["ssl_context"] = context
            else:
                self._kwargs.update(tls_context=context, require_starttls=True)
        if users is not None:
            # aiosmtpd counts only STARTTLS as TLS: over TLS from the start it must be told that
            # sign-in is safe, and it then refuses to require it (a warning); each message
            # says who signed in, for the test to check.
            self._kwargs.update(
                authenticator=self._authenticate,
                auth_required=not implicit_tls,
                auth_require_tls=not implicit_tls,
            )
        self._controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SMTPServer:
        self._controller = Controller(
            self.handler, hostname=self.host, port=self.port, **self._kwargs
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.users is not None
        # handled=False: the server answers 535 itself.
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        name, password = data.login.decode(), data.password.decode()
        return AuthResult(success=self.users.get(name) == password, handled=False, auth_data=data)


@contextmanager
def smtp_server(port: int | None = None, **options: Any) -> Iterator[SMTPServer]:
    """Yield a started :class:`SMTPServer` (same options), stopped at the end."""
    server = SMTPServer(port, **options).start()
    try:
        yield server
    finally:
        server.stop()


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for ``host`` (an address or a name) and its key."""
    return certificates.self_signed_certificate(directory, host, stem="smtp")
