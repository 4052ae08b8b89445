"""Configuration: pydantic models for ``config/gosales.yaml`` and the SKU map.

Everything is validated at load time and refused with a message that names the key.
Environment variables override paths so one checkout can serve several data folders:

- ``GOSALES_CONFIG``: path of the YAML file (default: the project's
  ``config/gosales.yaml``)
- ``GOSALES_RAW_DIR``: ``paths.raw_dir``
- ``GOSALES_HOME``: ``paths.home`` (DuckDB store, artifacts, Dagster instance)
- ``GOSALES_REPORTS_DIR``: ``paths.reports_dir`` (model cards, exports, benchmark)
- ``GOSALES_LOAD_DATE``: ``ingest.load_date``
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gosales_assets.config_operations import (
    AlertsConfig,
    AutomationConfig,
    StoreConfig,
)
from gosales_assets.config_sections import (
    AlsConfig,
    AuditConfig,
    FeaturesConfig,
    IngestConfig,
    LabelsConfig,
    MonitoringConfig,
    PartitionsConfig,
    PathsConfig,
    SampleDataConfig,
    ValidationConfig,
)
from gosales_assets.config_sections import Strict as _Strict

__all__ = [
    "AlertsConfig",
    "AlsConfig",
    "AuditConfig",
    "AutomationConfig",
    "ConfigError",
    "FeaturesConfig",
    "GosalesConfig",
    "IngestConfig",
    "LabelsConfig",
    "MonitoringConfig",
    "PartitionsConfig",
    "PathsConfig",
    "SampleDataConfig",
    "SkuEntry",
    "SkuMap",
    "StoreConfig",
    "TargetConfig",
    "ValidationConfig",
    "current_config",
    "load_config",
    "load_sku_map",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "gosales.yaml"

# Dagster refuses these characters in static partition keys (multi-partition keys are
# joined with "|"), and we keep names printable.
_FORBIDDEN_NAME_CHARS = set('|,[]{}*?"\\\n\r\t')


class ConfigError(ValueError):
    """A configuration problem, with a message that names the file and the key."""


class SkuEntry(_Strict):
    """One row of the SKU map: a canonical SKU and where it comes from in a wide log."""

    sku: str
    division: str
    family: str = ""
    sale_type: str = ""
    gp_column: str
    qty_column: str
    gp_aliases: tuple[str, ...] = ()

    @field_validator("sku", "division", "gp_column", "qty_column")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value


class SkuMap(_Strict):
    """The SKU -> division map (DATA_CONTRACT section 3)."""

    entries: tuple[SkuEntry, ...]
    source: str = "sku_map.csv"

    @model_validator(mode="after")
    def _unique(self) -> SkuMap:
        seen: dict[str, str] = {}
        for entry in self.entries:
            if entry.sku in seen:
                raise ValueError(f"SKU {entry.sku!r} appears twice in {self.source}")
            seen[entry.sku] = entry.division
        columns: dict[str, str] = {}
        for entry in self.entries:
            for col in (entry.gp_column, *entry.gp_aliases, entry.qty_column):
                owner = columns.get(col)
                # Two SKUs never share a wide-log column; that would double count.
                if owner is not None and owner != entry.sku:
                    raise ValueError(
                        f"wide-log column {col!r} is claimed by SKUs {owner!r} and "
                        f"{entry.sku!r} in {self.source}"
                    )
                columns[col] = entry.sku
        return self

    @property
    def skus(self) -> list[str]:
        return [e.sku for e in self.entries]

    @property
    def divisions(self) -> list[str]:
        return sorted({e.division for e in self.entries})

    def skus_of_division(self, division: str) -> list[str]:
        return [e.sku for e in self.entries if e.division == division]


class TargetConfig(_Strict):
    """A prediction target: a whole division, or a named set of SKUs."""

    name: str
    division: str | None = None
    skus: tuple[str, ...] | None = None
    window_months: int | None = Field(default=None, ge=1, le=36)

    @field_validator("name", "division")
    @classmethod
    def _trim(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        bad = _FORBIDDEN_NAME_CHARS.intersection(value)
        if bad:
            raise ValueError(f"contains forbidden character(s) {sorted(bad)!r}")
        return value

    @field_validator("skus")
    @classmethod
    def _trim_skus(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        cleaned = tuple(s.strip() for s in value)
        if not cleaned or any(not s for s in cleaned):
            raise ValueError("must list at least one non-empty SKU")
        return cleaned

    @model_validator(mode="after")
    def _one_kind(self) -> TargetConfig:
        if (self.division is None) == (self.skus is None):
            raise ValueError(
                f"target {self.name!r} must set exactly one of 'division' or 'skus'"
            )
        return self


class GosalesConfig(_Strict):
    """The whole validated configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    paths: PathsConfig
    partitions: PartitionsConfig
    ingest: IngestConfig = IngestConfig()
    store: StoreConfig = StoreConfig()
    labels: LabelsConfig = LabelsConfig()
    features: FeaturesConfig = FeaturesConfig()
    alerts: AlertsConfig = AlertsConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    audit: AuditConfig = AuditConfig()
    automation: AutomationConfig = AutomationConfig()
    validation: ValidationConfig = ValidationConfig()
    # Validated by the pure settings classes (lib/models, lib/whitespace), so the keys
    # and their defaults are defined once; unknown keys are refused there too.
    modeling: dict[str, Any] = Field(default_factory=dict)
    whitespace: dict[str, Any] = Field(default_factory=dict)
    targets: tuple[TargetConfig, ...]
    sample_data: SampleDataConfig
    sku_map: SkuMap

    @field_validator("modeling")
    @classmethod
    def _modeling(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gosales_assets.lib.models.settings import ModelingSettings

        try:
            ModelingSettings.from_dict(value)  # names the key on a bad value
        except (TypeError, ValueError) as err:
            raise ValueError(f"invalid modeling settings: {err}") from None
        return value

    @field_validator("whitespace")
    @classmethod
    def _whitespace(cls, value: dict[str, Any]) -> dict[str, Any]:
        from gosales_assets.lib.whitespace.settings import WhitespaceSettings

        try:
            WhitespaceSettings.from_dict(value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"invalid whitespace settings: {err}") from None
        return value

    @property
    def modeling_settings(self) -> Any:
        """The validated :class:`ModelingSettings`."""
        from gosales_assets.lib.models.settings import ModelingSettings

        return ModelingSettings.from_dict(self.modeling)

    @property
    def whitespace_settings(self) -> Any:
        """The validated :class:`WhitespaceSettings`."""
        from gosales_assets.lib.whitespace.settings import WhitespaceSettings

        return WhitespaceSettings.from_dict(self.whitespace)

    @property
    def forward_settings(self) -> Any:
        """The :class:`ForwardSettings` of forward validation: the models' K's and
        calibration bins, and the ``validation.bootstrap`` settings."""
        from gosales_assets.lib.validation.forward import ForwardSettings

        modeling, boot = self.modeling_settings, self.validation.bootstrap
        return ForwardSettings(
            top_k_percents=tuple(float(k) for k in modeling.top_k_percents),
            gp_lift_k_percent=float(modeling.gp_lift_k_percent),
            calibration_bins=modeling.calibration_bins,
            resamples=boot.resamples,
            seed=boot.seed,
            level=boot.level,
        )

    @model_validator(mode="after")
    def _margins_are_forward_metrics(self) -> GosalesConfig:
        known = self.forward_settings.metric_names
        ks = list(self.modeling_settings.top_k_percents)
        for name in self.validation.margins:
            if name not in known:
                raise ValueError(
                    f"validation.margins: {name!r} is not a forward metric; with "
                    f"modeling.top_k_percents {ks} they are {known}"
                )
        return self

    @model_validator(mode="after")
    def _targets_known(self) -> GosalesConfig:
        if not self.targets:
            raise ValueError("targets: at least one target is required")
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"targets: duplicate target name(s) {dupes}")
        divisions = set(self.sku_map.divisions)
        skus = set(self.sku_map.skus)
        for i, target in enumerate(self.targets):
            if target.division is not None and target.division not in divisions:
                raise ValueError(
                    f"targets[{i}] ({target.name!r}): unknown division "
                    f"{target.division!r}; known divisions: {sorted(divisions)}"
                )
            for sku in target.skus or ():
                if sku not in skus:
                    raise ValueError(
                        f"targets[{i}] ({target.name!r}): unknown SKU {sku!r} "
                        f"(not in {self.sku_map.source})"
                    )
        for sku in self.labels.denylist_skus:
            if sku not in skus:
                raise ValueError(f"labels.denylist_skus: unknown SKU {sku!r}")
        return self

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    def target(self, name: str) -> TargetConfig:
        for t in self.targets:
            if t.name == name.strip():
                return t
        raise ConfigError(
            f"unknown target {name!r}; known targets: {self.target_names}"
        )

    def target_skus(self, name: str) -> list[str]:
        """The SKUs of a target: its division's SKUs or its named set, in map order."""
        target = self.target(name)
        if target.division is not None:
            return self.sku_map.skus_of_division(target.division)
        wanted = set(target.skus or ())
        return [s for s in self.sku_map.skus if s in wanted]

    def window_months(self, name: str) -> int:
        return self.target(name).window_months or self.labels.window_months

    @cached_property
    def duckdb_path(self) -> Path:
        return self.paths.home / "gosales.duckdb"

    @property
    def artifacts_dir(self) -> Path:
        return self.paths.home / "artifacts"

    @property
    def dagster_home(self) -> Path:
        return self.paths.home / "dagster"

    @property
    def published_path(self) -> Path:
        """The read-only analyst copy of the store (``automation.publish_path``)."""
        return self.automation.published_path(self.paths.home)

    @property
    def alert_log_path(self) -> Path:
        return self.paths.home / self.alerts.log_path


