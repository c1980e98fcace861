"""Running a sweep: scikit-learn's search over ``Pipeline(StandardScaler, NNClassifier)``, on
local processes or on a Dask cluster, and the best candidate packaged as a model.

The search is scikit-learn's own ``GridSearchCV`` / ``RandomizedSearchCV``; the only change is
``_run_search``, scikit-learn's extension point for the order of evaluation: it hands the
candidates to ``evaluate_candidates`` in chunks of one per worker slot, and after each chunk
calls ``on_chunk`` with the results so far. The CLI writes them to disk there, so a Ctrl-C
(which aborts the chunk in flight) keeps every finished chunk. Chunking changes neither the
candidates, nor the folds (the splitter has a fixed seed), nor any fit, so the scores are the
same as in one call; the cost is that a chunk waits for its slowest fit.

Where the fits run is :mod:`scratchnet.app.sweep.backends`' business.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    StratifiedKFold,
    StratifiedShuffleSplit,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from scratchnet.app.datasets import CLASS_NAMES
from scratchnet.app.sweep.backends import Backend, SweepError
from scratchnet.app.sweep.config import Distribution, SweepConfig
from scratchnet.estimator.classifier import NNClassifier
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.estimator.training_record import Metrics, TrainingRecord

STEP = "clf"  # the pipeline step name, the prefix of every swept parameter: "clf__epochs"


# --- the search -------------------------------------------------------------------------------
class _Chunked:
    """Evaluate the candidates in chunks, reporting the results after each (see above).

    A chunk whose every fit fails (scikit-learn then raises instead of scoring NaN) is recorded
    in ``failed_`` as ``(params, last line of the error)`` and the search goes on."""

    chunk_size: int = 1
    on_chunk: Callable | None = None

    def _run_search(self, evaluate_candidates):
        candidates = self._candidates()
        self.failed_, results = [], None
        for start in range(0, len(candidates), self.chunk_size):
            chunk = candidates[start : start + self.chunk_size]
            try:
                results = evaluate_candidates(chunk)
            except ValueError as exc:
                if "fits failed" not in str(exc):
                    raise
                error = str(exc).strip().splitlines()[-1]
                self.failed_ += [(params, error) for params in chunk]
            if self.on_chunk is not None:
                self.on_chunk(results, self.failed_, len(candidates))
        if results is None:
            raise SweepError(f"every candidate failed; the last error: {self.failed_[-1][1]}")


class ChunkedGridSearchCV(_Chunked, GridSearchCV):
    def _candidates(self) -> list[dict]:
        return list(ParameterGrid(self.param_grid))


class ChunkedRandomizedSearchCV(_Chunked, RandomizedSearchCV):
    def _candidates(self) -> list[dict]:
        return list(
            ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state)
        )


def build_search(config: SweepConfig, chunk_size: int = 1, on_chunk: Callable | None = None):
    """The scikit-learn search ``config`` describes, refitting the best on all the data."""
    pipeline = Pipeline(
        [("scale", StandardScaler()), (STEP, NNClassifier(**config.estimator_params()))]
    )
    space = {
        f"{STEP}__{name}": spec.scipy() if isinstance(spec, Distribution) else spec
        for name, spec in config.params.items()
    }
    if config.folds is not None:
        cv = StratifiedKFold(config.folds, shuffle=True, random_state=config.seed)
    else:
        cv = StratifiedShuffleSplit(
            1, test_size=config.validation_fraction, random_state=config.seed
        )
    common = dict(scoring=config.scoring, cv=cv, refit=True, error_score=np.nan)
    if config.kind == "grid":
        search = ChunkedGridSearchCV(pipeline, space, **common)
    else:
        search = ChunkedRandomizedSearchCV(
            pipeline, space, n_iter=config.n_candidates, random_state=config.seed, **common
        )
    search.chunk_size, search.on_chunk = max(1, chunk_size), on_chunk
    return search


def run_sweep(
    config: SweepConfig,
    X: np.ndarray,
    y: np.ndarray,
    backend: Backend,
    on_chunk: Callable | None = None,
):
    """Fit the search on ``(X, y)`` (raw pixels, labels) where ``backend`` says; return it.

    ``on_chunk(results, failed, n_candidates)`` is called after every chunk with the results
    so far (formatted like ``cv_results_``, or None before any success) and the failed
    candidates (see ``_Chunked``)."""
    search = build_search(config, chunk_size=backend.slots, on_chunk=on_chunk)
    with warnings.catch_warnings(), backend.context(X, y):
        # A fit that fails (a learning rate that diverges) scores NaN and ranks last; the
        # table says so, instead of scikit-learn's multi-line warnings.
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.filterwarnings("ignore", message=".*test scores are non-finite")
        # Overflow in a diverging fit run here (sequential): the failed candidate says it.
        warnings.simplefilter("ignore", RuntimeWarning)
        search.fit(X, y)
    return search


# --- the best model ---------------------------------------------------------------------------
def best_model(search, config: SweepConfig, X_test=None, y_test=None) -> TrainedModel:
    """The refitted best pipeline as a :class:`TrainedModel` (what ``save_model`` writes): the
    network, a :class:`Standardizer` with the pipeline scaler's statistics, the class names and
    a :class:`TrainingRecord`, with the test accuracy when a test set is given."""
    scaler, clf = search.best_estimator_[0], search.best_estimator_[-1]
    model = TrainedModel(
        network=clf.network_,
        scaler=Standardizer(mean=scaler.mean_.copy(), std=scaler.scale_.copy()),
        class_names=[CLASS_NAMES[int(c)] for c in clf.classes_],
        input_shape=(int(scaler.n_features_in_),),
        dtype=clf.dtype,
    )
    test_accuracy = None
    if X_test is not None:
        labels = clf.classes_
        known = np.isin(y_test, labels)
        pred = labels[model.predict(X_test[known])]
        test_accuracy = float(np.mean(pred == y_test[known]))
    model.meta = _training_record(search, config, test_accuracy)
    return model


def _training_record(search, config: SweepConfig, test_accuracy: float | None) -> dict:
    """The model directory's record: what ``scratchnet train`` writes (the cross-validated
    accuracy as the validation accuracy), plus a ``sweep`` entry with the search's summary."""
    scaler, clf = search.best_estimator_[0], search.best_estimator_[-1]
    best = search.best_index_
    mean = float(search.cv_results_["mean_test_score"][best])
    record = TrainingRecord(
        preset="sweep",
        params={k: v for k, v in clf.get_params().items() if k != "verbose"},
        seed=config.seed,
        labels=[int(c) for c in clf.classes_],
        n_train=int(np.max(scaler.n_samples_seen_)),
        epochs_run=int(clf.n_iter_),
        history=clf.history_,
        metrics=Metrics(
            test_accuracy=test_accuracy,
            best_validation_accuracy=mean if config.scoring == "accuracy" else None,
            training_seconds=float(search.refit_time_),
        ),
        created=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    summary = {
        "file": config.source,
        "kind": config.kind,
        "scoring": config.scoring,
        "folds": config.folds,
        "candidates": len(search.cv_results_["params"]),
        "best": {k.removeprefix(f"{STEP}__"): v for k, v in search.best_params_.items()},
        "cv_mean": mean,
        "cv_std": float(search.cv_results_["std_test_score"][best]),
    }
    return {**record.to_json(), "sweep": summary}
