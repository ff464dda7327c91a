"""Every runtime setting, declared once. The admin settings page lists exactly these."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ailawyer.config import DEFAULT_LOG_LEVEL
from ailawyer.jobs.catalog import QUEUES
from ailawyer.runtime_settings.registry import RuntimeSettingDefinition, RuntimeSettingsRegistry

# The keys code reads settings by; each is declared with its type, label and default below.
LOG_LEVEL = "log.level"
JOB_RETENTION_COMPLETED_SECONDS = "jobs.retention.completed_seconds"
JOB_RETENTION_FAILED_SECONDS = "jobs.retention.failed_seconds"
MAINTENANCE_BANNER = "ui.maintenance_banner"
UPLOAD_FILES_PER_HOUR = "uploads.rate.files_per_hour"
UPLOAD_MB_PER_HOUR = "uploads.rate.mb_per_hour"
UPLOAD_KANZLEI_QUOTA_MB = "uploads.quota.kanzlei_mb"
ALERT_WORKER_MISSING_SECONDS = "alerts.worker_missing_seconds"
ALERT_BACKLOG_SECONDS = "alerts.backlog_seconds"
ALERT_FAILED_JOBS = "alerts.failed_jobs"
ALERT_REDIS_MEMORY_PERCENT = "alerts.redis_memory_percent"
ALERT_DISK_FREE_PERCENT = "alerts.disk_free_percent"
# The window ALERT_FAILED_JOBS counts final failures in.
FAILED_JOBS_WINDOW_MINUTES = 15
NOTIFICATION_RETENTION_DAYS = "retention.notifications_days"
NOTIFICATION_DISMISSED_RETENTION_DAYS = "retention.dismissed_notifications_days"
AUDIT_RETENTION_DAYS = "retention.audit_days"


def job_concurrency(queue_name: str) -> str:
    """The key of a queue's concurrency per worker process."""
    return f"jobs.concurrency.{queue_name}"


MAX_CONCURRENCY = 100
MAX_BANNER_LENGTH = 300
CATEGORY_NOTICES = "Hinweise"
CATEGORY_SYSTEM = "System"
CATEGORY_JOBS = "Hintergrundverarbeitung"
CATEGORY_UPLOADS = "Dokumente"
CATEGORY_ALERTS = "Warnmeldungen"
CATEGORY_RETENTION = "Aufbewahrung"

_MAINTENANCE_BANNER = RuntimeSettingDefinition(
    key=MAINTENANCE_BANNER,
    label="Wartungshinweis",
    description="Erscheint für alle angemeldeten Benutzer oben auf jeder Seite, z. B. „Am "
    "Freitag ab 18 Uhr ist das System wegen Wartung nicht erreichbar.“ Leer: kein Hinweis.",
    category=CATEGORY_NOTICES,
    value_type=Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=MAX_BANNER_LENGTH)
    ],
    allowed=f"ein Text mit höchstens {MAX_BANNER_LENGTH} Zeichen",
    default=lambda _settings: "",
)

_LOG_LEVEL = RuntimeSettingDefinition(
    key=LOG_LEVEL,
    label="Protokollstufe",
    description=(
        "Ab welcher Stufe App und Worker Protokollzeilen schreiben. Ein Prozess mit LOG_LEVEL "
        "in seiner Umgebung behält dessen Stufe (siehe „Übernahme durch die Prozesse“)."
    ),
    category=CATEGORY_SYSTEM,
    value_type=Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    allowed="DEBUG, INFO, WARNING, ERROR oder CRITICAL",
    # Not LOG_LEVEL: that pins its own process and is never the installation's default.
    default=lambda _settings: DEFAULT_LOG_LEVEL,
)

