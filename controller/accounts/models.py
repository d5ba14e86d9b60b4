"""Staff accounts and the places each covers. Residents never have accounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.access import Role
from controller.db import Base, UTCDateTime, utcnow


class User(Base):
    """A member of staff. Residents never have accounts."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every session's cookie: raising it ends every session of the account at once,
    # copies of the cookie included (sign-out, an account disabled).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The pages' language chosen by the person ("fr", "en"); None: their browser's.
    language: Mapped[str | None] = mapped_column(String(8))
    # Where the person is told of what concerns them (a ticket they reported is solved);
    # empty: not by e-mail.
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # What opens a charging kiosk's lockers for this person at the kiosk (accounts/kiosk_pin.py):
    # "pbkdf2_sha256$iterations$salt_hex$hash_hex", sent as it is to the kiosks of the places
    # they cover, never the PIN itself; None: no PIN.
    kiosk_pin_hash: Mapped[str | None] = mapped_column(String(200))
    scopes: Mapped[list[UserScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"


class UserScope(Base):
    """One organisation or one site a user covers."""

    __tablename__ = "user_scopes"
    __table_args__ = (
        CheckConstraint(
            "(organisation_id IS NULL) <> (site_id IS NULL)", name="one_of_organisation_or_site"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))

    user: Mapped[User] = relationship(back_populates="scopes")


class ApiToken(Base):
    """A personal token for scripts (``Authorization: Bearer``): it acts as its owner, or
    narrower (read-only), until it expires or is revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # SHA-256 of a 256-bit random secret, as for device secrets: nothing to guess, and a slow
    # hash would cost every API call milliseconds. The token itself is shown once, never stored.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so that a person can tell which one leaked or is in use.
    hint: Mapped[str] = mapped_column(String(16))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
