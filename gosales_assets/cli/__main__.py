"""``python -m gosales_assets.cli``."""

from __future__ import annotations

from gosales_assets.cli import main

main()
