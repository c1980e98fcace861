"""A trained network with its input convention: what a model directory holds once loaded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scratchnet.estimator.building import square_side
from scratchnet.estimator.standardizer import Standardizer
from scratchnet.estimator.training_record import TrainingRecord
from scratchnet.nn.augment import mirror
from scratchnet.nn.functional import softmax
from scratchnet.nn.network import Sequential


@dataclass
class TrainedModel:
    """A network plus its input convention: what ``train`` writes and the other commands read.

    ``predict_proba`` takes raw pixels ``(N, 784)`` in 0..255 (light object on dark, as in the
    dataset) and applies the stored preprocessing itself.
    """

    network: Sequential
    scaler: Standardizer
    class_names: list[str]
    input_shape: tuple[int, ...] = (784,)
    dtype: str = "float32"
    # The training record as model.json carries it; read it through ``record``.
    meta: dict = field(default_factory=dict)

    @property
    def record(self) -> TrainingRecord:
        """How the model was trained, typed (:class:`TrainingRecord`)."""
        return TrainingRecord.from_json(self.meta)

    def preprocess(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X).reshape(np.asarray(X).shape[0], -1)
        if X.shape[1] != self.scaler.mean.shape[0]:
            raise ValueError(f"the model takes {self.scaler.mean.shape[0]} pixels per image, "
                             f"got {X.shape[1]}")
        Xs = self.scaler.transform(X, dtype=np.dtype(self.dtype))
        return Xs.reshape((Xs.shape[0],) + tuple(self.input_shape))

    def logits(self, X: np.ndarray) -> np.ndarray:
        # Sequential.predict's default chunking, as NNClassifier uses: the same rows in the same
        # chunks give the same bits, so `scratchnet predict` and NNClassifier.load agree exactly.
        return self.network.predict(self.preprocess(X))  # (N, C)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)``; with the estimator's ``test_time_flip``, the mean of
        those of each image and its mirror image, in the same operations as NNClassifier."""
        if self.test_time_flip:
            X = np.asarray(X).reshape(np.shape(X)[0], -1)  # (N, D) raw pixels
            mirrored = mirror(X, (square_side(X.shape[1], "test_time_flip=True"),) * 2)
            return (softmax(self.logits(X).astype(np.float64))
                    + softmax(self.logits(mirrored).astype(np.float64))) / 2.0
        return softmax(self.logits(X).astype(np.float64))  # (N, C)

    @property
    def test_time_flip(self) -> bool:
        # the record's params straight from the dict: every prediction asks, and parsing the
        # whole record (history included) each time would be wasted work on the server's path
        return bool(self.meta.get("params", {}).get("test_time_flip", False))

    def predict(self, X: np.ndarray) -> np.ndarray:
        scores = self.predict_proba(X) if self.test_time_flip else self.logits(X)
        return scores.argmax(axis=1)

    def hidden_representation(self, X: np.ndarray) -> np.ndarray:
        """The last hidden activations of raw pixels ``X``, ndarray of shape (n_samples, H)."""
        return self.network.hidden_representation(self.preprocess(X))
