"""Pure logic (polars / DuckDB). Nothing in this package imports Dagster."""
