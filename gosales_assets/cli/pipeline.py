"""``gosales generate | run | bench | audit``: sample data, pipeline runs without
the UI, the benchmark and the leakage audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from gosales_assets.cli.analyst import print_summary
from gosales_assets.cli.app import context_config, log, main, parse_date


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
@click.option("--start", callback=parse_date, help="First order date, YYYY-MM-DD.")
@click.option("--end", callback=parse_date, help="Last order date, YYYY-MM-DD.")
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
@click.option(
    "--shift",
    "shift_specs",
    multiple=True,
    metavar="SPEC",
    help="Multiply one industry's spend from a date on, for drift scenarios "
    "(repeatable; replaces sample_data.shifts): "
    "'industry=<name>,factor=2.0,from=YYYY-MM-DD[,share=0.5]'.",
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
    shift_specs: tuple[str, ...],
) -> None:
    """Generate the synthetic sample data set (the embedded default input)."""
    from gosales_assets.sample_data import generate as run_generate
    from gosales_assets.sample_data.shift import SpendShift, parse_shift

    cfg = context_config(ctx)
    sd = cfg.sample_data
    try:
        shifts = (
            [parse_shift(spec) for spec in shift_specs]
            if shift_specs
            else [SpendShift(s.industry, s.factor, s.start, s.share) for s in sd.shifts]
        )
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--shift") from None
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
        shifts=shifts,
    )
    click.echo(f"sample data written to {out}: {report}")


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=parse_date,
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

    cfg = context_config(ctx)
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
    if summary.published is not None:
        click.echo(f"published analyst copy: {summary.published}")
    elif summary.publish_error:
        click.echo(
            f"WARNING: the analyst copy was not refreshed: {summary.publish_error}",
            err=True,
        )
    if not summary.success:
        raise click.ClickException(
            "a run failed; see the messages above, or open the run in the Dagster UI "
            "(make dev)"
        )
    print_summary(cfg, summary.cutoff)


@main.command()
@click.option(
    "--scale",
    type=click.Choice(["XS", "S", "M", "L"]),
    default="S",
    show_default=True,
    help="XS = 1k customers (CI mode), S = 10k, M = 100k (>= 2M lines), "
    "L = 500k (>= 8M lines).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where bench data and stores go (default: $GOSALES_HOME/bench).",
)
@click.option(
    "--customers",
    type=click.IntRange(min=100),
    default=None,
    help="Override the scale's number of customers (the run is marked partial).",
)
@click.option(
    "--targets",
    type=click.IntRange(min=1),
    default=None,
    help="Only the first N configured targets (the run is marked partial).",
)
@click.option(
    "--ingest-lines",
    type=click.IntRange(min=0),
    default=None,
    help="Also ingest a CSV of N synthesized lines in a child process and report its "
    "time and peak memory; 0 = off. Default: 10,000,000 at L, off otherwise.",
)
@click.option(
    "--profile/--no-profile",
    default=None,
    help="Profile the slowest step (reports/profiles/). Default: only when a target "
    "is missed.",
)
@click.pass_context
def bench(
    ctx: click.Context,
    scale: str,
    workdir: Path | None,
    customers: int | None,
    targets: int | None,
    ingest_lines: int | None,
    profile: bool | None,
) -> None:
    """Generate data at a scale, run retraining and nightly through Dagster, write
    reports/benchmark.* and check the report is complete."""
    import json

    from gosales_assets.bench import check_report, run_benchmark

    cfg = context_config(ctx)
    result = run_benchmark(
        scale,
        workdir or cfg.paths.home / "bench",
        cfg.paths.reports_dir,
        ctx.obj.get("config_path"),
        customers=customers,
        targets=targets,
        ingest_lines=ingest_lines,
        profile=profile,
    )
    nightly = result["runs"]["nightly"]
    click.echo(
        f"bench {scale}: nightly wall {nightly['wall_s']}s cpu {nightly['cpu_s']}s "
        f"peak {nightly['peak_rss_mb']} MiB -> {cfg.paths.reports_dir}/benchmark.md"
    )
    for target in result["targets"]:
        if not target["met"]:
            click.echo(f"target missed: {scale} {target['run']}: {target['what']}")
    data = json.loads((cfg.paths.reports_dir / "benchmark.json").read_text("utf-8"))
    missing = check_report(data, [scale])
    if missing:
        raise click.ClickException(
            "benchmark.json is incomplete: " + ", ".join(missing)
        )
    failed = [n for n, r in result["runs"].items() if not r["success"]]
    ingest = result.get("ingest_at_scale")
    if ingest is not None and not ingest.get("success"):
        failed.append("ingest_at_scale")
    if failed:
        raise click.ClickException(
            f"benchmark run(s) failed: {', '.join(failed)}; see the log above"
        )


@main.command()
@click.option(
    "--cutoff",
    default="latest",
    show_default=True,
    callback=parse_date,
    help="Cutoff date YYYY-MM-DD, or 'latest': the newest month-end in the raw data.",
)
@click.option(
    "--division",
    "divisions",
    multiple=True,
    help="Target name (repeatable). Default: every configured target.",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    type=click.Choice(["truncation", "shuffled"]),
    help="Run only this control (repeatable). Default: both. truncation: rows after "
    "the cutoff change nothing at it; shuffled: a model on shuffled labels scores "
    "AUC ~0.5.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the throwaway stores here for inspection (default: a temporary "
    "folder, removed afterwards).",
)
@click.pass_context
def audit(
    ctx: click.Context,
    cutoff: dt.date | None,
    divisions: tuple[str, ...],
    checks: tuple[str, ...],
    workdir: Path | None,
) -> None:
    """Run the leakage controls for a cutoff from the raw folder; write
    reports/audit/<cutoff>.json; exit non-zero when a control fails."""
    from gosales_assets.lib.audit import CHECKS, run_audit, write_report
    from gosales_assets.lib.ingest import RawInputError

    cfg = context_config(ctx)
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
    if not cfg.paths.raw_dir.is_dir():
        raise click.ClickException(
            f"no raw folder at {cfg.paths.raw_dir}; set GOSALES_RAW_DIR or run "
            "`gosales generate`"
        )
    targets = list(dict.fromkeys(n.strip() for n in divisions)) or cfg.target_names
    try:
        report = run_audit(
            cfg,
            cutoff,
            targets,
            checks=checks or CHECKS,
            workdir=workdir,
            log=lambda message: log.info(message),
        )
    except (RawInputError, ValueError) as err:
        raise click.ClickException(f"audit could not start: {err}") from None
    click.echo(report.table())
    path = write_report(report, cfg.paths.reports_dir)
    click.echo(f"report: {path}")
    if not report.passed:
        raise click.ClickException(
            "the audit FAILED: a leakage control did not hold (details in the report)"
        )
