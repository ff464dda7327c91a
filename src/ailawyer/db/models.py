"""SQLAlchemy models; one migration history (`db/migrations`) runs them on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ailawyer.domain.roles import Role

# Stable constraint names so migrations look the same on PostgreSQL and SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has only 64-bit INTEGER primary keys; BigInteger would lose autoincrement there.
Id = BigInteger().with_variant(Integer(), "sqlite")
# The largest value an Id column holds. A larger number (from a URL or a socket event) names
# no row, and the PostgreSQL driver refuses to send it: look such ids up as "not found".
MAX_ID = 2**63 - 1


def is_id(value: int) -> bool:
    """Whether `value` can be the Id of a row at all."""
    return 0 < value <= MAX_ID


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


def _enum(enum_type: type[StrEnum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK: portable, and adding a member never needs ALTER TYPE.
    return Enum(
        enum_type,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class DokumentStatus(StrEnum):
    AUSSTEHEND = "AUSSTEHEND"
    IN_BEARBEITUNG = "IN_BEARBEITUNG"
    ABGESCHLOSSEN = "ABGESCHLOSSEN"
    FEHLGESCHLAGEN = "FEHLGESCHLAGEN"


class Severity(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class Kanzlei(Base):
    __tablename__ = "kanzlei"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kanzlei_id: Mapped[int] = mapped_column(
        ForeignKey("kanzlei.id", ondelete="RESTRICT"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    aktiv: Mapped[bool] = mapped_column(Boolean, default=True)
    # The installation's operator ("Betreiber"): runs the machine for every Kanzlei. Set only
    # from the command line (`ailawyer user grant-operator`); no HTTP route can change it.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Last notification sequence number handed out; incremented under a row lock.
    notification_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    kanzlei: Mapped[Kanzlei] = relationship(lazy="joined")

    @property
    def role_label(self) -> str:
        return self.role.label


class Akte(Base):
    __tablename__ = "akte"
    __table_args__ = (UniqueConstraint("kanzlei_id", "aktenzeichen", name="uq_akte_aktenzeichen"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kanzlei_id: Mapped[int] = mapped_column(
        ForeignKey("kanzlei.id", ondelete="RESTRICT"), index=True
    )
    aktenzeichen: Mapped[str] = mapped_column(String(50))
    kurzrubrum: Mapped[str] = mapped_column(String(300))
    anwalt_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sachbearbeiter_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    anwalt: Mapped[User | None] = relationship(foreign_keys=[anwalt_id], lazy="joined")
    sachbearbeiter: Mapped[User | None] = relationship(
        foreign_keys=[sachbearbeiter_id], lazy="joined"
    )


class Dokument(Base):
    __tablename__ = "dokument"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    akte_id: Mapped[int] = mapped_column(ForeignKey("akte.id", ondelete="CASCADE"), index=True)
    dateiname: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[DokumentStatus] = mapped_column(
        _enum(DokumentStatus, "dokument_status"), default=DokumentStatus.AUSSTEHEND
    )
    page_count: Mapped[int | None]
    extracted_text: Mapped[str | None] = mapped_column(Text)
    # The final failure's technical error, for administrators.
    error: Mapped[str | None] = mapped_column(Text)
    # Why it failed, in German, for the uploader ("Die Datei ist beschädigt.").
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # While an automatic retry is due (status AUSSTEHEND): which attempt of how many, when.
    next_attempt: Mapped[int | None]
    max_attempts: Mapped[int | None]
    next_attempt_at: Mapped[datetime | None]
    job_id: Mapped[str | None] = mapped_column(String(100))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("user_id", "seq", name="uq_notification_user_seq"),
        Index("ix_notification_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Strictly increasing per user: the client's catch-up cursor.
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "severity"), default=Severity.INFO)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # e.g. {"label": "Erneut versuchen", "url": "/api/jobs/dokumente/42/retry", "method": "POST"}
    action: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    dismissed_at: Mapped[datetime | None]


class SystemSetting(Base):
    __tablename__ = "system_setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class UserSettings(Base):
    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Each browser's permission stays in that browser (ailawyer.notifications.preferences):
    # here only whether the user wants system notifications, and whether browsers may ask.
    system_notifications: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    ask_browser_permission: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    sounds: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kanzlei_id: Mapped[int | None] = mapped_column(ForeignKey("kanzlei.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
