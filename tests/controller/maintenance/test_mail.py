"""Staff e-mail through the outbox (controller/maintenance/mail.py), against a real SMTP server
(aiosmtpd on 127.0.0.1): one mail per event, accents intact, kept and retried while the server
is away, given up after a day, TLS and sign-in as a city's relay asks, once with two processes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from borne.settings import ImproperlyConfigured
from controller import migrate
from controller.config import ControllerSettings, load_controller_settings
from controller.context import database_of, settings_of
from controller.db import Database, utcnow, write_transaction
from controller.maintenance import mail
from controller.maintenance.models import Mail
from tests.polling import wait_for
from tests.postgres import create_database, free_port
from tests.smtp_server import SMTPServer, self_signed_certificate, smtp_server

TEAM = "atelier@ville.example"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with smtp_server() as server:
        yield server


def mailing_app(make_app: Any, server: SMTPServer | int, **settings: Any) -> Flask:
    """An app that sends through ``server`` (or to that port on 127.0.0.1)."""
    port = server if isinstance(server, int) else server.port
    app: Flask = make_app(smtp_host="127.0.0.1", smtp_port=port, **settings)
    return app


def queue(db: Session, key: str = "ticket 12 new", **overrides: Any) -> Mail:
    """Queue a mail with defaults filled in and commit it, as the event's transaction would."""
    fields = {
        "recipients": [TEAM],
        "subject": "Ticket 12: printer jammed",
        "body": "The printer of pc-01 is jammed.\n",
        **overrides,
    }
    queued = mail.enqueue(db, key, **fields)
    assert queued is not None
    db.commit()
    return queued


def as_read(message: EmailMessage) -> str:
    """The body as a mail client shows it (lines travel with CRLF)."""
    content: str = message.get_content()
    return content.replace("\r\n", "\n")


def send(app: Flask, at: datetime | None = None) -> int:
    """Run the sending as the periodic job would, at ``at`` (now by default)."""
    return mail.send_pending(database_of(app), settings_of(app), at or utcnow())


# --- One mail per event ---------------------------------------------------------------------


def test_an_event_queued_twice_is_mailed_once(db, make_app, smtp):
    app = mailing_app(make_app, smtp)
    first = queue(db)
    assert mail.enqueue(db, "ticket 12 new", [TEAM], "again", "again") is None  # a refresh
    db.commit()

    assert send(app) == 1
    assert mail.enqueue(db, "ticket 12 new", [TEAM], "later", "later") is None
    db.commit()
    assert send(app, utcnow() + timedelta(days=2)) == 0

    assert [r.message["Subject"] for r in smtp.received] == ["Ticket 12: printer jammed"]
    db.refresh(first)
    assert first.sent_at is not None and first.attempts == 1 and first.last_error == ""


def test_nobody_to_write_to_queues_nothing(db):
    assert mail.enqueue(db, "ticket 13 new", ["", "  "], "Ticket 13", "…") is None
    assert mail.enqueue(db, "ticket 14 new", [], "Ticket 14", "…") is None
    assert db.scalar(select(func.count()).select_from(Mail)) == 0


def test_recipients_are_cleaned_and_what_is_not_an_address_is_left_out_and_logged(db, caplog):
    wrong = ["atelier", "atelier@", "@ville.example", "a@b@c", "<a@ville.example>", "é@ville.fr"]
    queued = queue(
        db, recipients=[f" {TEAM} ", "ATELIER@ville.example", "", *wrong, "chef@ville.example"]
    )
    assert queued.recipients == [TEAM, "chef@ville.example"]
    left_out = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert left_out == [f"mail: {w!r} is not an e-mail address, left out" for w in wrong]

    assert mail.enqueue(db, "ticket 15 new", ["atelier"], "Ticket 15", "…") is None  # nobody
    with pytest.raises(ValueError, match="key"):
        mail.enqueue(db, "x" * 121, [TEAM], "Ticket 15", "…")


def test_a_subject_is_one_line(db):
    queued = queue(db, subject="Ticket 16:\r\nBcc: everyone@example.org")
    assert queued.subject == "Ticket 16: Bcc: everyone@example.org"


# --- What arrives ------------------------------------------------------------------------------


