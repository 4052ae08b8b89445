"""The ``gosales`` command: sample data, pipeline runs without the UI, summaries."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

import click

from gosales_assets.config import ConfigError, GosalesConfig, load_config

log = logging.getLogger("gosales.cli")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("alembic", "dagster"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _date(ctx: click.Context, param: click.Parameter, value: Any) -> dt.date | None:
    if value is None or value == "latest":
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date in YYYY-MM-DD form"
        ) from None


def _config(ctx: click.Context) -> GosalesConfig:
    cfg = ctx.obj.get("cfg")
    if cfg is None:
        try:
            cfg = load_config(ctx.obj.get("config_path"))
        except ConfigError as err:
            raise click.ClickException(str(err)) from None
        ctx.obj["cfg"] = cfg
    return cfg


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration YAML (default: $GOSALES_CONFIG or config/gosales.yaml).",
)
@click.option("--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """GoSales Assets: leakage-safe cross-sell and whitespace analytics."""
    _setup_logging(verbose)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the raw files (default: paths.raw_dir or GOSALES_RAW_DIR).",
)
@click.option(
    "--customers",
    type=click.IntRange(min=10),
    default=None,
    help="Number of customers (default: sample_data.customers).",
)
@click.option("--start", callback=_date, help="First order date, YYYY-MM-DD.")
@click.option("--end", callback=_date, help="Last order date, YYYY-MM-DD.")
@click.option(
    "--seed", type=int, default=None, help="Random seed (default from config)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format of the raw files.",
)
@click.option(
    "--layout",
    type=click.Choice(["long", "wide"]),
    default="long",
    show_default=True,
    help="long: sales_lines (one row per line); wide: sales_log (one row per invoice).",
)
@click.option(
    "--ground-truth/--no-ground-truth",
    default=True,
    show_default=True,
    help="Also write ground_truth.parquet for sample_data.ground_truth_cutoffs.",
)
@click.pass_context
def generate(
    ctx: click.Context,
    out: Path | None,
    customers: int | None,
    start: dt.date | None,
    end: dt.date | None,
    seed: int | None,
    fmt: str,
    layout: str,
    ground_truth: bool,
) -> None:
    """Generate the synthetic sample data set (the embedded default input)."""
    from gosales_assets.sample_data import generate as run_generate

    cfg = _config(ctx)
    sd = cfg.sample_data
    start = start or sd.start
    end = end or sd.end
    if end <= start:
        raise click.BadParameter(f"--end {end} must be after --start {start}")
    out = out or cfg.paths.raw_dir
    log.info(
        "generating sample data out=%s customers=%s", out, customers or sd.customers
    )
    report = run_generate(
        out,
        cfg,
        customers=customers or sd.customers,
        start=start,
        end=end,
        seed=sd.seed if seed is None else seed,
        fmt=fmt,  # type: ignore[arg-type]
        layout=layout,  # type: ignore[arg-type]
        ground_truth_cutoffs=sd.ground_truth_cutoffs if ground_truth else (),
        ground_truth_simulations=sd.ground_truth_simulations,
    )
    click.echo(f"sample data written to {out}: {report}")


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=_date,
    help="Cutoff date YYYY-MM-DD, or 'latest' for the newest month-end in the data.",
)
@click.option(
    "--division",
    "divisions",
    multiple=True,
    help="Target name (repeatable). Default: every configured target.",
)
@click.option(
    "--skip-ingest", is_flag=True, help="Reuse the raw tables of the last ingestion."
)
@click.option(
    "--train/--no-train",
    default=True,
    show_default=True,
    help="Train the models at the cutoff (with every upstream partition they need); "
    "--no-train scores with the newest registered models.",
)
@click.pass_context
def run(
    ctx: click.Context,
    cutoff: dt.date | None,
    divisions: tuple[str, ...],
    skip_ingest: bool,
    train: bool,
) -> None:
    """Materialize everything that exists for a cutoff, through the Dagster instance."""
    from gosales_assets.runner import run_pipeline

    cfg = _config(ctx)
    for name in divisions:
        if name.strip() not in cfg.target_names:
            raise click.BadParameter(
                f"unknown target {name!r}; known: {', '.join(cfg.target_names)}",
                param_hint="--division",
            )
    if cutoff is not None and cutoff < cfg.partitions.cutoff_start:
        raise click.BadParameter(
            f"{cutoff} is before partitions.cutoff_start {cfg.partitions.cutoff_start}",
            param_hint="--cutoff",
        )
    summary = run_pipeline(cfg, cutoff, divisions, skip_ingest=skip_ingest, train=train)
    for job, run_id, ok in summary.runs:
        click.echo(f"{job}: {'succeeded' if ok else 'FAILED'} (run {run_id})")
    if not summary.success:
        raise click.ClickException(
            "a run failed; see the messages above, or open the run in the Dagster UI "
            "(make dev)"
        )
    _print_summary(cfg, summary.cutoff)


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=_date,
    help="Cutoff date YYYY-MM-DD, or 'latest' for the newest materialized cutoff.",
)
@click.pass_context
def summary(ctx: click.Context, cutoff: dt.date | None) -> None:
    """Print a short summary of the curated store at a cutoff."""
    cfg = _config(ctx)
    _print_summary(cfg, cutoff)


@main.command()
@click.option(
    "--scale",
    type=click.Choice(["S", "M", "L"]),
    default="S",
    show_default=True,
    help="S = 10k customers, M = 100k (~2M lines), L = 500k (~10M lines).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where bench data and stores go (default: $GOSALES_HOME/bench).",
)
@click.pass_context
def bench(ctx: click.Context, scale: str, workdir: Path | None) -> None:
    """Generate data at a scale, run the nightly graph, write reports/benchmark.*."""
    from gosales_assets.bench import run_benchmark

    cfg = _config(ctx)
    result = run_benchmark(
        scale,
        workdir or cfg.paths.home / "bench",
        cfg.paths.reports_dir,
        ctx.obj.get("config_path"),
    )
    nightly = result["runs"]["nightly"]
    click.echo(
        f"bench {scale}: nightly wall {nightly['wall_s']}s cpu {nightly['cpu_s']}s "
        f"peak {nightly['peak_rss_mb']} MiB -> {cfg.paths.reports_dir}/benchmark.md"
    )
    if not nightly["success"]:
        raise click.ClickException("a benchmark run failed; see the log above")


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=_date,
    help="Cutoff date YYYY-MM-DD, or 'latest' for the newest scored cutoff.",
)
@click.option("--division", default=None, help="Only this target (default: all).")
@click.option(
    "--n",
    "limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many opportunities to print.",
)
@click.pass_context
def top(
    ctx: click.Context, cutoff: dt.date | None, division: str | None, limit: int
) -> None:
    """Print the best whitespace opportunities with their reasons."""
    from gosales_assets.lib.summary import top_opportunities

    cfg = _config(ctx)
    if division is not None and division.strip() not in cfg.target_names:
        raise click.BadParameter(
            f"unknown target {division!r}; known: {', '.join(cfg.target_names)}",
            param_hint="--division",
        )
    if not cfg.duckdb_path.exists():
        raise click.ClickException(
            f"no curated store at {cfg.duckdb_path}; run `gosales run` first"
        )
    click.echo(top_opportunities(cfg, cutoff, division, limit))


def _print_summary(cfg: GosalesConfig, cutoff: dt.date | None) -> None:
    from gosales_assets.lib.summary import store_summary

    if not cfg.duckdb_path.exists():
        raise click.ClickException(
            f"no curated store at {cfg.duckdb_path}; run `gosales run` first"
        )
    click.echo(store_summary(cfg, cutoff))


if __name__ == "__main__":  # pragma: no cover
    main()
