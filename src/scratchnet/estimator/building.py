"""From the estimator's parameters to the core's objects: the seed, the network, the trainer.

Each function reads the parameters of an :class:`~scratchnet.estimator.classifier.NNClassifier`
(after :func:`~scratchnet.estimator.params.validate_params`) and returns a core object.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from scratchnet.nn import architectures
from scratchnet.nn.callbacks import BestWeights, Callback, DivergenceGuard, EarlyStopping
from scratchnet.nn.losses import SoftmaxCrossEntropy
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import make_optimizer
from scratchnet.nn.schedules import get_schedule
from scratchnet.nn.training import Trainer, batch_slices


def make_rng(est) -> np.random.Generator:
    """The one generator of a fit, from ``random_state`` or the tutorial's ``random_seed``
    (``ValueError`` when both are given and differ)."""
    seed, state = est.random_seed, est.random_state
    if seed is not None and state is not None and not (
            isinstance(seed, Integral) and isinstance(state, Integral) and seed == state):
        raise ValueError(f"NNClassifier: random_seed={seed!r} and random_state={state!r} "
                         "disagree; random_seed is the tutorial's name for random_state, "
                         "so give one of them")
    seed = state if state is not None else seed
    if isinstance(seed, np.random.RandomState):  # scikit-learn's legacy generator
        seed = int(seed.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(seed)


def build_network(est, n_features: int, n_classes: int,
                  rng: np.random.Generator) -> Sequential:
    """The MLP or CNN the parameters describe, its parameters in one flat buffer."""
    dtype = np.dtype(est.dtype)
    if est.test_time_flip:
        square_side(n_features, "test_time_flip=True")
    if est.architecture == "cnn":
        side = square_side(n_features, "architecture='cnn'")
        layers = architectures.cnn(n_classes, rng=rng, dtype=dtype, image_shape=(1, side, side),
                                   dropout=est.dropout)
    else:
        h = est.n_hidden_units
        init = est.init
        if init == "auto":
            init = "he" if est.activation == "relu" else "glorot"
        layers = architectures.mlp(
            n_features, n_classes, hidden=(h,) if isinstance(h, Integral) else tuple(h),
            activation=est.activation, dropout=est.dropout, init=init, rng=rng, dtype=dtype)
    return Sequential(layers).flatten()


def make_trainer(est, network: Sequential, n_features: int) -> Trainer:
    """The optimizer, schedule, penalties, clipping and augmentation the parameters ask for."""
    optimizer = make_optimizer(est.optimizer, est.learning_rate,
                               schedule=get_schedule(est.lr_schedule, est.epochs),
                               weight_decay=est.weight_decay)
    augment = None
    if est.augment:
        from scratchnet.nn.augment import shift_flip

        side = square_side(n_features, "augment=True")
        # One pixel: in a short training budget, wider shifts slow learning more than they
        # help generalisation (measured on Fashion-MNIST).
        augment = shift_flip(max_shift=1, image_shape=(side, side))
    loss = SoftmaxCrossEntropy(reduction="sum", label_smoothing=est.label_smoothing)
    return Trainer(network, optimizer, loss=loss, l1=est.l1, l2=est.l2, augment=augment,
                   clip_norm=est.clip_norm)


def make_callbacks(est, n_samples: int, epochs: int, validation: bool
                   ) -> tuple[DivergenceGuard, BestWeights | None, list[Callback]]:
    """The estimator's own callbacks, in the order they run: the divergence guard, then (with
    validation data) best weights and early stopping, then the progress bar; the guard and the
    best-weights tracker are also returned, since the estimator reads them afterwards."""
    guard, best = DivergenceGuard(est.classes_.shape[0]), None
    callbacks: list[Callback] = [guard]
    if validation:
        best = BestWeights(restore=est.restore_best_weights)
        callbacks.append(best)
        if est.early_stopping:
            callbacks.append(EarlyStopping(est.n_iter_no_change))
    if est.verbose:
        from scratchnet.estimator.progress import ProgressBar

        steps = len(batch_slices(n_samples, est.n_batches, est.batch_size))
        callbacks.append(ProgressBar(epochs * steps))
    return guard, best, callbacks


def square_side(n_features: int, what: str) -> int:
    """The side of square images given as rows of ``n_features`` pixels."""
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise ValueError(f"{what} needs square images given as rows of pixels; "
                         f"{n_features} features is not a square number")
    return side
