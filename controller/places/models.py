"""Organisations, their public places (sites) and the days a site is exceptionally closed."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from controller.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from controller.fleet.models import Device


def _list_column() -> Mapped[list[str]]:
    """A list of vocabulary values; the server default keeps rows written before it valid."""
    return mapped_column(JSON, default=list, server_default=text("'[]'"))


class Organisation(Base):
    """A structure (library network, MDH, CCAS, association) that owns sites."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sites: Mapped[list[Site]] = relationship(back_populates="organisation", order_by="Site.name")


class Site(Base):
    """A public place: where devices are and what residents find there."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    postcode: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    opening_hours: Mapped[str] = mapped_column(String(500), default="")  # OpenStreetMap syntax
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    # Public PCs of the site: a session ends after this many minutes without input, and after
    # max_session_min in all when set (None: no limit, no time pressure on residents).
    idle_timeout_min: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    max_session_min: Mapped[int | None] = mapped_column(Integer)
    # The national open-data schema of digital-mediation places (controller/places/vocabularies.py
    # holds its vocabularies; lists hold the schema's own French values). Empty means unknown: a
    # site missing a required field stays usable and is only left out of the open-data export.
    pivot: Mapped[str] = mapped_column(String(14), default="", server_default="")  # SIRET or RNA
    typology: Mapped[list[str]] = _list_column()
    publics: Mapped[list[str]] = _list_column()
    access_modes: Mapped[list[str]] = _list_column()
    support_modes: Mapped[list[str]] = _list_column()
    fees: Mapped[list[str]] = _list_column()
    accessibility_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    website: Mapped[str] = mapped_column(String(500), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    summary: Mapped[str] = mapped_column(String(280), default="", server_default="")
    insee_code: Mapped[str] = mapped_column(String(5), default="", server_default="")
    # date_maj of the schema: today whenever an admin saves these fields, or the imported date.
    data_updated_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    organisation: Mapped[Organisation] = relationship(back_populates="sites")
    devices: Mapped[list[Device]] = relationship(back_populates="site", order_by="Device.name")


class SiteClosure(Base):
    """An exceptional closure of a site (works, strike, summer): no wake-up those days."""

    __tablename__ = "site_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # inclusive
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()
