"""What every ``borne controller …`` command shares: the settings, a database session, and the
actor the audit log records ("cli")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from borne.settings import ImproperlyConfigured
from controller.config import ControllerSettings, load_controller_settings
from controller.i18n import _

CLI_ACTOR = "cli"


class Context:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: ControllerSettings | None = None

    @property
    def settings(self) -> ControllerSettings:
        if self._settings is None:
            try:
                self._settings = load_controller_settings(config_file=self.config_file)
            except ImproperlyConfigured as exc:
                raise click.UsageError(_("configuration: %(problem)s", problem=exc)) from None
        return self._settings

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A committed-at-the-end session; domain errors become a clear CLI error."""
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from controller.db import Database
        from controller.errors import DomainError

        settings = self.settings
        if not settings.database_url and not settings.data_dir.is_dir():
            raise click.UsageError(
                _(
                    "no controller data directory at %(path)s: set BORNE_DATA_DIR (or data_dir "
                    "in the configuration file) to the controller's, or BORNE_DATABASE_URL to its "
                    "database; a new one is made by 'borne controller db upgrade'",
                    path=settings.data_dir,
                )
            )
        database = Database(settings.sqlalchemy_url, sqlite_synchronous=settings.sqlite_synchronous)
        try:
            with database.session() as session:
                yield session
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        except (OperationalError, ProgrammingError) as exc:
            where = redacted(settings.sqlalchemy_url)
            raise click.ClickException(_database_problem(exc, where)) from None
        finally:
            database.dispose()


pass_context = click.make_pass_decorator(Context)


def _database_problem(exc: Exception, where: str) -> str:
    """What went wrong with the database, in one line a person can act on."""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return _(
            "the database at %(where)s has no tables yet: run 'borne controller db upgrade'",
            where=where,
        )
    return _("cannot use the database at %(where)s: %(problem)s", where=where, problem=text)


def redacted(url: str) -> str:
    """A database URL without its password, to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
