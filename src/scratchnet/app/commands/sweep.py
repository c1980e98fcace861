"""``scratchnet sweep``: a grid or random search from a TOML file, locally or on Dask.

Writes into ``--out``: ``results.csv`` and ``results.json`` (rewritten after every chunk of
candidates, so Ctrl-C keeps what finished), ``sweep.png`` (score against each swept
parameter) and ``best-model/``, the best candidate refit on all the training images, a model
directory like ``scratchnet train`` writes (``evaluate``, ``predict``, ``report`` and ``serve``
take it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scratchnet.app.commands.common import UsageError, add_data_dir, bounded_float, positive_int

BEST_MODEL = "best-model"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="hyper-parameter search (grid or random) from a TOML file, locally or on Dask",
        description="Cross-validated grid or random search over NNClassifier parameters "
        "(scikit-learn's GridSearchCV/RandomizedSearchCV over StandardScaler + NNClassifier), "
        "described by a TOML file (see sweeps/mlp.toml). Each worker limits BLAS to "
        "--blas-threads threads (1 by default), so N workers use N cores instead of "
        "oversubscribing them.",
    )
    p.add_argument("config", help="sweep file (TOML), e.g. sweeps/mlp.toml")
    p.add_argument(
        "--out",
        required=True,
        help=f"directory for results.csv, results.json, sweep.png and {BEST_MODEL}/",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="local worker processes (joblib's loky; 1 = sequential; default: one "
        "per CPU core); with --scheduler local, the LocalCluster's worker processes",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="tcp://HOST:PORT of a running Dask scheduler (`dask scheduler`), or "
        "'local' to start a Dask LocalCluster on 127.0.0.1 (its dashboard address "
        "is printed)",
    )
    p.add_argument(
        "--blas-threads",
        type=positive_int,
        default=1,
        help="BLAS threads per worker (default 1: the parallelism is across fits, "
        "and more threads per worker would oversubscribe the cores)",
    )
    p.add_argument(
        "--connect-timeout",
        type=bounded_float(0, 3600),
        default=10.0,
        help="seconds to wait for the Dask scheduler and its first worker (default 10)",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="use the first N training images (overrides [data] limit)",
    )
    add_data_dir(p)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    scheduler = args.scheduler
    if scheduler is not None and scheduler != "local":
        if "://" not in scheduler:
            raise UsageError(f"--scheduler {scheduler!r}: give tcp://HOST:PORT or 'local'")
        if args.workers is not None:
            raise UsageError(
                "--workers applies to local runs; a Dask cluster has the workers "
                "it was started with"
            )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")

    from scratchnet.app.sweep.config import SweepConfigError, load_config

    try:
        config = load_config(args.config)
    except SweepConfigError as exc:
        raise UsageError(str(exc)) from None

    from scratchnet.app.datasets import load_fashion_mnist
    from scratchnet.app.sweep import results as res
    from scratchnet.app.sweep.backends import SweepError, open_backend
    from scratchnet.app.sweep.run import best_model, run_sweep
    from scratchnet.estimator.model_dir import save_model

    latest = {"rows": []}
    try:
        # The backend first: an unreachable scheduler fails before the data is read.
        with open_backend(
            args.workers, scheduler, args.blas_threads, args.connect_timeout
        ) as backend:
            X, y = load_fashion_mnist("train", args.data_dir)
            limit = args.limit or config.limit
            X, y = (X[:limit], y[:limit]) if limit else (X, y)
            print(
                f"{config.kind} search: {config.n_total()} candidate(s) x "
                f"{config.folds or 1} fold(s) on {X.shape[0]:,} training images, scored by "
                f"{config.scoring}; running on {backend.description}, "
                f"{backend.blas_threads} BLAS thread(s) per worker",
                flush=True,
            )
            out.mkdir(parents=True, exist_ok=True)
            info = {
                "config": config.source,
                "kind": config.kind,
                "scoring": config.scoring,
                "folds": config.folds,
                "validation_fraction": config.validation_fraction,
                "n_train": int(X.shape[0]),
                "seed": config.seed,
                "backend": backend.description,
            }

            def on_chunk(results, failed, total) -> None:
                rows = res.result_rows(results, failed)
                latest["rows"] = rows
                res.write_results(rows, out, {**info, "complete": False})
                best = rows[0] if rows and rows[0]["error"] is None else None
                print(
                    f"  [{len(rows)}/{total}] best so far: "
                    + (
                        f"{best['mean_score']:.4f} {_params_text(best['params'])}"
                        if best
                        else "none"
                    ),
                    flush=True,
                )

            search = run_sweep(config, X, y, backend, on_chunk=on_chunk)
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        rows = latest["rows"]
        if rows:
            res.save_figure(res.score_figure(rows, config.scoring), out / res.PLOT)
        print(
            f"\ninterrupted: kept the results of {len(rows)} finished candidate(s) in "
            f"{out / res.RESULTS_CSV} and {res.RESULTS_JSON}; no model was saved",
            file=sys.stderr,
        )
        return 130

    rows = res.result_rows(search.cv_results_, search.failed_)
    res.write_results(rows, out, {**info, "complete": True})
    res.save_figure(res.score_figure(rows, config.scoring), out / res.PLOT)
    print()
    print(res.format_table(rows, config.scoring))
    X_test, y_test = load_fashion_mnist("test", args.data_dir)
    model = best_model(search, config, X_test, y_test)
    save_model(model, out / BEST_MODEL)
    print(
        f"\nbest: {_params_text(rows[0]['params'])}, refit on all {X.shape[0]:,} images in "
        f"{search.refit_time_:.1f} s: test accuracy {model.record.metrics.test_accuracy:.4f}"
    )
    print(f"results: {out / res.RESULTS_CSV}, {out / res.RESULTS_JSON}; plot: {out / res.PLOT}")
    print(f"best model: {out / BEST_MODEL} (try `scratchnet evaluate {out / BEST_MODEL}`)")
    return 0


def _params_text(params: dict) -> str:
    from scratchnet.app.sweep.results import _text

    return ", ".join(f"{k}={_text(v)}" for k, v in params.items())
