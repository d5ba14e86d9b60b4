"""E-mail to staff through an outbox: queued with the event it tells, sent by a periodic job.

A mail is written in the transaction of its event (a ticket opened, solved), so it exists if and
only if the event was committed, and no request ever waits for an SMTP server. Its ``key`` names
the event ("ticket 12 new") and is unique: a page refreshed, a job run twice or two processes at
the same moment queue it once.

Delivery is at least once, never twice for a mail marked sent: each mail is marked in its own
commit as soon as the server took it. A crash between the two sends it again at the next run,
with the same Message-ID, by which some mail clients (Gmail) show it once. A mail the server
refuses or cannot take is tried again 1, 2, 4 … minutes later, then hourly, on a schedule
counted from when it was queued, and given up after ``MAX_ATTEMPTS`` (about a day) with its
last error kept.

Several processes (PostgreSQL): a mail is sent with its row locked (``FOR UPDATE SKIP
LOCKED``), so another process passes it by instead of sending it too. SQLite serves one process,
whose periodic jobs run one at a time; its single write lock is not held while a server answers.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from types import TracebackType
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import String, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller.config import ControllerSettings
from controller.context import database_of, settings_of
from controller.db import Database, utcnow, write_transaction
from controller.maintenance.models import Mail

log = logging.getLogger(__name__)

SMTP_TIMEOUT_S = 20  # per connection and per reply: a server that hangs stops one run, not more
BATCH = 100  # mails at most per run; the rest go at the next
MAX_ATTEMPTS = 30
RETRY_FIRST = timedelta(minutes=1)
RETRY_LONGEST = timedelta(hours=1)
USUAL_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


def _length(column: str) -> int:
    """The length of one of the outbox's text columns: what is written must fit."""
    kind = Mail.__table__.c[column].type
    assert isinstance(kind, String) and kind.length is not None
    return kind.length


KEY_LENGTH, SUBJECT_LENGTH, ERROR_LENGTH = _length("key"), _length("subject"), _length("last_error")
# The app's flag: the log has said that mails wait for smtp_host.
TOLD_NOT_CONFIGURED = "borne.mail.told_not_configured"


def enqueue(
    session: Session, key: str, recipients: Iterable[str], subject: str, body: str
) -> Mail | None:
    """Queue a mail in ``session``'s transaction, once per ``key``; return it, or None.

    None when ``key`` is already queued, by this transaction or another one (a savepoint takes
    the unique key's refusal when another process won the race), or when ``recipients`` names
    nobody a mail can reach: one that is not an address is left out with a warning in the log,
    so that an odd address in an account never stops the event itself. Call it in the
    transaction of the event it tells, so that both commit or neither; with SQLite that
    transaction begins with ``write_transaction``, as every request that changes something
    does. The subject is made one line. Raises ValueError for an empty or too long key.
    """
    if not key or len(key) > KEY_LENGTH:
        raise ValueError(f"a mail's key must have 1 to {KEY_LENGTH} characters, got {key!r}")
    addresses = _addresses(recipients)
    if not addresses:
        return None
    if session.scalar(select(Mail.id).where(Mail.key == key)) is not None:
        return None
    mail = Mail(
        key=key,
        recipients=addresses,
        subject=" ".join(subject.split())[:SUBJECT_LENGTH],
        body=body,
    )
    try:
        with session.begin_nested():
            session.add(mail)
    except IntegrityError:
        return None  # another transaction queued this key between our look and our insert
    return mail


def _addresses(recipients: Iterable[str]) -> list[str]:
    """The recipients that are addresses, without blanks and repeats."""
    addresses: list[str] = []
    for text in recipients:
        address = text.strip()
        if not address or address.lower() in (a.lower() for a in addresses):
            continue
        if is_mail_address(address):
            addresses.append(address)
        else:
            log.warning("mail: %r is not an e-mail address, left out", address)
    return addresses


def is_mail_address(text: str) -> bool:
    """Whether ``text`` is one address (user@domain) a mail can go to. ASCII only: a server
    without SMTPUTF8 would refuse the whole mail (a domain in another script: in punycode)."""
    try:
        parsed = Address(addr_spec=text)
    except (ValueError, IndexError, MessageError):  # the parser's ways of saying no
        return False
    return bool(parsed.username and parsed.domain) and text.isascii()


