"""Public PCs: residents' sessions (anonymous) and the wipe reports that prove each reset."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agent.protocol import SessionEnd
from controller.db import Base, BigId, UTCDateTime


class PcSession(Base):
    """One resident's use of a public PC. Anonymous: when, how long, and how it ended."""

    __tablename__ = "pc_sessions"
    __table_args__ = (
        Index("ix_pc_sessions_site_started", "site_id", "started_at"),
        Index("ix_pc_sessions_device_started", "device_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[int] = mapped_column(Integer)
    ended_by: Mapped[SessionEnd] = mapped_column(String(16))


class WipeReport(Base):
    """The proof a public PC sent after a reset: what went, how fast, and anything left."""

    __tablename__ = "wipe_reports"
    __table_args__ = (Index("ix_wipe_reports_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ready_ms: Mapped[int] = mapped_column(Integer)
    wipe_ms: Mapped[int] = mapped_column(Integer)
    removed_files: Mapped[int] = mapped_column(BigInteger)
    removed_bytes: Mapped[int] = mapped_column(BigInteger)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    leftovers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    leftovers_total: Mapped[int] = mapped_column(Integer, default=0)
    login_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_by: Mapped[SessionEnd] = mapped_column(String(16))

    @property
    def clean(self) -> bool:
        return self.leftovers_total == 0
