"""NNClassifier's inference fast path: a finite float matrix of the right width skips
scikit-learn's ``validate_data``; everything else still gets exactly the errors it gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import validate_data

from scratchnet import NNClassifier
from scratchnet.estimator.inputs import validated_already


@pytest.fixture(scope="module")
def fitted() -> tuple[NNClassifier, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6)).astype(np.float32)  # (N, D)
    y = rng.integers(0, 3, 60)  # (N,)
    model = NNClassifier(n_hidden_units=(8,), activation="relu", epochs=2, random_seed=0)
    return model.fit(X, y), X


def _error(call) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        call()
    return info.type, str(info.value)


def _bad_inputs(X: np.ndarray) -> dict[str, object]:
    nan, inf = X[:2].copy(), X[:2].copy()
    nan[1, 3] = np.nan
    inf[0, 0] = -np.inf
    return {
        "nan": nan,
        "inf": inf,
        "nan float64": nan.astype(np.float64),
        "too few columns": X[:2, :5],
        "too many columns": np.hstack([X[:2], X[:2, :1]]),
        "one row as 1-D": X[0],
        "3-D": X[:2].reshape(2, 2, 3),
        "no rows": X[:0],
        "words": np.full((2, X.shape[1]), "shirt", dtype=object),
        "complex": X[:2].astype(np.complex64),
        "nan in a list": nan.tolist(),
    }


@pytest.mark.parametrize("case", list(_bad_inputs(np.zeros((2, 6), np.float32))))
@pytest.mark.parametrize("method", ["predict_proba", "predict"])
def test_bad_input_gets_validate_datas_error(fitted, case, method):
    model, X = fitted
    bad = _bad_inputs(X)[case]
    expected = _error(
        lambda: validate_data(model, bad, reset=False, dtype=[np.float64, np.float32])
    )
    assert _error(lambda: getattr(model, method)(bad)) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 7])
def test_fast_path_gives_the_checked_paths_answer(fitted, dtype, rows):
    model, X = fitted
    x = X[:rows].astype(dtype)
    assert validated_already(model, x)
    slow = model.predict_proba(x.tolist())  # a list goes through validate_data
    np.testing.assert_array_equal(model.predict_proba(x), slow)
    np.testing.assert_array_equal(model.predict(x), model.predict(x.tolist()))


def test_integer_and_strided_input_still_work(fitted):
    model, X = fitted
    ints = np.round(X[:3] * 10).astype(np.int64)
    assert not validated_already(model, ints)
    np.testing.assert_allclose(model.predict_proba(ints), model.predict_proba(ints.tolist()))
    strided = np.asfortranarray(X[:4])
    np.testing.assert_array_equal(model.predict_proba(strided), model.predict_proba(X[:4]))


def test_unfitted_model_still_raises_not_fitted():
    with pytest.raises(NotFittedError):
        NNClassifier().predict_proba(np.zeros((1, 6), np.float32))