def _format_validation_error(source: Path, err: ValidationError) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


def load_sku_map(path: Path) -> SkuMap:
    """Read the SKU map CSV, naming the file and row on any problem."""
    if not path.is_file():
        raise ConfigError(f"paths.sku_map: SKU map file not found: {path}")
    required = {"sku", "division", "gp_column", "qty_column"}
    entries: list[SkuEntry] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason})") from None
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        header = set(reader.fieldnames or [])
        missing = required - header
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}")
        for rowno, row in enumerate(reader, start=2):
            aliases = tuple(
                a.strip() for a in (row.get("gp_aliases") or "").split("|") if a.strip()
            )
            try:
                entries.append(
                    SkuEntry(
                        sku=row.get("sku") or "",
                        division=row.get("division") or "",
                        family=(row.get("family") or "").strip(),
                        sale_type=(row.get("sale_type") or "").strip(),
                        gp_column=row.get("gp_column") or "",
                        qty_column=row.get("qty_column") or "",
                        gp_aliases=aliases,
                    )
                )
            except ValidationError as err:
                first = err.errors()[0]
                col = ".".join(str(p) for p in first["loc"])
                raise ConfigError(
                    f"{path}: line {rowno}, column {col!r}: "
                    f"{first['msg'].removeprefix('Value error, ')}"
                ) from None
    if not entries:
        raise ConfigError(f"{path}: the SKU map is empty")
    try:
        return SkuMap(entries=tuple(entries), source=str(path))
    except ValidationError as err:
        raise ConfigError(_format_validation_error(path, err)) from None


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> GosalesConfig:
    """Load and validate the configuration, applying environment overrides."""
    env = os.environ if env is None else env
    source = Path(path or env.get("GOSALES_CONFIG") or DEFAULT_CONFIG_PATH).resolve()
    if not source.is_file():
        raise ConfigError(f"configuration file not found: {source}")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise ConfigError(f"{source}: not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    for section in ("paths", "ingest"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise ConfigError(f"{source}: {section}: must be a mapping of keys")

    paths = dict(data.get("paths") or {})
    overrides = {
        "raw_dir": "GOSALES_RAW_DIR",
        "home": "GOSALES_HOME",
        "reports_dir": "GOSALES_REPORTS_DIR",
    }
    for key, var in overrides.items():
        if env.get(var):
            paths[key] = env[var]
    base = source.parent
    for key in ("raw_dir", "home", "reports_dir", "sku_map"):
        if paths.get(key) is not None:
            try:
                paths[key] = (base / Path(str(paths[key])).expanduser()).resolve()
            except (ValueError, OSError) as err:
                raise ConfigError(
                    f"{source}: paths.{key}: not a usable path: {err}"
                ) from None
    data["paths"] = paths
    if env.get("GOSALES_LOAD_DATE"):
        data["ingest"] = {
            **(data.get("ingest") or {}),
            "load_date": env["GOSALES_LOAD_DATE"],
        }

    sku_path = paths.get("sku_map")
    if sku_path is None:
        raise ConfigError(f"{source}: paths.sku_map is required")
    data["sku_map"] = load_sku_map(Path(sku_path))
    try:
        return GosalesConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


_ENV_KEYS = (
    "GOSALES_CONFIG",
    "GOSALES_RAW_DIR",
    "GOSALES_HOME",
    "GOSALES_REPORTS_DIR",
    "GOSALES_LOAD_DATE",
)
_CACHE: dict[tuple[str | None, ...], GosalesConfig] = {}


def current_config() -> GosalesConfig:
    """The configuration for the current environment (cached per environment values)."""
    key = tuple(os.environ.get(k) for k in _ENV_KEYS)
    if key not in _CACHE:
        _CACHE[key] = load_config()
    return _CACHE[key]
