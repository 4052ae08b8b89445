"""A short, human-readable summary of the curated store at a cutoff."""

from __future__ import annotations

import datetime as dt

from gosales_assets.config import GosalesConfig
from gosales_assets.lib.store import Store


def store_summary(
    cfg: GosalesConfig, cutoff: dt.date | None = None, store: Store | None = None
) -> str:
    """``store``: what to read (default: the live store; the CLI passes the published
    copy when there is one)."""
    store = store or Store.from_config(cfg)
    with store.connect(read_only=True) as con:
        if cutoff is None:
            row = con.execute(
                "SELECT max(cutoff) FROM star.fact_transactions"
            ).fetchone()
            if not row or row[0] is None:
                return "no star partition has been materialized yet"
            cutoff = row[0]
        fact = con.execute(
            "SELECT count(*), count(DISTINCT customer_id), count(DISTINCT invoice_id), "
            "min(order_date), max(order_date), round(sum(gross_profit), 2) "
            "FROM star.fact_transactions WHERE cutoff = ?",
            [cutoff],
        ).fetchone()
        cust = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_orphan), "
            "count(*) FILTER (WHERE n_lines = 0) "
            "FROM star.dim_customer WHERE cutoff = ?",
            [cutoff],
        ).fetchone()
        by_div = con.execute(
            "SELECT division, count(*) AS lines, round(sum(gross_profit), 0) AS gp "
            "FROM star.fact_transactions WHERE cutoff = ? "
            "GROUP BY division ORDER BY gp DESC, division",
            [cutoff],
        ).fetchall()
        quarantine = con.execute(
            "SELECT reason, count(*) FROM star.quarantine WHERE cutoff = ? "
            "GROUP BY reason ORDER BY reason",
            [cutoff],
        ).fetchall()
    assert fact is not None and cust is not None
    lines = [
        f"GoSales curated store {store.location}",
        f"cutoff {cutoff}",
        f"  lines {fact[0]:,} | invoices {fact[2]:,} | customers with lines {fact[1]:,}"
        f" | orders {fact[3]} .. {fact[4]} | GP {fact[5]:,}",
        f"  customers known {cust[0]:,} | orphans {cust[1]:,} | prospects {cust[2]:,}",
        "  GP by division:",
        *[f"    {d:<16} lines {n:>9,}  GP {gp:>14,.0f}" for d, n, gp in by_div],
        "  quarantine: "
        + (", ".join(f"{r}={n}" for r, n in quarantine) if quarantine else "none"),
    ]
    return "\n".join(lines)


def top_opportunities(
    cfg: GosalesConfig,
    cutoff: dt.date | None,
    division: str | None,
    limit: int,
    store: Store | None = None,
) -> str:
    """The best opportunities of the cross-division list (or one target's list), read
    from ``store`` (default: the live store)."""
    store = store or Store.from_config(cfg)
    with store.connect(read_only=True) as con:
        if cutoff is None:
            row = con.execute(
                "SELECT max(cutoff) FROM scoring.whitespace_accounts"
            ).fetchone()
            if not row or row[0] is None:
                return "no whitespace list has been materialized yet"
            cutoff = row[0]
        if division is None:
            rows = con.execute(
                "SELECT w.list_rank, w.customer_id, w.target, w.score, w.p_icp, "
                "w.grade, w.rep, concat_ws('; ', i.reason_1, i.reason_2, i.reason_3) "
                "FROM scoring.whitespace_accounts w LEFT JOIN scoring.icp_scores i "
                "ON i.cutoff = w.cutoff AND i.division = w.target "
                "AND i.customer_id = w.customer_id "
                "WHERE w.cutoff = ? ORDER BY w.list_rank LIMIT ?",
                [cutoff, limit],
            ).fetchall()
        else:
            rows = con.execute(
                "SELECT w.rank, w.customer_id, w.division, w.score, w.p_icp, "
                "w.grade, w.rep, concat_ws('; ', i.reason_1, i.reason_2, i.reason_3) "
                "FROM scoring.whitespace w LEFT JOIN scoring.icp_scores i "
                "ON i.cutoff = w.cutoff AND i.division = w.division "
                "AND i.customer_id = w.customer_id "
                "WHERE w.cutoff = ? AND w.division = ? AND w.selected "
                "ORDER BY w.rank LIMIT ?",
                [cutoff, division.strip(), limit],
            ).fetchall()
    title = f"Top {limit} whitespace opportunities at {cutoff}"
    if division:
        title += f" for {division.strip()}"
    lines = [title, ""]
    for rank, cid, target, score, p, grade, rep, reason in rows:
        lines.append(
            f"{rank:>4}. {cid:<14} {target:<16} score {score:.3f} p {p:.3f} "
            f"grade {grade}  rep {rep or '-'}"
        )
        if reason:
            lines.append(f"      why: {reason}")
    if not rows:
        lines.append("  (no selected opportunities)")
    return "\n".join(lines)