_RETENTION = [
    RuntimeSettingDefinition(
        key=JOB_RETENTION_COMPLETED_SECONDS,
        label="Abgeschlossene Vorgänge aufbewahren (Sekunden)",
        description="Danach werden abgeschlossene Vorgänge aus der Warteschlange entfernt.",
        category=CATEGORY_JOBS,
        value_type=Annotated[int, Field(ge=1, le=365 * 24 * 3600)],
        allowed="eine ganze Zahl von 1 bis 31.536.000",
        default=lambda settings: settings.job_keep_completed_seconds,
    ),
    RuntimeSettingDefinition(
        key=JOB_RETENTION_FAILED_SECONDS,
        label="Fehlgeschlagene Vorgänge aufbewahren (Sekunden)",
        description="Danach werden fehlgeschlagene Vorgänge aus der Warteschlange entfernt.",
        category=CATEGORY_JOBS,
        value_type=Annotated[int, Field(ge=1, le=365 * 24 * 3600)],
        allowed="eine ganze Zahl von 1 bis 31.536.000",
        default=lambda settings: settings.job_keep_failed_seconds,
    ),
]


def _concurrency(name: str, label: str, default: int) -> RuntimeSettingDefinition:
    return RuntimeSettingDefinition(
        key=job_concurrency(name),
        label=f"Parallele Vorgänge: {label}",
        description=f"Wie viele Vorgänge der Warteschlange „{name}“ jeder Worker gleichzeitig "
        "bearbeitet.",
        category=CATEGORY_JOBS,
        value_type=Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)],
        allowed=f"eine ganze Zahl von 1 bis {MAX_CONCURRENCY}",
        default=lambda _settings: default,
    )


# Uploads: a rate per user (one person cannot fill the disk or the PDF workers in seconds)
# and the storage of each Kanzlei (ailawyer.dokumente.upload decides both).
_UPLOADS = [
    RuntimeSettingDefinition(
        key=UPLOAD_FILES_PER_HOUR,
        label="Hochladen: Dateien je Benutzer und Stunde",
        description="So viele PDF-Dateien darf jeder Benutzer innerhalb einer Stunde "
        "hochladen; danach wird das Hochladen bis zum Ablauf der Stunde abgelehnt.",
        category=CATEGORY_UPLOADS,
        value_type=Annotated[int, Field(ge=1, le=100_000)],
        allowed="eine ganze Zahl von 1 bis 100.000",
        default=lambda _settings: 200,
    ),
    RuntimeSettingDefinition(
        key=UPLOAD_MB_PER_HOUR,
        label="Hochladen: Megabyte je Benutzer und Stunde",
        description="So viele Megabyte darf jeder Benutzer innerhalb einer Stunde hochladen.",
        category=CATEGORY_UPLOADS,
        value_type=Annotated[int, Field(ge=1, le=1_000_000)],
        allowed="eine ganze Zahl von 1 bis 1.000.000",
        default=lambda _settings: 1000,
    ),
    RuntimeSettingDefinition(
        key=UPLOAD_KANZLEI_QUOTA_MB,
        label="Speicherplatz je Kanzlei (Megabyte)",
        description="So viel Platz dürfen die Dokumente einer Kanzlei zusammen belegen; "
        "darüber hinaus wird das Hochladen abgelehnt. Gilt für jede Kanzlei einzeln.",
        category=CATEGORY_UPLOADS,
        value_type=Annotated[int, Field(ge=1, le=100_000_000)],
        allowed="eine ganze Zahl von 1 bis 100.000.000",
        default=lambda _settings: 20 * 1024,
    ),
]

# How long the scheduled retention cleanup keeps records (ailawyer.worker.retention); log
# files follow LOG_RETENTION_DAYS.
MAX_RETENTION_DAYS = 100 * 365
_RETENTION_OF_RECORDS = [
    RuntimeSettingDefinition(
        key=NOTIFICATION_RETENTION_DAYS,
        label="Benachrichtigungen aufbewahren (Tage)",
        description="Benachrichtigungen, die älter sind, werden gelöscht, gelesen oder nicht.",
        category=CATEGORY_RETENTION,
        value_type=Annotated[int, Field(ge=1, le=MAX_RETENTION_DAYS)],
        allowed="eine ganze Zahl von 1 bis 36.500",
        default=lambda _settings: 180,
    ),
    RuntimeSettingDefinition(
        key=NOTIFICATION_DISMISSED_RETENTION_DAYS,
        label="Ausgeblendete Benachrichtigungen aufbewahren (Tage)",
        description="Benachrichtigungen, die ein Benutzer ausgeblendet hat, werden so viele "
        "Tage danach gelöscht.",
        category=CATEGORY_RETENTION,
        value_type=Annotated[int, Field(ge=1, le=MAX_RETENTION_DAYS)],
        allowed="eine ganze Zahl von 1 bis 36.500",
        default=lambda _settings: 30,
    ),
    RuntimeSettingDefinition(
        key=AUDIT_RETENTION_DAYS,
        label="Einträge im Protokoll der Verwaltung aufbewahren (Tage)",
        description="Einträge im Protokoll (wer hat wann was geändert), die älter sind, "
        "werden gelöscht. 0: nie löschen.",
        category=CATEGORY_RETENTION,
        value_type=Annotated[int, Field(ge=0, le=MAX_RETENTION_DAYS)],
        allowed="0 (nie löschen) oder eine ganze Zahl bis 36.500",
        default=lambda _settings: 0,
    ),
]

