"""Check outcomes computed by pure logic; the Dagster layer turns them into
``AssetCheckResult``s. A blocking ERROR outcome stops the write before it is
published."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class CheckOutcome:
    table: str  # "schema.table" the check is about
    name: str
    passed: bool
    severity: Severity
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    blocking: bool = True  # False: an ERROR that alerts but never stops the write

    @property
    def blocks(self) -> bool:
        """Failed, ERROR and blocking: the write must not happen."""
        return not self.passed and self.severity == "ERROR" and self.blocking


class BlockingCheckError(RuntimeError):
    """One or more blocking (ERROR) checks failed; nothing was published."""

    def __init__(self, outcomes: Iterable[CheckOutcome]) -> None:
        self.outcomes = [o for o in outcomes if o.blocks]
        lines = [
            f"{o.table}:{o.name}: {o.description} {o.metadata}" for o in self.outcomes
        ]
        super().__init__(
            "blocking check(s) failed; the partition was not written:\n  "
            + "\n  ".join(lines)
        )


def raise_if_blocking(outcomes: Iterable[CheckOutcome]) -> None:
    failed = [o for o in outcomes if o.blocks]
    if failed:
        raise BlockingCheckError(failed)
