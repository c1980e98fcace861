"""Fitting an estimator: its loss weights and the run of epochs, with the estimator's callbacks
(:func:`scratchnet.estimator.building.make_callbacks`) and the fitted attributes brought up to
date afterwards (:mod:`scratchnet.estimator.attributes`)."""

from __future__ import annotations

import numpy as np

from scratchnet.estimator.attributes import fitted_attributes, warn_if_not_converged
from scratchnet.estimator.building import make_callbacks
from scratchnet.estimator.labels import encode_labels, sample_weights
from scratchnet.nn.callbacks import TrainingDiverged
from scratchnet.nn.history import TrainingState


def resolve_weights(est, sample_weight, y_enc: np.ndarray) -> np.ndarray | None:
    """The per-sample loss weights of a fit, in the model's dtype, or ``None``."""
    class_weight = est.class_weight
    if isinstance(class_weight, dict):  # keyed by label; the loss needs class indices
        class_weight = {int(encode_labels(est.classes_, np.asarray([k]))[0]): w
                        for k, w in class_weight.items()}
    w = sample_weights(sample_weight, class_weight, y_enc, est.classes_.shape[0])
    return None if w is None else w.astype(est.dtype)


def train_epochs(est, X, y, validation, epochs: int, extra_callbacks=(), weights=None,
                 resume: TrainingState | None = None) -> None:
    """Run ``epochs`` epochs of ``est``'s trainer with the estimator's callbacks (fewer when
    ``resume`` continues a run that had done some), then bring its fitted attributes up to date;
    after a divergence with no finite weights to keep, leave it unfitted."""
    done_before = est.trainer_.history.n_epochs
    if resume is not None:
        done_before = len(resume.info["history"]["loss"])
        epochs -= done_before
    guard, best, callbacks = make_callbacks(est, X.shape[0], epochs, validation is not None)
    nothing_to_keep = False
    try:
        est.trainer_.fit(X, y, est.rng_, epochs, n_batches=est.n_batches,
                          batch_size=est.batch_size, shuffle=est.shuffle,
                          validation_data=validation,
                          callbacks=[*callbacks, *extra_callbacks], sample_weight=weights,
                          resume=resume)
    except TrainingDiverged:
        nothing_to_keep = guard.good is None
        raise
    finally:
        if nothing_to_keep:  # no epoch ended with finite weights: leave it unfitted
            for name in [k for k in vars(est) if k.endswith("_")]:
                delattr(est, name)
        else:
            vars(est).update(fitted_attributes(est))
            if best is not None and np.isfinite(best.best_score):
                est.best_validation_score_ = float(best.best_score)
    if not nothing_to_keep:
        stopped = est.trainer_.history.n_epochs < done_before + epochs
        warn_if_not_converged(est, est.trainer_.history, epochs, stopped)

