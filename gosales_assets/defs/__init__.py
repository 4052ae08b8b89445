"""Dagster definitions, one folder per layer, loaded by ``load_from_defs_folder``."""