# Thresholds of the alerts to the operators (ailawyer.alerts.checks); the installation's.
_ALERTS = [
    RuntimeSettingDefinition(
        key=ALERT_WORKER_MISSING_SECONDS,
        label="Warnung: kein Worker seit (Sekunden)",
        description="So lange darf eine Warteschlange ohne laufenden Worker sein, bevor die "
        "Betreiber gewarnt werden.",
        category=CATEGORY_ALERTS,
        value_type=Annotated[int, Field(ge=1, le=24 * 3600)],
        allowed="eine ganze Zahl von 1 bis 86.400",
        default=lambda _settings: 60,
    ),
    RuntimeSettingDefinition(
        key=ALERT_BACKLOG_SECONDS,
        label="Warnung: ältester wartender Vorgang (Sekunden)",
        description="Wartet der älteste Vorgang einer Warteschlange länger, werden die "
        "Betreiber gewarnt.",
        category=CATEGORY_ALERTS,
        value_type=Annotated[int, Field(ge=1, le=7 * 24 * 3600)],
        allowed="eine ganze Zahl von 1 bis 604.800",
        default=lambda _settings: 300,
    ),
    RuntimeSettingDefinition(
        key=ALERT_FAILED_JOBS,
        label=f"Warnung: fehlgeschlagene Vorgänge in {FAILED_JOBS_WINDOW_MINUTES} Minuten",
        description=f"Schlagen in {FAILED_JOBS_WINDOW_MINUTES} Minuten mehr Vorgänge endgültig "
        "fehl (alle Warteschlangen zusammen), werden die Betreiber gewarnt.",
        category=CATEGORY_ALERTS,
        value_type=Annotated[int, Field(ge=0, le=1_000_000)],
        allowed="eine ganze Zahl von 0 bis 1.000.000",
        default=lambda _settings: 10,
    ),
    RuntimeSettingDefinition(
        key=ALERT_REDIS_MEMORY_PERCENT,
        label="Warnung: Redis-Speicher belegt (Prozent)",
        description="Belegt Redis mehr als diesen Anteil seines Limits (maxmemory), werden "
        "die Betreiber gewarnt. Ohne Limit gibt es diese Warnung nicht.",
        category=CATEGORY_ALERTS,
        value_type=Annotated[int, Field(ge=1, le=100)],
        allowed="eine ganze Zahl von 1 bis 100",
        default=lambda _settings: 80,
    ),
    RuntimeSettingDefinition(
        key=ALERT_DISK_FREE_PERCENT,
        label="Warnung: freier Speicherplatz unter (Prozent)",
        description="Ist auf dem Datenträger der Uploads oder der Protokolle weniger frei, "
        "werden die Betreiber gewarnt.",
        category=CATEGORY_ALERTS,
        value_type=Annotated[int, Field(ge=1, le=99)],
        allowed="eine ganze Zahl von 1 bis 99",
        default=lambda _settings: 10,
    ),
]

RUNTIME_SETTINGS = RuntimeSettingsRegistry(
    [
        _MAINTENANCE_BANNER,
        _LOG_LEVEL,
        *_RETENTION,
        *(_concurrency(q.name, q.label, q.default_concurrency) for q in QUEUES.values()),
        *_UPLOADS,
        *_RETENTION_OF_RECORDS,
        *_ALERTS,
    ]
)