def test_accents_and_headers_arrive_as_written(db, make_app, smtp):
    app = mailing_app(
        make_app,
        smtp,
        mail_from="Borne <borne@ville.example>",
        public_url="https://borne.ville.example",
    )
    body = (
        "Bonjour,\n\nL'écran du poste « pc-03 » de la médiathèque Kateb Yacine ne s'allume "
        "plus depuis ce matin ; Gaëlle a déjà essayé une autre prise. Coût estimé : 120 €.\n"
        "Œuvre, çà et là, naïve, ĳ, 中文.\n"
    )
    queue(
        db,
        recipients=[TEAM, "chef@ville.example"],
        subject="Ticket 12 : écran noir à Échirolles",
        body=body,
    )

    assert send(app) == 1

    [received] = smtp.received
    message = received.message
    assert received.mail_from == "borne@ville.example"
    assert received.rcpt_tos == [TEAM, "chef@ville.example"]
    assert message["Subject"] == "Ticket 12 : écran noir à Échirolles"
    assert as_read(message) == body
    assert message["From"] == "Borne <borne@ville.example>"
    assert message["To"] == f"{TEAM}, chef@ville.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@borne.ville.example>")
    assert message["Date"].datetime is not None
    assert message.get_content_charset() == "utf-8"


def test_a_mail_sent_again_keeps_its_message_id(db, app):
    queued = queue(db)
    settings = settings_of(app)
    first, again = mail.message_of(queued, settings), mail.message_of(queued, settings)
    other = mail.message_of(queue(db, key="ticket 12 solved"), settings)
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"].endswith("@localhost>")  # no public_url: mail_from's domain


def test_a_refused_recipient_does_not_stop_the_others(db, make_app, smtp):
    app = mailing_app(make_app, smtp)
    smtp.handler.refuse.add("parti@ville.example")
    queued = queue(db, recipients=["parti@ville.example", TEAM])

    assert send(app) == 1

    assert [r.rcpt_tos for r in smtp.received] == [[TEAM]]
    db.refresh(queued)
    assert queued.sent_at is not None
    assert queued.last_error.startswith("refused: parti@ville.example: 550")


# --- The server away ---------------------------------------------------------------------------


def test_a_mail_waits_while_the_server_is_down_and_goes_when_it_is_back(db, make_app):
    port = free_port()
    app = mailing_app(make_app, port)
    queued = queue(db)
    queued_too = queue(db, key="ticket 13 new")
    now = utcnow()

    assert send(app, now) == 0
    for each in (queued, queued_too):
        db.refresh(each)
        assert each.sent_at is None and each.attempts == 1
        assert "refused" in each.last_error.lower()  # ConnectionRefusedError, for both

    assert send(app, now + timedelta(seconds=30)) == 0  # not yet due again: not tried
    db.refresh(queued)
    assert queued.attempts == 1

    with smtp_server(port) as smtp:
        assert send(app, now + timedelta(minutes=1)) == 2
        assert len(smtp.received) == 2
    db.refresh(queued)
    assert queued.sent_at is not None and queued.attempts == 2 and queued.last_error == ""


def test_retries_grow_apart_up_to_an_hour_and_stop_after_about_a_day():
    start = utcnow()
    assert [mail.due_at(start, n) - start for n in range(4)] == [
        timedelta(0),
        timedelta(minutes=1),
        timedelta(minutes=3),
        timedelta(minutes=7),
    ]
    gaps = [mail.due_at(start, n + 1) - mail.due_at(start, n) for n in range(mail.MAX_ATTEMPTS)]
    assert max(gaps) == timedelta(hours=1) == gaps[-1]
    last_try = mail.due_at(start, mail.MAX_ATTEMPTS - 1) - start
    assert timedelta(hours=20) < last_try < timedelta(hours=30)


def test_a_mail_is_given_up_after_its_attempts_with_its_last_error(db, make_app, caplog):
    port = free_port()
    app = mailing_app(make_app, port)
    queued = queue(db)
    for attempts in range(mail.MAX_ATTEMPTS):
        assert send(app, mail.due_at(queued.created_at, attempts)) == 0
    db.refresh(queued)
    assert queued.attempts == mail.MAX_ATTEMPTS and queued.sent_at is None
    assert "refused" in queued.last_error.lower()
    assert any("given up" in r.message and r.levelno == logging.ERROR for r in caplog.records)

    with smtp_server(port) as smtp:  # back, too late for this one
        assert send(app, queued.created_at + timedelta(days=30)) == 0
        assert smtp.received == []


