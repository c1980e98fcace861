"""A sweep's results: rows sorted by score, the text table, the files and the score plot.

The rows come from scikit-learn's ``cv_results_`` (with the ``clf__`` prefix dropped from the
parameter names); candidates whose fits failed score NaN and come last. ``results.csv`` and
``results.json`` are written atomically, so a Ctrl-C while writing leaves the previous version.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from scratchnet.estimator.atomic import atomic_write_bytes, atomic_write_text

RESULTS_CSV, RESULTS_JSON, PLOT = "results.csv", "results.json", "sweep.png"


def result_rows(results: dict | None, failed=(), prefix: str = "clf__") -> list[dict]:
    """One dict per candidate, best first: ``rank``, ``mean_score``, ``std_score`` (over the
    folds), ``mean_fit_time``, ``std_fit_time`` (seconds), ``split_scores``, ``params``, and
    ``error`` for a failed one. ``failed`` lists ``(params, error)`` of candidates whose every
    fit failed."""
    rows = []
    if results is not None:
        n_splits = sum(1 for k in results if k.startswith("split") and k.endswith("_test_score"))
        for i, params in enumerate(results["params"]):
            mean = float(results["mean_test_score"][i])
            rows.append(
                {
                    "mean_score": mean,
                    "std_score": float(results["std_test_score"][i]),
                    "mean_fit_time": float(results["mean_fit_time"][i]),
                    "std_fit_time": float(results["std_fit_time"][i]),
                    "split_scores": [
                        float(results[f"split{k}_test_score"][i]) for k in range(n_splits)
                    ],
                    "params": {k.removeprefix(prefix): v for k, v in params.items()},
                    "error": None if math.isfinite(mean) else "a fit failed (its score is NaN)",
                }
            )
    for params, error in failed:
        rows.append(
            {
                "mean_score": math.nan,
                "std_score": math.nan,
                "mean_fit_time": math.nan,
                "std_fit_time": math.nan,
                "split_scores": [],
                "params": {k.removeprefix(prefix): v for k, v in params.items()},
                "error": error,
            }
        )
    rows.sort(key=lambda r: -r["mean_score"] if math.isfinite(r["mean_score"]) else math.inf)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def format_table(rows: list[dict], scoring: str = "accuracy") -> str:
    """The rows as an aligned text table: rank, score mean ± std, fit time, parameters."""
    names = list(dict.fromkeys(k for r in rows for k in r["params"]))
    cells = [
        [
            str(r["rank"]),
            f"{r['mean_score']:.4f} ± {r['std_score']:.4f}" if r["error"] is None else "failed",
            f"{r['mean_fit_time']:.2f} s" if math.isfinite(r["mean_fit_time"]) else "-",
            *(_text(r["params"].get(n, "")) for n in names),
        ]
        for r in rows
    ]
    header = ["rank", f"{scoring} (mean ± std)", "fit time", *names]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *cells]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"rank {r['rank']} failed: {r['error']}" for r in rows if r["error"] is not None]
    return "\n".join(lines)


def write_results(rows: list[dict], out_dir: str | Path, info: dict | None = None) -> None:
    """``results.json`` (``info`` plus the rows) and ``results.csv`` (one row per candidate,
    one column per parameter) in ``out_dir``, each written atomically."""
    out = Path(out_dir)
    doc = {**(info or {}), "results": [{k: _jsonable(v) for k, v in r.items()} for r in rows]}
    atomic_write_text(out / RESULTS_JSON, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    names = list(dict.fromkeys(k for r in rows for k in r["params"]))
    n_splits = max((len(r["split_scores"]) for r in rows), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "rank",
            "mean_score",
            "std_score",
            "mean_fit_time",
            "std_fit_time",
            *(f"split{k}_score" for k in range(n_splits)),
            *names,
            "error",
        ]
    )
    for r in rows:
        splits = r["split_scores"] + [""] * (n_splits - len(r["split_scores"]))
        writer.writerow(
            [
                r["rank"],
                *(
                    _csv_number(r[k])
                    for k in ("mean_score", "std_score", "mean_fit_time", "std_fit_time")
                ),
                *splits,
                *(_text(r["params"].get(n, "")) for n in names),
                r["error"] or "",
            ]
        )
    atomic_write_text(out / RESULTS_CSV, buffer.getvalue())


def score_figure(rows: list[dict], scoring: str = "accuracy"):
    """One panel per swept parameter: every candidate's mean score (± std over the folds)
    against that parameter's value; numbers on a log axis when they span 10x or more, other
    values (names, tuples of widths) as categories. Returns a matplotlib ``Figure``."""
    from matplotlib.figure import Figure

    ok = [r for r in rows if r["error"] is None]
    names = list(dict.fromkeys(k for r in rows for k in r["params"]))
    fig = Figure(figsize=(4.2 * max(1, len(names)), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(names)), sharey=True, squeeze=False)[0])
    for ax, name in zip(axes, names, strict=False):
        values = [r["params"].get(name) for r in ok]
        means = np.array([r["mean_score"] for r in ok])
        stds = np.array([r["std_score"] for r in ok])
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and values:
            x = np.asarray(values, dtype=float)
            if x.min() > 0 and x.max() >= 10 * x.min():
                ax.set_xscale("log")
            ax.margins(x=0.15)
            unique = sorted(set(values))
            if len(unique) <= 8 and len(unique) < len(values):  # a grid's repeated values
                ax.minorticks_off()
                ax.set_xticks(unique, [_text(v) for v in unique])
        else:
            labels = list(dict.fromkeys(_text(v) for v in values))
            x = np.array([labels.index(_text(v)) for v in values], dtype=float)
            ax.set_xticks(range(len(labels)), labels, rotation=20 if len(labels) > 3 else 0)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.errorbar(x, means, yerr=stds, fmt="o", capsize=3, alpha=0.8)
        if ok:
            best = int(np.argmax(means))
            ax.plot([x[best]], [means[best]], "*", markersize=14, color="C3", label="best")
            ax.legend(fontsize=9, loc="best")
        ax.set_xlabel(name)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"{scoring} (cross-validated)")
    fig.suptitle(f"Sweep: {len(ok)} candidate(s), mean ± std over folds")
    return fig


def save_figure(fig, path: str | Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())


def _text(value) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(str(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _csv_number(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else ""


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
