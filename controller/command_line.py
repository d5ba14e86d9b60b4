"""What every ``borne controller …`` command shares: the settings, a database session, and the
actor the audit log records ("cli")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from borne.settings import ImproperlyConfigured
from controller.config import ControllerSettings, load_controller_settings

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
                raise click.UsageError(f"configuration: {exc}") from None
        return self._settings

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A committed-at-the-end session; domain errors become a clear CLI error."""
        from controller.db import Database
        from controller.errors import DomainError

        database = Database(
            self.settings.sqlalchemy_url, sqlite_synchronous=self.settings.sqlite_synchronous
        )
        try:
            with database.session() as session:
                yield session
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        finally:
            database.dispose()


pass_context = click.make_pass_decorator(Context)


def redacted(url: str) -> str:
    """A database URL without its password, to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