def test_without_a_server_mails_stay_queued_and_the_log_says_so_once(db, app, caplog):
    assert settings_of(app).smtp_host == ""
    mail.mail_job(app)  # nothing waits: nothing to say
    queued = queue(db)

    assert send(app) == 0
    mail.mail_job(app)
    mail.mail_job(app)

    db.refresh(queued)
    assert queued.sent_at is None and queued.attempts == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "1 e-mail(s) wait in the outbox: set smtp_host (README, Configuration) to send them"
    ]


def test_the_periodic_job_sends_what_is_due(db, make_app, smtp):
    app = mailing_app(make_app, smtp)
    queue(db)
    mail.mail_job(app)
    assert len(smtp.received) == 1


# --- TLS and sign-in ---------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that this process trusts, as a city's own authority."""
    cert, key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_sign_in_reach_a_relay_that_asks_for_them(db, make_app, certificate, security):
    users = {"borne": "s3cret-pass"}
    implicit = security == "ssl"
    with smtp_server(users=users, certificate=certificate, implicit_tls=implicit) as smtp:
        app = mailing_app(
            make_app,
            smtp,
            smtp_security=security,
            smtp_username="borne",
            smtp_password="s3cret-pass",
        )
        queue(db, body="Réparé.\n")
        assert send(app) == 1
        [received] = smtp.received
        assert received.signed_in_as == "borne"
        assert as_read(received.message) == "Réparé.\n"


def test_a_wrong_password_keeps_the_mail_with_the_servers_answer(db, make_app, certificate):
    with smtp_server(users={"borne": "right"}, certificate=certificate) as smtp:
        app = mailing_app(
            make_app, smtp, smtp_security="starttls", smtp_username="borne", smtp_password="wrong"
        )
        queued = queue(db)
        assert send(app) == 0
        assert smtp.received == []
    db.refresh(queued)
    assert queued.sent_at is None and queued.last_error.startswith("535")


def test_a_relay_that_does_not_offer_starttls_gets_nothing_in_clear(db, make_app, smtp):
    app = mailing_app(make_app, smtp, smtp_security="starttls")
    queued = queue(db)
    assert send(app) == 0
    assert smtp.received == []
    db.refresh(queued)
    assert "STARTTLS" in queued.last_error


@pytest.mark.parametrize("trouble", ["untrusted", "another name"])
def test_a_certificate_that_cannot_be_trusted_gets_nothing(
    db, make_app, tmp_path, monkeypatch, trouble
):
    cert, key = self_signed_certificate(tmp_path, "127.0.0.1")
    if trouble == "another name":
        cert, key = self_signed_certificate(tmp_path, "smtp.elsewhere.example")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with smtp_server(certificate=(cert, key)) as smtp:
        app = mailing_app(make_app, smtp, smtp_security="starttls")
        queued = queue(db)
        assert send(app) == 0
        assert smtp.received == []
    db.refresh(queued)
    assert "CERTIFICATE_VERIFY_FAILED" in queued.last_error


# --- Several processes (PostgreSQL) --------------------------------------------------------------


