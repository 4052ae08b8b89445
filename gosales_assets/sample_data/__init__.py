"""Deterministic synthetic data of a B2B reseller of CAD software, 3D printers and
services, written in the formats of DATA_CONTRACT section 2, plus a ground truth of
true label probabilities for judging models.

    from gosales_assets.sample_data import generate
    report = generate(out_dir, cfg, customers=5000, start=..., end=..., seed=1)

Modules: ``generator`` (the run), ``population`` (accounts, ids, latent traits),
``catalog`` and ``rules`` (product groups from the SKU map and their behaviour by sale
type), ``simulate`` (the monthly step), ``ground_truth`` (re-simulated windows),
``lines``/``wide``/``extras`` (the output tables), ``writer`` (files and manifest).
"""

from __future__ import annotations

from gosales_assets.sample_data.generator import (
    GENERATOR_VERSION,
    GenerationReport,
    generate,
)
from gosales_assets.sample_data.wide import lines_to_wide

__all__ = ["GENERATOR_VERSION", "GenerationReport", "generate", "lines_to_wide"]
