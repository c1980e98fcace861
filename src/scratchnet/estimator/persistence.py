"""``NNClassifier.save`` and ``NNClassifier.load``: an estimator as a model directory, no pickle.

The directory is the one ``scratchnet train`` writes (:mod:`scratchnet.estimator.model_dir`:
atomic, locked writes; every field and the weights' hash checked on load), so a directory
written either way loads either way:

- an estimator saves with identity preprocessing (mean 0, std 1), its parameters, history and
  classes; loading it gives back an estimator whose ``predict_proba`` runs the same code on the
  same weights, so its probabilities are bit-identical;
- a directory trained by the CLI loads as an estimator that takes raw pixels, as
  ``scratchnet predict`` does: it keeps the stored standardisation in ``input_scaler_`` and
  applies it before the network.

Class labels: non-negative integers travel as ``labels`` (their names as ``class_names``),
strings as ``class_names``; other label types are refused with one line.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from scratchnet.estimator.attributes import fitted_attributes
from scratchnet.estimator.building import make_rng, make_trainer
from scratchnet.estimator.model_dir import load_model, save_model
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.trained_model import TrainedModel
from scratchnet.estimator.training_record import Metrics, TrainingRecord


def save_estimator(est, directory: str | os.PathLike) -> None:
    """Write the fitted estimator ``est`` as a model directory."""
    classes = est.classes_
    if classes.dtype.kind in "iu" and int(classes.min()) >= 0:
        labels, names = [int(c) for c in classes], [str(c) for c in classes]
    elif classes.dtype.kind in "US":
        labels, names = None, [str(c) for c in classes]
    else:
        raise ValueError(f"NNClassifier.save: labels of type {classes.dtype} cannot be saved; "
                         "use non-negative integers or strings as class labels")
    n = est.n_features_in_
    scaler = getattr(est, "input_scaler_", None) or Standardizer(np.zeros(n), np.ones(n))
    params = {k: _jsonable_param(v) for k, v in est.get_params().items()}
    record = TrainingRecord(params=params, history=est.history_, epochs_run=int(est.n_iter_),
                            labels=labels, metrics=Metrics(
                                best_validation_accuracy=est.best_validation_score_))
    model = TrainedModel(network=est.network_, scaler=scaler, class_names=names,
                         input_shape=(n,), dtype=str(est.dtype), meta=record.to_json())
    save_model(model, directory)


def load_estimator(cls, directory: str | os.PathLike):
    """A fitted ``cls`` (NNClassifier) from a model directory written by ``save`` or the CLI;
    ``ModelFileError`` (one line) on a missing, corrupt or tampered directory."""
    model = load_model(directory)
    record = model.record
    known = cls().get_params()
    # JSON has no tuples: hidden sizes come back as the tuple they were.
    est = cls(**{k: tuple(v) if isinstance(v, list) else v
                 for k, v in record.params.items() if k in known})
    est.dtype = model.dtype
    est.classes_ = (np.asarray(record.labels) if record.labels is not None
                    else np.asarray(model.class_names))
    est.n_features_in_ = int(model.scaler.mean.shape[0])
    est.network_ = model.network
    identity = (not model.scaler.mean.any()) and bool(np.all(model.scaler.std == 1))
    est.input_scaler_ = None if identity else model.scaler
    est.rng_ = make_rng(est)
    est.trainer_ = make_trainer(est, est.network_, est.n_features_in_)
    for key, values in record.history.items():
        if hasattr(est.trainer_.history, key):
            getattr(est.trainer_.history, key).extend(values)
    vars(est).update(fitted_attributes(est))
    est.best_validation_score_ = record.metrics.best_validation_accuracy
    return est


def _jsonable_param(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.random.Generator | np.random.RandomState):
        return None  # a generator's state is not a parameter one can write down
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    return value