@pytest.fixture
def shared_postgres(postgres_base_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of its own, for two 'processes' that commit for real."""
    url = create_database(postgres_base_url, "borne_mail")
    migrate.upgrade(url)
    yield url


@pytest.mark.postgres
def test_two_processes_send_a_mail_once(shared_postgres, smtp):
    first, second = Database(shared_postgres), Database(shared_postgres)
    settings = ControllerSettings(smtp_host=smtp.host, smtp_port=smtp.port)
    try:
        with first.session() as session:
            mail.enqueue(session, "ticket 12 new", [TEAM], "Ticket 12", "…")
        now = utcnow()
        smtp.handler.hold = threading.Event()
        sent_by_first: list[int] = []
        sending = threading.Thread(
            target=lambda: sent_by_first.append(mail.send_pending(first, settings, now))
        )
        sending.start()
        wait_for(smtp.handler.in_data.is_set, what="the first process in the middle of sending")

        assert mail.send_pending(second, settings, now) == 0  # passes the locked mail by

        smtp.handler.hold.set()
        sending.join(timeout=30)
        assert sent_by_first == [1]
        assert mail.send_pending(second, settings, now + timedelta(days=1)) == 0
        assert len(smtp.received) == 1
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_two_processes_queueing_one_event_at_once_queue_one_mail(shared_postgres):
    first, second = Database(shared_postgres), Database(shared_postgres)
    observer = create_engine(shared_postgres)
    results: list[Mail | None] = []

    def queue_in_second() -> None:
        with second.session() as session:
            results.append(mail.enqueue(session, "ticket 12 new", [TEAM], "Ticket 12", "2nd"))

    try:
        with first.sessions() as session:
            write_transaction(session)
            assert mail.enqueue(session, "ticket 12 new", [TEAM], "Ticket 12", "1st") is not None
            racing = threading.Thread(target=queue_in_second)
            racing.start()

            def second_waits_on_the_key() -> bool:
                with observer.connect() as connection:
                    return bool(
                        connection.scalar(
                            text(
                                "SELECT count(*) FROM pg_stat_activity WHERE "
                                "datname = current_database() AND wait_event_type = 'Lock'"
                            )
                        )
                    )

            wait_for(second_waits_on_the_key, what="the second insert waiting on the first")
            session.commit()
        racing.join(timeout=30)

        assert results == [None]
        with first.session(writes=False) as session:
            assert session.scalars(select(Mail.body)).all() == ["1st"]
    finally:
        observer.dispose()
        first.dispose()
        second.dispose()


# --- Settings ----------------------------------------------------------------------------------


def test_smtp_settings_come_from_the_environment_with_the_usual_port_by_default():
    settings = load_controller_settings(
        env={
            "BORNE_SMTP_HOST": "smtp.ville.example",
            "BORNE_SMTP_SECURITY": "starttls",
            "BORNE_SMTP_USERNAME": "borne",
            "BORNE_SMTP_PASSWORD": "s3cret",
            "BORNE_MAIL_FROM": "Borne <borne@ville.example>",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == (
        "smtp.ville.example",
        0,
        "starttls",
    )
    assert "s3cret" not in repr(settings)
    assert load_controller_settings(env={}).smtp_host == ""  # not configured by default


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"smtp_security": "tls"}, "smtp_security must be one of none, starttls, ssl"),
        ({"smtp_port": 70000}, "smtp_port must be between 1 and 65535"),
        ({"smtp_host": "smtp.ville.example:587"}, "the port goes in smtp_port"),
        ({"smtp_host": "smtp ville"}, "smtp_host must be a host name"),
        ({"smtp_password": "s3cret"}, "smtp_password is set but smtp_username is empty"),
        (
            {"smtp_host": "smtp.ville.example", "smtp_username": "borne", "smtp_password": "x"},
            "smtp_username needs smtp_security starttls or ssl",
        ),
        ({"mail_from": "borne"}, "mail_from must be an e-mail address"),
        ({"mail_from": "borne@"}, "mail_from must be an e-mail address"),
    ],
)
def test_a_wrong_smtp_setting_stops_the_start_with_its_name(overrides, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_controller_settings(env={}, overrides=overrides)


def test_a_relay_on_this_machine_may_take_a_password_without_tls():
    settings = load_controller_settings(
        env={},
        overrides={"smtp_host": "127.0.0.1", "smtp_username": "borne", "smtp_password": "x"},
    )
    assert settings.smtp_security == "none"
    with pytest.raises(ImproperlyConfigured, match="SMTP_PORT must be a number"):
        load_controller_settings(env={"BORNE_SMTP_PORT": "submission"})


def test_the_outbox_forgets_old_sent_and_given_up_mails_but_keeps_those_still_to_send(db):
    now = utcnow()
    long_ago = now - timedelta(days=120)
    for key, fields in {
        "old sent": {"created_at": long_ago, "sent_at": long_ago},
        "old given up": {"created_at": long_ago, "attempts": mail.MAX_ATTEMPTS},
        "old waiting": {"created_at": long_ago},  # no server for months: it still waits
        "recent sent": {"created_at": now, "sent_at": now - timedelta(days=2)},
    }.items():
        queued = queue(db, key)
        for name, value in fields.items():
            setattr(queued, name, value)
    db.commit()

    gone = mail.prune_outbox(db, timedelta(days=90), now)

    assert gone == 2
    assert sorted(db.scalars(select(Mail.key))) == ["old waiting", "recent sent"]


def test_a_retention_below_a_day_stops_the_start_naming_it():
    with pytest.raises(ImproperlyConfigured, match="mail_retention_days"):
        ControllerSettings(mail_retention_days=0)
