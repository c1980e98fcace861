"""scratchnet.nn.functional: numerically safe sigmoid/softmax/cross-entropy, one_hot, penalties."""

import warnings

import numpy as np
import pytest

from scratchnet.nn import functional as F

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_silent_and_exact_at_the_extremes(dtype):
    z = np.array([-1000.0, -745.5, -50.0, 0.0, 50.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        s = F.sigmoid(z)
    assert s.dtype == dtype
    assert np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5


def test_sigmoid_matches_the_textbook_formula_where_that_is_safe():
    z = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(F.sigmoid(z), 1.0 / (1.0 + np.exp(-z)), rtol=1e-13)


def test_sigmoid_keeps_float_dtype_and_promotes_ints():
    assert F.sigmoid(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert F.sigmoid(np.array([0, 1, -1])).dtype == np.float64


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e300])
def test_softmax_and_log_softmax_are_stable_for_huge_logits(scale):
    z = RNG.standard_normal((5, 7)) * scale
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        p = F.softmax(z)
        logp = F.log_softmax(z)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(logp))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(p.argmax(axis=1), z.argmax(axis=1))
    assert np.all(logp <= 0)


def test_softmax_matches_the_textbook_formula_for_moderate_logits():
    z = RNG.standard_normal((4, 6)) * 3
    expected = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(F.softmax(z), expected, rtol=1e-13)
    np.testing.assert_allclose(F.log_softmax(z), np.log(expected), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.softmax(z.T, axis=0), expected.T, rtol=1e-13)


def test_softmax_is_shift_invariant():
    z = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(F.softmax(z + 1000.0), F.softmax(z), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_keeps_dtype(dtype):
    assert F.softmax(np.zeros((2, 3), dtype=dtype)).dtype == dtype
    assert F.log_softmax(np.zeros((2, 3), dtype=dtype)).dtype == dtype


def test_cross_entropy_from_logits_is_finite_at_logit_1e4():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    with np.errstate(all="raise"):
        ce = F.cross_entropy_from_logits(logits, np.array([1, 2]))
    np.testing.assert_allclose(ce, [1e4, np.log(3.0)], rtol=1e-12)
    assert F.cross_entropy_from_logits(logits, np.array([0, 0]))[0] == 0.0


def test_cross_entropy_from_logits_matches_minus_log_softmax():
    z = RNG.standard_normal((6, 4))
    y = np.array([0, 1, 2, 3, 0, 1])
    expected = -np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))[np.arange(6), y]
    np.testing.assert_allclose(F.cross_entropy_from_logits(z, y), expected, rtol=1e-12)


def test_one_hot():
    out = F.one_hot(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert out.dtype == np.float64
    assert F.one_hot(np.array([1]), 2, dtype=np.float32).dtype == np.float32
    assert F.one_hot(np.array([], dtype=int), 4).shape == (0, 4)


@pytest.mark.parametrize("y, match", [
    (np.array([0, 3]), r"\[0, 3\)"),
    (np.array([-1, 0]), r"\[0, 3\)"),
    (np.array([[0, 1]]), "shape"),
])
def test_one_hot_rejects_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        F.one_hot(y, 3)


@pytest.mark.parametrize("fn, prime", [
    (F.sigmoid, F.sigmoid_prime),
    (F.tanh, F.tanh_prime),
    (F.relu, F.relu_prime),
])
def test_activation_derivatives_match_finite_differences(fn, prime):
    # Keep away from ReLU's kink at 0, where the derivative is not defined.
    z = np.concatenate([np.linspace(-4, -0.1, 20), np.linspace(0.1, 4, 20)])
    h = 1e-6
    numeric = (fn(z + h) - fn(z - h)) / (2 * h)
    np.testing.assert_allclose(prime(z), numeric, rtol=1e-6, atol=1e-9)


def test_sigmoid_prime_from_output_takes_the_activation():
    z = np.linspace(-5, 5, 11)
    a = F.sigmoid(z)
    np.testing.assert_allclose(F.sigmoid_prime_from_output(a), F.sigmoid_prime(z), rtol=1e-14)


def test_l2_and_l1_penalty_values():
    w1, w2 = np.array([[1.0, -2.0]]), np.array([3.0])
    assert F.l2_penalty([w1, w2], 0.5) == pytest.approx(0.5 * 0.5 * (1 + 4 + 9))
    assert F.l1_penalty([w1, w2], 0.1) == pytest.approx(0.1 * (1 + 2 + 3))
    assert F.l2_penalty([], 1.0) == 0.0 and F.l1_penalty([], 1.0) == 0.0


@pytest.mark.parametrize("penalty, grad, strength", [
    (F.l2_penalty, F.l2_penalty_grad, 0.7),
    (F.l1_penalty, F.l1_penalty_grad, 0.3),
])
def test_penalty_gradients_match_finite_differences(penalty, grad, strength, num_grad,
                                                    assert_grad_close):
    ws = [RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2))]
    for w in ws:
        w[np.abs(w) < 1e-3] = 0.5  # keep L1 away from its kink at 0
        numeric = num_grad(lambda: penalty(ws, strength), w)
        assert_grad_close(grad(w, strength), numeric)


def test_l1_subgradient_is_zero_at_zero():
    np.testing.assert_array_equal(F.l1_penalty_grad(np.array([0.0, 2.0, -3.0]), 2.0), [0, 2, -2])
