"""The audit's checks and report (JSON and Markdown under ``reports/audit/``)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CHECKS = ("truncation", "shuffled")
Status = Literal["pass", "fail", "skipped"]
# Tables holding something computed at C that is not a pure function of the data.
UNCOMPARED = {"features.build_info": "holds the feature engine's timings"}
COMPARED_SCHEMAS = ("star", "features", "labels")
APPENDED_SOURCE = "audit:appended"
NEW_ACCOUNT_PREFIX = "audit-new-"
BASE_DB = "audit_base"
ONE_DAY = dt.timedelta(days=1)


@dataclass
class AuditCheck:
    """One control: ``name`` (``truncation:star``, ``shuffled:<division>``, ...)."""

    name: str
    status: Status
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "detail": self.detail,
        }


@dataclass
class AuditReport:
    cutoff: dt.date
    divisions: list[str]
    checks: list[AuditCheck]
    data_through: dt.date | None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "divisions": self.divisions,
            "data_through": str(self.data_through) if self.data_through else None,
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "checks": [c.to_json() for c in self.checks],
        }

    def table(self) -> str:
        """The pass/fail table printed by ``gosales audit``."""
        width = max([len(c.name) for c in self.checks] + [5])
        lines = [
            f"audit at {self.cutoff} (data through {self.data_through}) for "
            f"{', '.join(self.divisions)}",
            f"{'check':<{width}}  status   result",
            f"{'-' * width}  -------  {'-' * 40}",
        ]
        for c in self.checks:
            lines.append(f"{c.name:<{width}}  {c.status.upper():<7}  {c.summary}")
        verdict = "PASSED" if self.passed else "FAILED"
        failed = sum(c.status == "fail" for c in self.checks)
        lines.append(
            f"{verdict}: {len(self.checks)} checks, {failed} failed, "
            f"{sum(c.status == 'skipped' for c in self.checks)} skipped "
            f"({self.seconds:.0f}s)"
        )
        return "\n".join(lines)


def write_report(report: AuditReport, reports_dir: Path) -> Path:
    """``reports/audit/<cutoff>.json`` (replaced atomically)."""
    folder = reports_dir / "audit"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.cutoff.isoformat()}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path
