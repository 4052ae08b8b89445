"""The ``gosales`` command: sample data, pipeline runs without the UI, summaries,
the benchmark, the audit and alerts. ``main`` is the Click group; importing the
command modules registers their commands on it."""

from __future__ import annotations

from gosales_assets.cli import alerts, analyst, pipeline
from gosales_assets.cli.app import main

__all__ = ["alerts", "analyst", "main", "pipeline"]
