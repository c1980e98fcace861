"""``NNClassifier``: the scikit-learn face of the network and its training loop.

It accepts the tutorial's call unchanged::

    NNClassifier(n_classes=10, n_features=784, n_hidden_units=50, l2=0.5, l1=0.0, epochs=300,
                 learning_rate=0.001, n_batches=25, random_seed=1).fit(X_train, y_train)

and keeps the tutorial's scaling of the update: a mini-batch's loss is the *sum* of its samples'
cross-entropies plus the penalty ``l2 / 2 * sum(W**2) + l1 * sum(|W|)``, so its gradients are
summed over the batch and the penalty's gradient is added once per batch. Where the tutorial made
choices that hurt (no biases, a sigmoid output with squared-ish error, uniform(-1, 1) weights that
saturate the hidden units) this network uses biases, a softmax output with cross-entropy, and a
scaled (Glorot/He) start.
"""

from __future__ import annotations

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from scratchnet.nn.functional import cross_entropy_from_logits, softmax
from scratchnet.nn.layers import Dense, Dropout
from scratchnet.nn.layers.activations import get_activation
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import make_optimizer
from scratchnet.nn.schedules import CosineAnnealing, get_schedule
from scratchnet.nn.training import Trainer

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")


class NNClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier trained by mini-batch backpropagation.

    Parameters
    ----------
    n_classes : int, optional
        Number of classes; checked against ``y`` when given (the tutorial passes it).
    n_features : int, optional
        Number of input features; checked against ``X`` when given.
    n_hidden_units : int or tuple of int, default=50
        Width of the hidden layer, or widths of several, e.g. ``(256, 128)``; ``()`` for none.
    l2, l1 : float, default=0.0
        Strengths of the penalties ``l2 / 2 * sum(W**2)`` and ``l1 * sum(|W|)`` on the weight
        matrices (not the biases), added once per mini-batch as in the tutorial.
    epochs : int, default=100
        Passes over the training data.
    learning_rate : float, default=0.001
        Step size; it multiplies the batch-*summed* gradient, as in the tutorial.
    n_batches : int, default=25
        Mini-batches per epoch (the tutorial's way to size them); ignored when ``batch_size``
        is set.
    random_seed : int, optional
        Seed of the single ``np.random.Generator`` behind weights, shuffling, dropout and the
        validation split; the same seed gives identical weights.
    activation : {"sigmoid", "relu", "tanh"}, default="sigmoid"
    optimizer : {"sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"}, default="sgd"
    batch_size : int, optional
        Samples per mini-batch; wins over ``n_batches``.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    dropout : float, default=0.0
        Inverted-dropout probability after each hidden activation.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified) and stop when its
        accuracy has not improved for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    restore_best_weights : bool, default=True
        Whenever there is validation data, end with the weights of the epoch with the best
        validation accuracy (True) or with those of the last epoch (False, Keras's default). With
        a schedule that anneals the learning rate to the end the last weights are the intended
        result, and the best of a few close validation scores is mostly noise.
    lr_schedule : {None, "step", "exponential", "cosine"}, default=None
        Per-epoch learning-rate schedule (cosine anneals to 0 over ``epochs``).
    architecture : {"mlp", "cnn"}, default="mlp"
        "mlp" stacks Dense layers as ``n_hidden_units`` says; "cnn" is the convolutional network
        of :func:`scratchnet.nn.architectures.cnn` for square gray images given as rows of pixels
        (``n_hidden_units`` and ``activation`` then do not apply; ``dropout`` does).
    augment : bool, default=False
        Randomly shift (by up to 1 pixel) and mirror the training images of every batch
        (:mod:`scratchnet.nn.augment`); needs square images as rows.
    weight_decay : float, default=0.0
        Decoupled weight decay ``p -= learning_rate * weight_decay * p`` in every optimizer step.
    init : {"auto", "uniform", "glorot", "he"}, default="auto"
        Weight initialiser; "auto" is Glorot for sigmoid/tanh and He for ReLU. "uniform" is the
        tutorial's U(-1, 1).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of all arithmetic.
    verbose : bool, default=False
        Show a progress bar with loss and accuracy per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    network_ : Sequential
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Mean cross-entropy per training sample, per epoch (scikit-learn's name).
    error_ : list of float
        The tutorial's per-epoch training error: the summed cost of the epoch's mini-batches
        (cross-entropy summed over samples plus the penalty of each batch).
    history_ : dict of lists
        ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` and ``seconds`` per epoch.
    best_validation_score_ : float or None
    """

    _parameter_constraints: dict = {
        "n_classes": [Interval(Integral, 2, None, closed="left"), None],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
        "n_hidden_units": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "l2": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_batches": [Interval(Integral, 1, None, closed="left")],
        "random_seed": ["random_state"],
        "activation": [StrOptions({"sigmoid", "relu", "tanh"})],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "shuffle": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "restore_best_weights": ["boolean"],
        "lr_schedule": [StrOptions({"step", "exponential", "cosine"}), None],
        "architecture": [StrOptions({"mlp", "cnn"})],
        "augment": ["boolean"],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions({"auto", "uniform", "glorot", "xavier", "he", "he_uniform"})],
        "dtype": [StrOptions({"float32", "float64"})],
        "verbose": ["verbose"],
    }

    def __init__(self, n_classes=None, n_features=None, n_hidden_units=50, l2=0.0, l1=0.0,
                 epochs=100, learning_rate=0.001, n_batches=25, random_seed=None,
                 activation="sigmoid", optimizer="sgd", batch_size=None, shuffle=True,
                 dropout=0.0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, restore_best_weights=True, lr_schedule=None,
                 architecture="mlp", augment=False, weight_decay=0.0, init="auto",
                 dtype="float32", verbose=False):
        self.n_classes = n_classes
        self.n_features = n_features
        self.n_hidden_units = n_hidden_units
        self.l2 = l2
        self.l1 = l1
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.n_batches = n_batches
        self.random_seed = random_seed
        self.activation = activation
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.restore_best_weights = restore_best_weights
        self.lr_schedule = lr_schedule
        self.architecture = architecture
        self.augment = augment
        self.weight_decay = weight_decay
        self.init = init
        self.dtype = dtype
        self.verbose = verbose

    # --- building ---------------------------------------------------------------------------
    def _hidden_sizes(self) -> tuple[int, ...]:
        h = self.n_hidden_units
        sizes = (h,) if isinstance(h, Integral) else tuple(h)
        if any(not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(f"n_hidden_units must be a positive int or a tuple of them, got {h!r}")
        return tuple(int(s) for s in sizes)

    def _build_network(self, n_in: int, n_out: int, rng: np.random.Generator) -> Sequential:
        dtype = np.dtype(self.dtype)
        if self.architecture == "cnn":
            from scratchnet.nn.architectures import cnn

            side = _square_side(n_in, "architecture='cnn'")
            return Sequential(cnn(n_out, rng=rng, dtype=dtype, image_shape=(1, side, side),
                                  dropout=self.dropout)).flatten()
        init = self.init
        if init == "auto":
            init = "he" if self.activation == "relu" else "glorot"
        layers = []
        for width in self._hidden_sizes():
            layers.append(Dense(n_in, width, init=init, rng=rng, dtype=dtype))
            layers.append(get_activation(self.activation))
            if self.dropout:
                layers.append(Dropout(self.dropout, rng=rng))
            n_in = width
        # The output layer feeds a softmax: Glorot keeps its logits small at the start.
        out_init = "uniform" if init == "uniform" else "glorot"
        layers.append(Dense(n_in, n_out, init=out_init, rng=rng, dtype=dtype))
        return Sequential(layers).flatten()

    def _make_trainer(self) -> Trainer:
        schedule = get_schedule(self.lr_schedule) if self.lr_schedule != "cosine" else \
            CosineAnnealing(self.epochs)
        optimizer = make_optimizer(self.optimizer, self.learning_rate, schedule=schedule,
                                   weight_decay=self.weight_decay)
        augment = None
        if self.augment:
            from scratchnet.nn.augment import shift_flip

            side = _square_side(self.n_features_in_, "augment=True")
            # One pixel: in a short training budget, wider shifts slow learning more than they
            # help generalisation (measured on Fashion-MNIST).
            augment = shift_flip(max_shift=1, image_shape=(side, side))
        return Trainer(self.network_, optimizer, l1=self.l1, l2=self.l2, augment=augment)

    # --- validation -------------------------------------------------------------------------
    def _validate_training_data(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but n_features={self.n_features}; "
                             "pass matching data or leave n_features=None")
        return np.asarray(X, dtype=self.dtype), y

    def _check_classes(self, classes: np.ndarray) -> None:
        if classes.shape[0] < 2:
            raise ValueError(f"NNClassifier needs samples of at least 2 classes in the data, got "
                             f"1 class: {classes[0]!r}")
        if self.n_classes is not None and classes.shape[0] != self.n_classes:
            raise ValueError(f"y has {classes.shape[0]} classes, but n_classes={self.n_classes};"
                             " pass matching labels or leave n_classes=None")

    def _encode(self, y) -> np.ndarray:
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, self.classes_.shape[0] - 1)
        if not np.array_equal(self.classes_[idx], y):
            unknown = np.setdiff1d(y, self.classes_)
            raise ValueError(f"y contains labels not in classes_: {unknown[:5]!r}")
        return idx.astype(np.int64)

    def _initialise(self, n_features: int, rng: np.random.Generator) -> None:
        self.network_ = self._build_network(n_features, self.classes_.shape[0], rng)
        self._trainer = self._make_trainer()
        self.n_iter_ = 0
        self.loss_curve_, self.error_ = [], []
        self.history_ = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [],
                         "seconds": []}
        self.best_validation_score_ = None

    # --- fitting ----------------------------------------------------------------------------
    def fit(self, X, y, *, validation_data=None, should_stop=None):
        """Train from scratch for ``epochs`` epochs (fewer with early stopping).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        validation_data : tuple (X_val, y_val), optional
            Scored after every epoch into ``history_`` and used for early stopping instead of
            a held-out split. Whenever there is validation data, the weights of the epoch with
            the best validation accuracy are the ones kept, unless ``restore_best_weights`` is
            False.
        should_stop : callable, optional
            Checked after every batch; when it returns True training ends after that batch
            (used by the CLI for Ctrl-C). The weights kept follow ``restore_best_weights``.
        """
        self._validate_params()
        X, y = self._validate_training_data(X, y, reset=True)
        classes, y_enc = np.unique(y, return_inverse=True)
        self._check_classes(classes)
        self.classes_ = classes
        rng = np.random.default_rng(self.random_seed)
        self._rng = rng
        self._initialise(X.shape[1], rng)

        X_val = y_val = None
        if validation_data is not None:
            X_val = np.asarray(validate_data(self, validation_data[0], reset=False),
                               dtype=self.dtype)
            y_val = self._encode(column_or_1d(validation_data[1]))
        elif self.early_stopping:
            X, y_enc, X_val, y_val = _stratified_split(X, y_enc, self.validation_fraction, rng)
        self._run_epochs(X, y_enc, X_val, y_val, self.epochs, should_stop)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``, keeping the weights from earlier calls.

        ``classes`` must be given on the first call when ``y`` may not hold every class
        (scikit-learn's convention); otherwise it is taken from ``y``.
        """
        first = not hasattr(self, "classes_")
        if first:
            self._validate_params()
        X, y = self._validate_training_data(X, y, reset=first)
        if first:
            all_classes = np.unique(y if classes is None else column_or_1d(classes))
            self._check_classes(all_classes)
            self.classes_ = all_classes
            self._rng = np.random.default_rng(self.random_seed)
            self._initialise(X.shape[1], self._rng)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, "
                             f"{self.classes_!r}")
        self._run_epochs(X, self._encode(y), None, None, 1, None)
        return self

    def _run_epochs(self, X, y, X_val, y_val, epochs, should_stop) -> None:
        trainer = self._trainer
        slices = None if self.batch_size else self.n_batches
        n_steps = -(-X.shape[0] // self.batch_size) if self.batch_size else \
            min(self.n_batches, X.shape[0])
        bar = _progress_bar(epochs * n_steps) if self.verbose else None
        best_score, best_state, stale = -np.inf, None, 0
        try:
            for _ in range(epochs):
                start = time.perf_counter()
                result = trainer.run_epoch(
                    X, y, self._rng, n_batches=slices, batch_size=self.batch_size,
                    shuffle=self.shuffle, epoch=self.n_iter_,
                    on_batch=bar.update if bar is not None else None, should_stop=should_stop)
                self.n_iter_ += 1
                self.loss_curve_.append(result.mean_loss)
                self.error_.append(result.total_cost)
                self.history_["loss"].append(result.mean_loss)
                self.history_["accuracy"].append(result.accuracy)
                if X_val is not None:
                    val_loss, val_acc = self._evaluate_encoded(X_val, y_val)
                    self.history_["val_loss"].append(val_loss)
                    self.history_["val_accuracy"].append(val_acc)
                self.history_["seconds"].append(time.perf_counter() - start)
                if bar is not None:
                    bar.set_postfix(_postfix(self.history_), refresh=False)
                if not np.isfinite(result.mean_loss):
                    raise FloatingPointError(
                        f"training diverged at epoch {self.n_iter_} (loss is {result.mean_loss});"
                        " lower learning_rate")
                if X_val is not None:
                    score = self.history_["val_accuracy"][-1]
                    if score > best_score:
                        best_score, stale = score, 0
                        if self.restore_best_weights:  # a copy of every weight, kept only if used
                            best_state = self.network_.state_dict()
                    else:
                        stale += 1
                    self.best_validation_score_ = float(best_score)
                    if self.early_stopping and stale >= self.n_iter_no_change:
                        break
                if result.stopped or (should_stop is not None and should_stop()):
                    break
        finally:
            if bar is not None:
                bar.close()
        if best_state is not None:
            self.network_.load_state_dict(best_state)

    # --- inference --------------------------------------------------------------------------
    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.network_.predict(np.asarray(X, dtype=self.dtype))  # (N, C)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ndarray of shape (n_samples, n_classes), columns as ``classes_``."""
        return softmax(self._logits(X).astype(np.float64))

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))

    def predict(self, X) -> np.ndarray:
        """Most probable class label for each sample, ndarray of shape (n_samples,)."""
        logits = self._logits(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[logits.argmax(axis=1)]

    def hidden_representation(self, X) -> np.ndarray:
        """Activations of the last hidden layer, ndarray of shape (n_samples, n_hidden_last)."""
        check_is_fitted(self)
        X = np.asarray(validate_data(self, X, reset=False), dtype=self.dtype)
        return Sequential(self.network_.layers[:-1]).predict(X) if len(
            self.network_.layers) > 1 else X

    def _evaluate_encoded(self, X, y_enc) -> tuple[float, float]:
        logits = self.network_.predict(X).astype(np.float64)
        loss = float(cross_entropy_from_logits(logits, y_enc).mean())
        return loss, float(np.mean(logits.argmax(axis=1) == y_enc))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.poor_score = False
        return tags


def _square_side(n_features: int, what: str) -> int:
    side = int(round(np.sqrt(n_features)))
    if side * side != n_features:
        raise ValueError(f"{what} needs square images given as rows of pixels; "
                         f"{n_features} features is not a square number")
    return side


def _stratified_split(X, y, fraction: float, rng: np.random.Generator):
    """Hold out ``fraction`` of each class (at least one sample of it when it has two)."""
    val_idx = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = int(round(fraction * members.shape[0]))
        k = min(max(k, 1 if members.shape[0] > 1 else 0), members.shape[0] - 1)
        val_idx.append(rng.choice(members, size=k, replace=False))
    val = np.concatenate(val_idx) if val_idx else np.array([], dtype=int)
    if val.shape[0] == 0:
        raise ValueError("early_stopping needs enough samples to hold out a validation set; "
                         "raise validation_fraction or pass more data")
    mask = np.ones(X.shape[0], dtype=bool)
    mask[val] = False
    return X[mask], y[mask], X[val], y[val]


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="batch", dynamic_ncols=True, leave=True)


def _postfix(history: dict) -> dict:
    out = {"epoch": len(history["loss"]), "loss": f"{history['loss'][-1]:.4f}",
           "acc": f"{history['accuracy'][-1]:.4f}"}
    if history["val_accuracy"]:
        out["val_acc"] = f"{history['val_accuracy'][-1]:.4f}"
    return out
