"""``NNClassifier``: the scikit-learn face of the network.

It accepts the tutorial's call unchanged::

    NNClassifier(n_classes=10, n_features=784, n_hidden_units=50, l2=0.5, l1=0.0, epochs=300,
                 learning_rate=0.001, n_batches=25, random_seed=1).fit(X_train, y_train)

and keeps the tutorial's scaling of the update: a mini-batch's loss is the *sum* of its samples'
cross-entropies plus the penalty ``l2 / 2 * sum(W**2) + l1 * sum(|W|)``, so its gradients are
summed over the batch and the penalty's gradient is added once per batch. Where the tutorial made
choices that hurt (no biases, a sigmoid output with squared-ish error, uniform(-1, 1) weights that
saturate the hidden units) this network uses biases, a softmax output with cross-entropy, and a
scaled (Glorot/He) start.

The estimator validates, encodes labels, builds the network and hands the epochs to
:meth:`scratchnet.nn.training.Trainer.fit`; divergence, best weights, early stopping and the
progress bar are callbacks there.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from scratchnet.estimator.attributes import fitted_attributes
from scratchnet.estimator.building import build_network, make_rng, make_trainer
from scratchnet.estimator.canonical_rows import canonical_rows
from scratchnet.estimator.fitting import resolve_weights, train_epochs
from scratchnet.estimator.inputs import prediction_input
from scratchnet.estimator.labels import check_classes, encode_labels
from scratchnet.estimator.params import validate_params
from scratchnet.estimator.splits import stratified_split
from scratchnet.nn.functional import softmax


class NNClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron (or small CNN) classifier trained by mini-batch backpropagation.

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
        The tutorial's name for ``random_state``; give one or the other (equal if both).
    random_state : int, numpy Generator or RandomState, optional
        Seed of the single ``np.random.Generator`` behind weights, shuffling, dropout and the
        validation split. The same seed gives identical weights on the same machine with the
        same number of BLAS threads (threads split sums differently).
    activation : {"sigmoid", "relu", "tanh"}, default="sigmoid"
        One of :data:`scratchnet.nn.layers.activations.ACTIVATIONS`.
    optimizer : {"sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad"}, default="sgd"
        One of :data:`scratchnet.nn.optimizers.OPTIMIZERS`.
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
        With validation data, end with the weights of the best validation epoch (True) or of
        the last epoch (False, Keras's default; right for a schedule that anneals to the end).
    lr_schedule : {None, "step", "exponential", "cosine", "onecycle"}, default=None
        Learning-rate schedule from :data:`scratchnet.nn.schedules.SCHEDULES` (cosine anneals
        to 0 over ``epochs``; onecycle rises, then falls to 0, set every batch).
    architecture : {"mlp", "cnn"}, default="mlp"
        "mlp" stacks Dense layers as ``n_hidden_units`` says; "cnn" is the convolutional network
        of :func:`scratchnet.nn.architectures.cnn` for square gray images given as rows of pixels
        (``n_hidden_units`` and ``activation`` then do not apply; ``dropout`` does).
    augment : bool, default=False
        Randomly shift (by up to 1 pixel) and mirror the training images of every batch
        (:mod:`scratchnet.nn.augment`); needs square images as rows.
    weight_decay : float, default=0.0
        Decoupled weight decay ``p -= learning_rate * weight_decay * p`` in every optimizer step.
    clip_norm : float, optional
        Rescale each batch's gradient to at most this global L2 norm.
    init : {"auto", "uniform", "glorot", "xavier", "he", "he_uniform"}, default="auto"
        Weight initialiser from :data:`scratchnet.nn.initializers.INITIALIZERS`; "auto" is
        Glorot for sigmoid/tanh and He for ReLU. "uniform" is the tutorial's U(-1, 1).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of all arithmetic.
    verbose : bool, default=False
        Show a progress bar with loss and accuracy per epoch.
    class_weight : None, "balanced" or dict, default=None
        Weights of each class's samples in the loss (scikit-learn's meaning).
    warm_start : bool, default=False
        ``fit`` continues from the current weights (same classes and features) instead of
        starting again; the optimizer starts afresh.
    label_smoothing : float, default=0.0
        Train against ``(1 - label_smoothing) * one_hot(y) + label_smoothing / n_classes``.
    test_time_flip : bool, default=False
        Predict the mean probabilities of each image and its mirror image (square images).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    network_ : Sequential
    trainer_ : Trainer
        The core's trainer: the optimizer, its state and ``history`` (every epoch run).
    rng_ : numpy.random.Generator
        The generator of the fit, drawn on by shuffling, dropout and augmentation.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Mean cross-entropy per training sample, per epoch (scikit-learn's name).
    error_ : list of float
        The tutorial's per-epoch training error: the summed cost of the epoch's mini-batches
        (cross-entropy summed over samples plus the penalty of each batch).
    history_ : dict of lists
        ``loss``, ``accuracy``, ``cost``, ``val_loss``, ``val_accuracy``, ``lr`` and ``seconds``
        per epoch (:class:`scratchnet.nn.training.History`).
    best_validation_score_ : float or None
    best_loss_, validation_scores_, n_outputs_, n_layers_, coefs_, intercepts_
        As in scikit-learn's ``MLPClassifier`` (:mod:`scratchnet.estimator.attributes`).
    """

    def __init__(self, n_classes=None, n_features=None, n_hidden_units=50, l2=0.0, l1=0.0,
                 epochs=100, learning_rate=0.001, n_batches=25, random_seed=None,
                 activation="sigmoid", optimizer="sgd", batch_size=None, shuffle=True,
                 dropout=0.0, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, restore_best_weights=True, lr_schedule=None,
                 architecture="mlp", augment=False, weight_decay=0.0, clip_norm=None,
                 init="auto", dtype="float32", verbose=False, random_state=None,
                 class_weight=None, warm_start=False, label_smoothing=0.0,
                 test_time_flip=False):
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
        self.clip_norm = clip_norm
        self.init = init
        self.dtype = dtype
        self.verbose = verbose
        self.random_state = random_state
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.label_smoothing = label_smoothing
        self.test_time_flip = test_time_flip

    # --- validation -------------------------------------------------------------------------
    def _validate_training_data(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if self.n_features is not None and X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but n_features={self.n_features}; "
                             "pass matching data or leave n_features=None")
        return np.asarray(X, dtype=self.dtype), y

    def _initialise(self, classes: np.ndarray, n_features: int) -> None:
        check_classes(classes, self.n_classes)
        self.classes_ = classes
        self.rng_ = make_rng(self)
        self.network_ = build_network(self, n_features, classes.shape[0], self.rng_)
        self.trainer_ = make_trainer(self, self.network_, n_features)
        self.best_validation_score_ = None
        vars(self).update(fitted_attributes(self))

    # --- fitting ----------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, *, validation_data=None, callbacks=(), resume=None):
        """Train from scratch for ``epochs`` epochs (fewer with early stopping).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Scales each row's loss: a weight of k is k copies of the row (``canonical_rows``).
        validation_data : tuple (X_val, y_val), optional
            Scored after every epoch into ``history_`` and used for early stopping instead of
            a held-out split. Whenever there is validation data, the weights of the epoch with
            the best validation accuracy are the ones kept, unless ``restore_best_weights`` is
            False.
        callbacks : sequence of :class:`scratchnet.nn.callbacks.Callback`, optional
            Asked after every batch and epoch, after the estimator's own (e.g.
            ``StopWhen(flag)`` for Ctrl-C).
        resume : :class:`scratchnet.nn.history.TrainingState`, optional
            Continue an interrupted fit of the same data and parameters from a checkpoint
            (:meth:`scratchnet.nn.training.Trainer.state`) up to ``epochs``.
        """
        validate_params(self.get_params())
        X, y = self._validate_training_data(X, y, reset=True)
        classes, y_enc = np.unique(y, return_inverse=True)
        warm = (self.warm_start and hasattr(self, "network_")
                and np.array_equal(classes, self.classes_))
        if warm:  # the same network and history, a fresh optimizer
            history = self.trainer_.history
            self.trainer_ = make_trainer(self, self.network_, X.shape[1])
            self.trainer_.history = history
        else:
            self._initialise(classes, X.shape[1])
        X, y_enc, weights = canonical_rows(X, y_enc, resolve_weights(self, sample_weight, y_enc),
                                           self.shuffle)
        validation = None
        if validation_data is not None:
            X_val = np.asarray(validate_data(self, validation_data[0], reset=False),
                               dtype=self.dtype)
            validation = (X_val, encode_labels(self.classes_, column_or_1d(validation_data[1])))
        elif self.early_stopping:
            X, y_enc, X_val, y_val, weights = stratified_split(
                X, y_enc, self.validation_fraction, self.rng_, weights)
            validation = (X_val, y_val)
        train_epochs(self, X, y_enc, validation, self.epochs, callbacks, weights, resume)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``(X, y)``, keeping the weights from earlier calls. The rows are used
        as given: unlike ``fit``, no canonical form (it would sort and copy every chunk).

        ``classes`` must be given on the first call when ``y`` may not hold every class
        (scikit-learn's convention); otherwise it is taken from ``y``.
        """
        first = not hasattr(self, "classes_")
        if first:
            validate_params(self.get_params())
        X, y = self._validate_training_data(X, y, reset=first)
        if first:
            self._initialise(np.unique(y if classes is None else column_or_1d(classes)),
                             X.shape[1])
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes of the first call, "
                             f"{self.classes_!r}")
        y_enc = encode_labels(self.classes_, y)
        train_epochs(self, X, y_enc, None, 1, (), resolve_weights(self, sample_weight, y_enc))
        return self

    # --- inference --------------------------------------------------------------------------
    def _logits(self, X, mirrored: bool = False) -> np.ndarray:
        X = prediction_input(self, X, mirrored)  # first: it raises NotFittedError
        return self.network_.predict(X)  # (N, C)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ndarray of shape (n_samples, n_classes), columns as ``classes_``."""
        if self.test_time_flip:
            return (softmax(self._logits(X).astype(np.float64))
                    + softmax(self._logits(X, mirrored=True).astype(np.float64))) / 2.0
        return softmax(self._logits(X).astype(np.float64))

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))

    def predict(self, X) -> np.ndarray:
        """Most probable class label for each sample, ndarray of shape (n_samples,)."""
        scores = self.predict_proba(X) if self.test_time_flip else self._logits(X)  # first:
        return self.classes_[scores.argmax(axis=1)]  # it raises NotFittedError before classes_

    def hidden_representation(self, X) -> np.ndarray:
        """Activations of the last hidden layer, ndarray of shape (n_samples, n_hidden_last)."""
        check_is_fitted(self)
        X = np.asarray(validate_data(self, X, reset=False), dtype=self.dtype)
        return self.network_.hidden_representation(X)

    # --- persistence (see scratchnet.estimator.persistence) ---------------------------------
    def save(self, path) -> None:
        """Write the fitted estimator as a model directory (atomic, hash-checked, no pickle)."""
        check_is_fitted(self)
        from scratchnet.estimator.persistence import save_estimator

        save_estimator(self, path)

    @classmethod
    def load(cls, path) -> NNClassifier:
        """A fitted estimator from a model directory written by :meth:`save` or the CLI."""
        from scratchnet.estimator.persistence import load_estimator

        return load_estimator(cls, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.poor_score = False
        return tags

