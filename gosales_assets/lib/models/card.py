"""Model card: a JSON-serializable summary, its Markdown rendering and plots.

Every performance number in the card is out-of-time (``evaluation.protocol`` says
how); the plots need matplotlib, which is optional: without it they return None.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from gosales_assets.lib.models.model import TrainedModel, model_version

CARD_SCHEMA_VERSION = 1
_HEADLINE = (
    "auc",
    "pr_auc",
    "brier",
    "log_loss",
    "calibration_mae",
    "lift@5",
    "lift@10",
    "lift@20",
    "capture@10",
    "gp_weighted_lift@10",
    "prevalence",
    "rows",
    "positives",
)


def _clean(value: Any) -> Any:
    """JSON-safe: nan/inf -> None, dates -> ISO, tuples -> lists, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _clean(value.item())
    return value


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    return _clean(df.to_dicts())


def model_card(model: TrainedModel, target: str, cutoff: dt.date) -> dict[str, Any]:
    """Everything a reader needs to judge the model, JSON-serializable."""
    counts = _records(model.counts)
    train_rows = [c for c in counts if c["role"] == "train"]
    card = {
        "card_schema_version": CARD_SCHEMA_VERSION,
        "target": target,
        "cutoff": cutoff,
        "model_version": model_version(model),
        "family": model.family,
        "hyperparameters": model.params,
        "is_fallback": model.is_fallback,
        "fallback_reason": model.fallback_reason,
        "seed": model.seed,
        "calibration": {
            "method": model.calibration,
            "reason": model.calibration_reason,
            "fit_rows_evaluated_model": model.calibration_fit_rows,
        },
        "training_cutoffs": model.training_cutoffs,
        "validation_cutoff": model.validation_cutoff,
        "evaluation": {
            "protocol": (
                "out-of-time: the reported metrics come from the selected "
                "configuration fit on the training cutoffs only and scored on the "
                "validation cutoff, whose labels it never fitted on. The shipped "
                "model is the same configuration refit on all cutoffs; it has no "
                "in-sample metric in this card."
            ),
            "evaluated_model_fit_cutoffs": model.evaluation_fit_cutoffs,
            "evaluated_model_fit_rows": model.evaluation_fit_rows,
            "shipped_model_fit_cutoffs": model.shipped_fit_cutoffs,
            "shipped_model_fit_rows": model.shipped_fit_rows,
            "validation_cutoff": model.validation_cutoff,
        },
        "counts": counts,
        "rows": {
            "train": sum(c["rows"] for c in train_rows),
            "train_positives": sum(c["positives"] for c in train_rows),
        },
        "features": {"count": len(model.feature_names), "names": model.feature_names},
        "validation_metrics": {k: model.validation_metrics.get(k) for k in _HEADLINE}
        | dict(sorted(model.validation_metrics.items())),
        "gains": _records(model.gains),
        "calibration_bins": _records(model.calibration_bins),
        "thresholds": [
            {"k_percent": float(k), "threshold": v} for k, v in model.thresholds.items()
        ],
        "importance_method": model.importance_method,
        "shap_importance_top20": _records(model.shap_importance.head(20)),
        "selection": {
            "metric": model.selection_metric,
            "tie_break": model.selection_tie_break,
            "grid_points": model.selection_table.height,
            "table": _records(model.selection_table),
        },
        "notes": model.notes,
        "settings": model.settings,
    }
    return _clean(card)


def metric_metadata(metrics: dict[str, Any], is_fallback: bool) -> dict[str, Any]:
    """``oot_<metric>`` for every defined out-of-time metric; the undefined ones (NaN:
    a constant score ranks no account above another, or the validation cutoff holds
    one class only) are named, with why, under ``oot_undefined`` instead of showing
    as NaN."""
    out: dict[str, Any] = {}
    undefined: list[str] = []
    for name, value in sorted(metrics.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out[f"oot_{name}"] = float(value)
        else:
            undefined.append(name)
    if undefined:
        why = (
            "a fallback model gives every account the same score"
            if is_fallback
            else "not defined on the validation cutoff's rows"
        )
        out["oot_undefined"] = f"{', '.join(undefined)}: {why}"
    return out


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.{digits}f}"
    return str(v)


