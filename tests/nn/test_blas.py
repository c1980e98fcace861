"""scratchnet.nn.blas: ``y = a * x + b * y`` on NumPy's OpenBLAS and on the NumPy fallback."""

import numpy as np
import pytest

from scratchnet.nn import blas

COEFFICIENTS = [(1.0, 0.9), (-0.25, 1.0), (1.0, 1.0), (-1.0, 1.0), (0.1, 0.999), (2.5, -0.5)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("a", "b"), COEFFICIENTS)
def test_axpby_matches_the_formula(blas_path, dtype, a, b):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((37, 53)).astype(dtype)  # odd sizes reach the kernels' tails
    y = rng.standard_normal((37, 53)).astype(dtype)
    x0, expected = x.copy(), a * x.astype(np.float64) + b * y.astype(np.float64)
    blas.axpby(a, x, b, y)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)
    assert y.dtype == dtype
    np.testing.assert_array_equal(x, x0)


def test_numpy_path_writes_a_times_x_into_scratch(blas_path):
    x, y, scratch = np.arange(4.0), np.ones(4), np.zeros(4)
    blas.axpby(3.0, x, 0.5, y, scratch=scratch)
    np.testing.assert_allclose(y, [0.5, 3.5, 6.5, 9.5])
    if blas_path == "numpy":
        np.testing.assert_array_equal(scratch, [0.0, 3.0, 6.0, 9.0])


@pytest.mark.parametrize("case", ["strided", "mixed dtypes", "integers", "overlapping"])
def test_arrays_blas_cannot_take_get_the_numpy_path(case):
    base = np.arange(12.0)
    x, y = {
        "strided": (base[::2].copy(), np.ones(12)[::2]),
        "mixed dtypes": (base.astype(np.float32), np.ones(12)),
        "integers": (np.arange(12), np.ones(12, dtype=np.int64)),
        "overlapping": (base[:6], base[3:9]),
    }[case]
    expected = 2 * x + y if case != "integers" else x + y
    blas.axpby(2.0 if case != "integers" else 1.0, x, 1.0, y)
    np.testing.assert_allclose(y, expected)


def test_numpys_openblas_is_found_when_numpy_bundles_one():
    """A wheel of NumPy ships OpenBLAS with axpby; losing it would silently cost speed."""
    config = blas._blas_config()
    if "openblas" not in str(config.get("name", "")).lower():
        pytest.skip(f"NumPy is built on {config.get('name', 'an unknown BLAS')}, not OpenBLAS")
    assert blas.has_blas()


def test_routines_that_compute_something_else_are_refused():
    def wrong(n, a, x, incx, *rest):
        return None  # leaves y alone

    assert not blas._works({"saxpby": wrong, "saxpy": wrong, "daxpby": wrong, "daxpy": wrong})