def due_at(created_at: datetime, attempts: int) -> datetime:
    """When a mail tried ``attempts`` times is tried again: at once, then 1, 2, 4 … minutes
    after the previous slot, at most an hour apart, counted from when it was queued."""
    wait, step = timedelta(0), RETRY_FIRST
    for _ in range(attempts):
        wait += min(step, RETRY_LONGEST)
        step *= 2
    return created_at + wait


def send_pending(database: Database, settings: ControllerSettings, now: datetime) -> int:
    """Send the mails due at ``now`` over one connection; return how many the server took.

    Without ``smtp_host`` nothing is sent and nothing counted: mails wait. A server that cannot
    be reached fails every due mail of the run with its error (each one counted as tried).
    """
    if not settings.smtp_host:
        return 0
    with database.sessions() as session:
        waiting = session.execute(
            select(Mail.id, Mail.attempts, Mail.created_at)
            .where(Mail.sent_at.is_(None), Mail.attempts < MAX_ATTEMPTS)
            .order_by(Mail.id)
        ).all()
    due = [
        (id_, attempts) for id_, attempts, created in waiting if due_at(created, attempts) <= now
    ]
    sent = 0
    if due:
        with SMTPConnection(settings) as server:
            for mail_id, attempts in due[:BATCH]:
                sent += _send_one(database, server, settings, mail_id, attempts, now)
    return sent


def _send_one(
    database: Database,
    server: SMTPConnection,
    settings: ControllerSettings,
    mail_id: int,
    attempts: int,
    now: datetime,
) -> bool:
    """Send one mail and record the outcome in its own commit; False if another process sent
    or tried it since it was listed."""
    with database.sessions() as session:
        mail = session.scalars(
            select(Mail)
            .where(Mail.id == mail_id, Mail.sent_at.is_(None), Mail.attempts == attempts)
            .with_for_update(skip_locked=True)  # not emitted for SQLite
        ).first()
        if mail is None:
            return False
        holds_lock = session.get_bind().dialect.name != "sqlite"
        if not holds_lock:
            session.commit()  # end the read: SQLite's one write lock waits for the server's reply
        try:
            message = message_of(mail, settings)
        except (ValueError, TypeError) as exc:  # a row written by other means than enqueue
            outcome = Outcome(False, f"cannot be written: {exc}")
        else:
            outcome = server.send(message, mail.recipients)
        if not holds_lock:
            write_transaction(session)
        mail.attempts += 1
        mail.last_error = outcome.error[:ERROR_LENGTH]
        if outcome.sent:
            mail.sent_at = now
            log.info("mail %r sent", mail.key)
        elif mail.attempts >= MAX_ATTEMPTS:
            log.error(
                "mail %r given up after %d attempts: %s", mail.key, mail.attempts, outcome.error
            )
        else:
            log.warning(
                "mail %r not sent (attempt %d, next after %s): %s",
                mail.key,
                mail.attempts,
                due_at(mail.created_at, mail.attempts).isoformat(timespec="seconds"),
                outcome.error,
            )
        session.commit()
        return outcome.sent


def message_of(mail: Mail, settings: ControllerSettings) -> EmailMessage:
    """The message as it goes out: UTF-8 in quoted-printable, which every server takes, and
    marked automatic so that out-of-office replies and filters leave it alone."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(mail.recipients)
    message["Subject"] = mail.subject
    # When the event happened, in the city's time; the same in every resend of the mail.
    message["Date"] = format_datetime(mail.created_at.astimezone(ZoneInfo(settings.timezone)))
    message["Message-ID"] = message_id(mail, settings)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic reply to it
    message["X-Auto-Response-Suppress"] = "All"  # the same, in Microsoft Exchange's words
    message.set_content(mail.body, charset="utf-8", cte="quoted-printable")
    return message


def message_id(mail: Mail, settings: ControllerSettings) -> str:
    """The same for every sending of ``mail``, unique to it, at the controller's domain."""
    seed = f"{mail.id} {mail.key} {mail.created_at.isoformat()}".encode()
    return f"<{hashlib.sha256(seed).hexdigest()[:32]}@{controller_domain(settings)}>"


