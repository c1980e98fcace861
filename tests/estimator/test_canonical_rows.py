"""canonical_rows: zero weights dropped, identical rows merged, one order for the same rows."""

import numpy as np

from scratchnet.estimator.canonical_rows import canonical_rows

X = np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0], [0.0, 1.0], [5.0, 5.0]], dtype=np.float32)
Y = np.array([0, 1, 0, 2, 1])


def test_distinct_rows_without_weights_stay_unweighted():
    Xc, yc, wc = canonical_rows(X[[0, 1, 3, 4]], Y[[0, 1, 3, 4]], None, shuffle=True)
    assert wc is None and Xc.shape == (4, 2)


def test_identical_rows_with_the_same_label_merge_into_their_summed_weight():
    Xc, yc, wc = canonical_rows(X, Y, None, shuffle=False)
    # rows 0 and 2 merge; rows 1 and 3 have the same pixels but different labels: kept apart
    np.testing.assert_array_equal(Xc, X[[0, 1, 3, 4]])
    np.testing.assert_array_equal(yc, Y[[0, 1, 3, 4]])
    np.testing.assert_array_equal(wc, [2, 1, 1, 1])
    assert wc.dtype == X.dtype


def test_zero_weights_are_dropped_and_weights_summed():
    w = np.array([0.5, 0.0, 2.0, 1.0, 0.0], dtype=np.float32)
    Xc, yc, wc = canonical_rows(X, Y, w, shuffle=False)
    np.testing.assert_array_equal(Xc, X[[0, 3]])
    np.testing.assert_array_equal(wc, [2.5, 1.0])


def test_shuffled_fits_see_one_order_whatever_the_order_given():
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(50, 3)).astype(np.float32)
    yr = rng.integers(0, 3, size=50)
    w = rng.uniform(0.1, 2, size=50)
    a = canonical_rows(Xr, yr, w, shuffle=True)
    perm = rng.permutation(50)
    b = canonical_rows(Xr[perm], yr[perm], w[perm], shuffle=True)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_repeated_rows_equal_integer_weights():
    w = np.array([3, 0, 1, 2, 1])
    repeated = canonical_rows(np.repeat(X, w, axis=0), np.repeat(Y, w), None, shuffle=True)
    weighted = canonical_rows(X[::-1], Y[::-1], w[::-1].astype(np.float32), shuffle=True)
    for u, v in zip(repeated, weighted, strict=True):
        np.testing.assert_array_equal(u, v)
