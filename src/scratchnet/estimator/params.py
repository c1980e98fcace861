"""The estimator's parameter check, by hand and from the core's registries.

Each entry of ``CHECKS`` is ``(test, what is allowed)``; the allowed choices of ``optimizer``,
``activation``, ``init``, ``lr_schedule`` and ``architecture`` are the keys of the registries in
the modules that implement them, so adding an optimizer touches one file. scikit-learn's own
parameter-validation machinery is private (``sklearn.utils._param_validation``), so it is not
used here.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from scratchnet.nn.architectures import ARCHITECTURES
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.layers.activations import ACTIVATIONS
from scratchnet.nn.optimizers import OPTIMIZERS
from scratchnet.nn.schedules import SCHEDULES

#: ``init`` also takes "auto": He for ReLU, Glorot otherwise.
INIT_CHOICES = ("auto", *INITIALIZERS)


def _int(low, high=None, none=False):
    def test(v):
        if v is None:
            return none
        ok = isinstance(v, Integral) and not isinstance(v, bool) and v >= low
        return ok and (high is None or v <= high)

    bound = f">= {low}" if high is None else f"in [{low}, {high}]"
    return test, f"an int {bound}" + (" or None" if none else "")


def _real(low, high=None, low_open=False, high_open=True, none=False):
    def test(v):
        if v is None:
            return none
        if not isinstance(v, Real) or isinstance(v, bool) or not math.isfinite(v):
            return False
        above = v > low if low_open else v >= low
        return above and (high is None or (v < high if high_open else v <= high))

    left, right = "(" if low_open else "[", ")" if high_open or high is None else "]"
    return test, f"a finite number in {left}{low}, {'inf' if high is None else high}{right}" + (
        " or None" if none else "")


def _choice(options, none=False):
    return (lambda v: (v is None and none) or (isinstance(v, str) and v in options),
            "one of " + ", ".join(repr(o) for o in options) + (" or None" if none else ""))


def _bool():
    return lambda v: isinstance(v, bool | np.bool_), "True or False"


def _hidden(v):
    sizes = (v,) if isinstance(v, Integral) else v
    return isinstance(sizes, tuple | list) and all(
        isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes)


def _seed(v):
    return v is None or isinstance(v, np.random.Generator | np.random.RandomState) or (
        isinstance(v, Integral) and not isinstance(v, bool) and v >= 0)


CHECKS = {
    "n_classes": _int(2, none=True),
    "n_features": _int(1, none=True),
    "n_hidden_units": (_hidden, "a positive int or a tuple of them, e.g. (256, 128), or ()"),
    "l2": _real(0),
    "l1": _real(0),
    "epochs": _int(1, 10**7),
    "learning_rate": _real(0, low_open=True),
    "n_batches": _int(1),
    "random_seed": (_seed, "None, an int >= 0 or a numpy Generator"),
    "random_state": (_seed, "None, an int >= 0, a numpy Generator or RandomState"),
    "activation": _choice(tuple(ACTIVATIONS)),
    "optimizer": _choice(tuple(OPTIMIZERS)),
    "batch_size": _int(1, none=True),
    "shuffle": _bool(),
    "dropout": _real(0, 1),
    "early_stopping": _bool(),
    "validation_fraction": _real(0, 1, low_open=True),
    "n_iter_no_change": _int(1),
    "restore_best_weights": _bool(),
    "lr_schedule": _choice(tuple(SCHEDULES), none=True),
    "architecture": _choice(ARCHITECTURES),
    "augment": _bool(),
    "weight_decay": _real(0),
    "clip_norm": _real(0, low_open=True, none=True),
    "init": _choice(INIT_CHOICES),
    "dtype": _choice(("float32", "float64")),
    "verbose": (lambda v: isinstance(v, bool | Integral), "True, False or an int"),
    "warm_start": _bool(),
    "label_smoothing": _real(0, 1),
    "test_time_flip": _bool(),
    "class_weight": (lambda v: v is None or v == "balanced" or (
        isinstance(v, dict) and all(isinstance(w, Real) and math.isfinite(w) and w >= 0
                                    for w in v.values())),
        "None, 'balanced' or a dict from class label to a weight >= 0"),
}


def validate_params(params: dict) -> None:
    """``ValueError`` naming the first invalid parameter, its value and what is allowed."""
    for name, value in params.items():
        test, allowed = CHECKS[name]
        if not test(value):
            raise ValueError(f"NNClassifier: {name}={value!r} is invalid; use {allowed}")