def _table(rows: list[dict[str, Any]], cols: list[str]) -> list[str]:
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return out


def card_markdown(card: dict[str, Any]) -> str:
    """A readable Markdown model card."""
    m = card["validation_metrics"]
    lines = [
        f"# Model card: {card['target']} at {card['cutoff']}",
        "",
        f"- Version: `{card['model_version']}`; family: **{card['family']}**; "
        f"seed {card['seed']}",
        f"- Hyper-parameters: `{json.dumps(card['hyperparameters'])}`",
        f"- Calibration: {card['calibration']['method']} "
        f"({card['calibration']['reason']})",
        f"- Training cutoffs: {', '.join(card['training_cutoffs'])}; "
        f"validation cutoff: {card['validation_cutoff']}",
        f"- Features: {card['features']['count']}",
    ]
    if card["is_fallback"]:
        lines += ["", f"> **Fallback model** - {card['fallback_reason']}"]
    lines += [
        "",
        "## How to read the numbers",
        "",
        card["evaluation"]["protocol"],
        "",
        "## Out-of-time validation metrics",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_fmt(m.get(k))} |" for k in _HEADLINE]
    lines += ["", "## Rows and positives per cutoff", ""]
    lines += _table(
        card["counts"], ["cutoff", "role", "rows", "positives", "prevalence"]
    )
    lines += ["", "## Gains by decile (validation cutoff)", ""]
    lines += _table(
        card["gains"],
        ["decile", "n", "positives", "rate", "lift", "cum_capture", "cum_gp_capture"],
    )
    lines += ["", "## Calibration bins (validation cutoff)", ""]
    lines += _table(card["calibration_bins"], ["bin", "n", "mean_p", "mean_y"])
    lines += ["", "## Top-K score thresholds", ""]
    lines += _table(card["thresholds"], ["k_percent", "threshold"])
    lines += ["", f"## Feature importance ({card['importance_method']})", ""]
    lines += _table(card["shap_importance_top20"], ["rank", "feature", "importance"])
    sel = card["selection"]
    lines += [
        "",
        f"## Selection ({sel['metric']}, tie-break {sel['tie_break']})",
        "",
    ]
    # grid points compete on the raw score; only the selected one is calibrated
    raw = [f"raw_{sel['metric']}", "raw_auc"]
    cols = ["family", "params", "status", *raw, "calibration", sel["metric"], "brier"]
    lines += _table(sel["table"], [*cols, "selected"])
    lines += ["", "## Notes", ""] + [f"- {n}" for n in card["notes"]]
    return "\n".join(lines) + "\n"


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gains(card: dict[str, Any], path: str | Path) -> Path | None:
    """Cumulative capture by decile vs random; None when matplotlib is missing."""
    if not matplotlib_available() or not card["gains"]:
        return None
    plt = _pyplot()
    g = card["gains"]
    x = [0] + [r["decile"] * 10 for r in g]
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot(x, [0] + [r["cum_capture"] or 0 for r in g], marker="o", label="positives")
    if any(r.get("cum_gp_capture") is not None for r in g):
        gp = [0] + [r["cum_gp_capture"] or 0 for r in g]
        ax.plot(x, gp, marker="s", label="net GP")
    ax.plot([0, 100], [0, 1], linestyle="--", color="grey", label="random")
    ax.set_xlabel("top % of accounts (validation cutoff)")
    ax.set_ylabel("cumulative capture")
    ax.set_title(f"Gains: {card['target']} (out-of-time)")
    ax.legend(loc="lower right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def plot_calibration(card: dict[str, Any], path: str | Path) -> Path | None:
    """Mean predicted vs observed rate per bin; None when matplotlib is missing."""
    if not matplotlib_available() or not card["calibration_bins"]:
        return None
    plt = _pyplot()
    b = card["calibration_bins"]
    mp = [r["mean_p"] for r in b]
    my = [r["mean_y"] for r in b]
    top = max([*mp, *my, 1e-9])
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    ax.plot(mp, my, marker="o", label="bins")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed positive rate")
    mae = card["validation_metrics"].get("calibration_mae")
    ax.set_title(f"Calibration: {card['target']} (MAE {_fmt(mae)})")
    ax.legend(loc="upper left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path