def controller_domain(settings: ControllerSettings) -> str:
    """The controller's domain: that of ``public_url``, else that of ``mail_from``."""
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return host or parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class Outcome:
    """What the server did with one mail: took it (``error`` may name recipients it refused
    while it took the others), or not, and why."""

    sent: bool
    error: str = ""


class SMTPConnection:
    """The SMTP connection of one run, opened at its first mail and closed at the end.

    Once the server cannot be reached (refused, timed out, TLS or sign-in failed), each further
    mail of the run fails at once with the same error rather than waiting for it again.
    """

    def __init__(self, settings: ControllerSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._unreachable = ""

    def __enter__(self) -> SMTPConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: EmailMessage, recipients: list[str]) -> Outcome:
        """Hand ``message`` to the server for ``recipients``; never raises for the server."""
        if self._unreachable:
            return Outcome(False, self._unreachable)
        try:
            if self._smtp is None:
                self._smtp = connect(self.settings)
            refused = self._smtp.send_message(message, to_addrs=recipients)
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError,
        ) as exc:
            return Outcome(False, _describe(exc))  # this mail only: the connection goes on
        except (OSError, smtplib.SMTPException) as exc:
            self._unreachable = _describe(exc)
            self.close()
            return Outcome(False, self._unreachable)
        if refused:
            return Outcome(True, "refused: " + _describe(smtplib.SMTPRecipientsRefused(refused)))
        return Outcome(True)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def connect(settings: ControllerSettings) -> smtplib.SMTP:
    """Connect to the configured server: TLS and sign-in as configured, the certificate
    checked against the system's authorities (the ``SSL_CERT_FILE`` bundle if set)."""
    host, security = settings.smtp_host, settings.smtp_security
    port = settings.smtp_port or USUAL_PORTS[security]
    # EHLO with the controller's public name; without one, smtplib asks the system's.
    helo = urlsplit(settings.public_url).hostname if settings.public_url else None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(
            host, port, local_hostname=helo, timeout=SMTP_TIMEOUT_S, context=context
        )
    else:
        smtp = smtplib.SMTP(host, port, local_hostname=helo, timeout=SMTP_TIMEOUT_S)
    try:
        if security == "starttls":
            # Raises SMTPNotSupportedError when not offered: never fall back to plain text.
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _describe(exc: BaseException) -> str:
    """One line for ``last_error`` and the log: the server's code and words when it answered."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {_text(reply)}" for address, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def prune_outbox(session: Session, older_than: timedelta, now: datetime) -> int:
    """Forget mails sent, or given up on, before ``now - older_than``; return how many went.

    A mail still to send is kept whatever its age: it waits for an SMTP server. Its ``key`` goes
    with it, which is safe: the events a key names ("ticket 12 new") do not happen twice."""
    cutoff = now - older_than
    result = session.execute(
        delete(Mail).where(
            or_(
                Mail.sent_at < cutoff,
                and_(
                    Mail.sent_at.is_(None),
                    Mail.attempts >= MAX_ATTEMPTS,
                    Mail.created_at < cutoff,
                ),
            )
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune_outbox_job(app: Flask) -> None:
    """The periodic job: forget the outbox's old mails (``mail_retention_days``)."""
    days = settings_of(app).mail_retention_days
    with database_of(app).session() as session:
        gone = prune_outbox(session, timedelta(days=days), utcnow())
    if gone:
        log.info("forgot %d e-mails of the outbox older than %d days", gone, days)


def mail_job(app: Flask) -> None:
    """The periodic job: send what is due; without ``smtp_host``, say once that mails wait."""
    settings, database = settings_of(app), database_of(app)
    if settings.smtp_host:
        send_pending(database, settings, utcnow())
        return
    if app.extensions.get(TOLD_NOT_CONFIGURED):
        return
    with database.session(writes=False) as session:
        waiting = session.scalar(
            select(func.count()).select_from(Mail).where(Mail.sent_at.is_(None))
        )
    if waiting:
        log.warning(
            "%d e-mail(s) wait in the outbox: set smtp_host (README, Configuration) to send them",
            waiting,
        )
        app.extensions[TOLD_NOT_CONFIGURED] = True
