"""Configuration sections of the operations side: the store backend (DuckDB or
DuckLake), alerts and their channels, schedules and sensors. ``gosales_assets.config``
assembles them with the pipeline sections (``config_sections``)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gosales_assets.config_sections import (
    Strict,
)


def _no_url(value: str | None) -> str | None:
    if value is not None and "://" in value:
        raise ValueError(
            "must be a filesystem path (local, or a mount shared by every writer); "
            "object-store URLs need DuckDB's httpfs extension, which is not bundled"
        )
    return value


class DuckLakeConfig(Strict):
    """The DuckLake store: a SQL catalog plus Parquet data files (docs/operations.md).

    Relative paths are resolved against ``paths.home``. PostgreSQL credentials are
    never read from this file: ``postgres_dsn_env`` names the environment variable that
    holds the libpq connection string (when it is unset, libpq's own ``PGHOST``,
    ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE`` ... variables apply).
    """

    catalog: Literal["postgres", "sqlite", "duckdb"] = "sqlite"
    catalog_path: str | None = None
    data_path: str | None = None
    postgres_dsn_env: str = "GOSALES_DUCKLAKE_PG_DSN"
    metadata_schema: str = "gosales_lake"
    max_retries: int = Field(default=5, ge=0, le=50)
    retry_wait_seconds: float = Field(default=1.0, ge=0, le=300, allow_inf_nan=False)
    data_inlining_row_limit: int = Field(default=0, ge=0)

    @field_validator("catalog_path", "data_path")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (omit the key for the default)")
        return _no_url(value)

    @field_validator("postgres_dsn_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "must be the NAME of an environment variable that holds the "
                "PostgreSQL connection string; credentials are never read from the "
                "configuration file"
            )
        return value

    @field_validator("metadata_schema")
    @classmethod
    def _schema(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be a plain SQL identifier (letters, digits, _)")
        return value

    @model_validator(mode="after")
    def _catalog_file(self) -> DuckLakeConfig:
        if self.catalog == "postgres" and self.catalog_path is not None:
            raise ValueError(
                "catalog_path applies to the sqlite and duckdb catalogs only; the "
                "postgres catalog is reached through the environment variable named "
                "by postgres_dsn_env"
            )
        return self


class StoreConfig(Strict):
    """Where the curated store lives: the embedded DuckDB file (default) or DuckLake."""

    backend: Literal["duckdb", "ducklake"] = "duckdb"
    ducklake: DuckLakeConfig = DuckLakeConfig()
    # DuckDB's memory limit per process and database (MB; null = DuckDB's default of
    # 80% of RAM); sorts, joins and aggregates spill to disk beyond it
    memory_limit_mb: int | None = Field(default=1536, ge=64)


AlertSeverity = Literal["WARN", "ERROR"]


def _severity_list(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("must list at least one of WARN, ERROR")
    if len(set(value)) != len(value):
        raise ValueError("lists a severity twice")
    return value


class AlertChannelConfig(Strict):
    """A chat channel: the NAME of the environment variable holding its webhook URL
    (the URL is a secret and never belongs in this file) and the severities it gets."""

    webhook_env: str
    severities: tuple[AlertSeverity, ...] = ("WARN", "ERROR")

    @field_validator("webhook_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        value = value.strip()
        if "://" in value:
            raise ValueError(
                "must be the NAME of an environment variable, not the webhook URL; "
                "put the URL in that variable's value, never in the configuration"
            )
        if not (value.isascii() and value.isidentifier()):
            raise ValueError(
                f"{value!r} is not an environment variable name "
                "(letters, digits and underscores, not starting with a digit)"
            )
        return value

    @field_validator("severities")
    @classmethod
    def _severities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _severity_list(value)


class SilenceRuleConfig(Strict):
    """Failed checks matching every glob are written to the alert log but not sent to
    the chat channels, through the end of ``until`` (UTC; null: until removed)."""

    reason: str
    asset: str = "*"
    check: str = "*"
    partition: str = "*"
    until: dt.date | None = None

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must say why the alerts are silenced")
        return value


class AlertsConfig(Strict):
    """Alerts on failed asset checks and failed runs (docs/runbook.md)."""

    log_path: Path = Path("alerts/alerts.jsonl")  # relative to paths.home
    severities: tuple[AlertSeverity, ...] = ("WARN", "ERROR")
    alert_on_run_failure: bool = True
    channels: tuple[Literal["slack", "teams"], ...] = ()
    slack: AlertChannelConfig = AlertChannelConfig(
        webhook_env="GOSALES_SLACK_WEBHOOK_URL"
    )
    teams: AlertChannelConfig = AlertChannelConfig(
        webhook_env="GOSALES_TEAMS_WEBHOOK_URL"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, allow_inf_nan=False)
    min_interval_seconds: int = Field(default=60, ge=5, le=86400)
    max_messages_per_tick: int = Field(default=20, ge=1, le=1000)
    ui_base_url: str | None = "http://127.0.0.1:3000"
    silence: tuple[SilenceRuleConfig, ...] = ()

    @field_validator("severities")
    @classmethod
    def _severities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _severity_list(value)

    @field_validator("log_path")
    @classmethod
    def _relative(cls, value: Path) -> Path:
        if value.is_absolute() or ".." in value.parts or not value.name:
            raise ValueError(
                "must be a file path relative to paths.home (GOSALES_HOME), "
                "without '..'"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("lists a channel twice")
        return value

    @field_validator("ui_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest:
            raise ValueError(
                "must be an http(s) URL of the Dagster UI, e.g. http://127.0.0.1:3000, "
                "or null"
            )
        return value


class AutomationConfig(Strict):
    """Schedules, sensors and the published analyst copy (``defs/automation``;
    docs/architecture.md "Automation")."""

    timezone: str = "UTC"
    nightly_cron: str = "0 2 * * *"
    retrain_cron: str = "0 4 1 * *"
    # newest_data: the newest order date ingested; load_date: the load date (today
    # unless ingest.load_date fixes it). Both are capped at the newest complete day.
    nightly_cutoff: Literal["newest_data", "load_date"] = "newest_data"
    # initial state of the schedules and the raw-extract sensor on a fresh instance
    default_status: Literal["stopped", "running"] = "stopped"
    raw_sensor_interval_seconds: int = Field(default=60, ge=5, le=86_400)
    # the read-only analyst copy; null: published/gosales.duckdb under paths.home
    # (a relative path is relative to paths.home)
    publish_path: Path | None = None
    # schema.table names left out of the analyst copy: the wide per-target feature
    # matrix is an internal model input and most of the store at scale (its shared
    # columns are in features.customer_base and features.als_embeddings)
    publish_exclude: list[str] = Field(
        default_factory=lambda: ["features.feature_matrix"]
    )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone name (e.g. UTC, Europe/Berlin)"
            ) from None
        return value

    @field_validator("nightly_cron", "retrain_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        value = value.strip()
        if not is_valid_cron_string(value):
            raise ValueError(
                f"{value!r} is not a 5-field cron expression "
                "(minute hour day-of-month month day-of-week, e.g. '0 2 * * *')"
            )
        return value

    @field_validator("publish_path")
    @classmethod
    def _publish_path(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix != ".duckdb":
            raise ValueError(f"{str(value)!r} must name a .duckdb file")
        return value

    @field_validator("publish_exclude")
    @classmethod
    def _publish_exclude(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value]
        bad = [
            v for v in names if not re.fullmatch(r"[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*", v)
        ]
        if bad:
            raise ValueError(
                f"{bad} are not schema.table names (e.g. features.feature_matrix)"
            )
        seen = [v for i, v in enumerate(names) if v in names[:i]]
        if seen:
            raise ValueError(f"{sorted(set(seen))} are listed more than once")
        return names

    def published_path(self, home: Path) -> Path:
        """Where the analyst copy goes, given ``paths.home``."""
        path = self.publish_path or Path("published") / "gosales.duckdb"
        return (home / path.expanduser()).resolve()
