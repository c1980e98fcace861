"""Shared test helpers: finite-difference gradients and the relative error they are judged by."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

# Central differences in float64: truncation error O(h**2), rounding error O(eps / h).
FD_STEP = 1e-6
FD_TOLERANCE = 1e-6


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """``d f() / d x`` by central differences, perturbing ``x`` in place (it may be a view into
    a network's parameters) and restoring every entry afterwards."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f()
        x[idx] = old - h
        f_minus = f()
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``|a - n| / (|a| + |n|)`` in the Frobenius norm (0 when both are 0)."""
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / denom) if denom else 0.0


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """The tests' matrices are small: BLAS threads gain nothing there, and on a shared, loaded
    machine OpenBLAS's spinning threads make each product 10-100x slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def num_grad() -> Callable[..., np.ndarray]:
    return numerical_gradient


@pytest.fixture
def assert_grad_close() -> Callable[[np.ndarray, np.ndarray], None]:
    def check(analytic: np.ndarray, numeric: np.ndarray) -> None:
        assert analytic.shape == numeric.shape
        assert np.linalg.norm(numeric) > 0, "degenerate check: the numerical gradient is 0"
        err = relative_error(analytic, numeric)
        assert err < FD_TOLERANCE, f"relative error {err:.2e}"

    return check


@pytest.fixture(params=["blas", "numpy"])
def blas_path(request, monkeypatch):
    """Run a test once with ``scratchnet.nn.blas`` on NumPy's OpenBLAS and once on its NumPy
    fallback; the value says which."""
    from scratchnet.nn import blas

    if request.param == "blas" and not blas.has_blas():
        pytest.skip("NumPy's BLAS has no axpby here; the NumPy path is what runs")
    if request.param == "numpy":
        monkeypatch.setattr(blas, "_routines", lambda: {})
    return request.param


@pytest.fixture(scope="session")
def fashion_mnist_test():
    """The real Fashion-MNIST test set ``(X, y)``, loaded once and read-only, or a skip when the
    files are not installed."""
    from scratchnet.app.datasets import DatasetError, load_fashion_mnist

    try:
        X, y = load_fashion_mnist("test")
    except DatasetError as exc:
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    X.flags.writeable = y.flags.writeable = False
    return X, y
