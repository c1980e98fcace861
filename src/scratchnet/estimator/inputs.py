"""The inputs of a fitted estimator's predictions: the fast path past scikit-learn's checks, and
the mirror image a test-time flip predicts on."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from scratchnet.estimator.building import square_side
from scratchnet.nn.augment import mirror

# Input dtypes that validate_data(dtype=[float64, float32]) returns unchanged.
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def validated_already(est, X) -> bool:
    """Whether ``X`` (fitted model; finite float NumPy matrix, fitted width) may skip
    ``validate_data`` (~70 us, most of a one-image prediction); else its errors apply."""
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FAST_DTYPES
            and "network_" in est.__dict__ and "feature_names_in_" not in est.__dict__
            and X.shape[0] >= 1 and X.shape[1] == est.__dict__.get("n_features_in_")
            and bool(np.isfinite(X).all()))


def prediction_input(est, X, mirrored: bool = False) -> np.ndarray:
    """``X`` checked as scikit-learn checks it (skipped when :func:`validated_already`), left-right
    mirrored when ``mirrored`` (square images as rows), then standardised when the estimator
    carries the scaler of a model directory; in the model's dtype, ``(n, n_features)``."""
    if not validated_already(est, X):
        check_is_fitted(est)
        X = validate_data(est, X, reset=False, dtype=[np.float64, np.float32])
    if mirrored:
        X = mirror(X, (square_side(X.shape[1], "test_time_flip=True"),) * 2)
    scaler = getattr(est, "input_scaler_", None)  # set by load() for CLI-trained models
    X = scaler.transform(X, dtype=est.dtype) if scaler is not None else X
    return np.asarray(X, dtype=est.dtype)
