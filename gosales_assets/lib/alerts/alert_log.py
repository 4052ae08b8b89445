"""The alert log: an append-only JSONL file that is also the deduplication state."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:  # POSIX advisory locks serialize writers of the alert log across processes
    import fcntl
except ImportError:  # pragma: no cover - not on the supported platforms
    fcntl = None  # type: ignore[assignment]

from gosales_assets.lib.alerts.records import (
    Ack,
    Alert,
    LogEntry,
    OpenAlert,
    Resolution,
    _apply,
    _is_duplicate,
    fold_log,
    iso_utc,
    log,
)


class AlertLogError(RuntimeError):
    """The alert log cannot be read or written."""


class JsonlNotifier:
    """The alert log: one JSON object per line, append-only.

    Appends are atomic (one ``write`` on an ``O_APPEND`` descriptor per batch, fsynced)
    and serialized across processes by an exclusive ``flock`` held while the log is
    read, deduplicated against, and appended to. A torn last line (a crash mid-write)
    is skipped on read and never glued to the next record.
    """

    name = "log"

    def __init__(self, path: Path, logger: logging.Logger | None = None) -> None:
        self.path = Path(path)
        self.log = logger or log

    # reading -------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every well-formed record, in file order."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise AlertLogError(
                f"cannot read the alert log {self.path}: {err}"
            ) from err
        out: list[dict[str, Any]] = []
        bad = 0
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                bad += 1
                continue
            if isinstance(rec, dict):
                out.append(rec)
            else:
                bad += 1
        if bad:
            self.log.warning(
                "alert log %s: skipped %d unreadable line(s)", self.path, bad
            )
        return out

    def open_alerts(self) -> dict[str, OpenAlert]:
        return fold_log(self.records())

    # writing -------------------------------------------------------------------
    def _locked_fd(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def ensure_writable(self) -> None:
        """Raise :class:`AlertLogError` now if the log cannot be opened for appending
        (checked before anything is sent, so an unwritable log never causes a chat
        message to be repeated on every tick)."""
        try:
            os.close(self._locked_fd())
        except OSError as err:
            raise AlertLogError(
                f"cannot open the alert log {self.path} for appending: {err}"
            ) from err

    def append(self, entries: Sequence[LogEntry]) -> list[str]:
        """Append the entries that change the log's state; one status per entry:
        ``written``, ``duplicate`` (alert already open at that severity) or
        ``not open`` (resolution or ack of a key that is not open)."""
        if not entries:
            return []
        try:
            fd = self._locked_fd()
        except OSError as err:
            raise AlertLogError(
                f"cannot open the alert log {self.path}: {err}"
            ) from err
        try:
            state = self.open_alerts()
            statuses: list[str] = []
            lines: list[str] = []
            for entry in entries:
                rec = entry.to_record()
                key = entry.dedup_key
                if isinstance(entry, Alert):
                    if _is_duplicate(state, entry):
                        statuses.append("duplicate")
                        continue
                elif key not in state:
                    statuses.append("not open")
                    continue
                _apply(state, rec)
                lines.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
                statuses.append("written")
            if lines:
                payload = ("\n".join(lines) + "\n").encode("utf-8")
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    payload = b"\n" + payload  # never glue onto a torn line
                written = os.write(fd, payload)
                if written != len(payload):
                    raise AlertLogError(
                        f"short write to the alert log {self.path} "
                        f"({written} of {len(payload)} bytes; disk full?)"
                    )
                os.fsync(fd)
            return statuses
        except OSError as err:
            raise AlertLogError(
                f"cannot write the alert log {self.path}: {err}"
            ) from err
        finally:
            os.close(fd)  # closing releases the lock

    def notify(self, alerts: Sequence[Alert]) -> dict[str, str]:
        statuses = self.append(alerts)
        return {a.dedup_key: s for a, s in zip(alerts, statuses, strict=True)}

    def ack(self, key: str, by: str, note: str = "", now: float | None = None) -> bool:
        """Acknowledge an open alert; False when ``key`` is not open."""
        stamp = iso_utc(time.time() if now is None else now)
        return self.append([Ack(key, by, stamp, note)]) == ["written"]

    def resolve(self, key: str, note: str = "", now: float | None = None) -> bool:
        """Close an open alert by hand; False when ``key`` is not open."""
        stamp = iso_utc(time.time() if now is None else now)
        return self.append([Resolution(key, "", stamp, note)]) == ["written"]
