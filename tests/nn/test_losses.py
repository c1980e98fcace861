"""scratchnet.nn.losses: values, finite-difference gradients, the fused softmax gradient."""

import numpy as np
import pytest

from scratchnet.nn.functional import one_hot, softmax
from scratchnet.nn.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy

N, C = 6, 4
RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((N, C)) * 2
LABELS = np.array([0, 1, 2, 3, 1, 1])
PROBS = RNG.uniform(0.1, 0.9, size=(N, 3))
BINARY = (RNG.random((N, 3)) > 0.5).astype(np.float64)
SOFT = RNG.random((N, 3))
TARGETS = RNG.standard_normal((N, 3))


def _loss_value(loss, pred, target):
    return loss.forward(pred.copy(), target)


def _grad_check(loss, pred, target, num_grad, assert_grad_close):
    loss.forward(pred.copy(), target)
    analytic = loss.backward().copy()
    assert analytic.shape == pred.shape
    numeric = num_grad(lambda: _loss_value(loss, pred, target), pred)
    assert_grad_close(analytic, numeric)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_cross_entropy_gradient(reduction, num_grad, assert_grad_close):
    _grad_check(SoftmaxCrossEntropy(reduction), LOGITS.copy(), LABELS, num_grad,
                assert_grad_close)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_weighted_softmax_cross_entropy_gradient_and_value(reduction, num_grad,
                                                           assert_grad_close):
    w = np.array([0.0, 1.0, 2.0, 0.5, 3.0, 1.0])
    loss = SoftmaxCrossEntropy(reduction)
    pred = LOGITS.copy()
    loss.forward(pred.copy(), LABELS, w)
    analytic = loss.backward().copy()
    numeric = num_grad(lambda: loss.forward(pred.copy(), LABELS, w), pred)
    assert_grad_close(analytic, numeric)
    per_sample = -np.log(softmax(LOGITS)[np.arange(N), LABELS])
    divisor = N if reduction == "mean" else 1
    assert loss.forward(LOGITS, LABELS, w) == pytest.approx((w * per_sample).sum() / divisor)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_label_smoothing_gradient_and_value(reduction, num_grad, assert_grad_close):
    w = np.array([0.0, 1.0, 2.0, 0.5, 3.0, 1.0])
    loss = SoftmaxCrossEntropy(reduction, label_smoothing=0.1)
    pred = LOGITS.copy()
    for weights in (None, w):
        loss.forward(pred.copy(), LABELS, weights)
        analytic = loss.backward().copy()
        numeric = num_grad(lambda weights=weights: loss.forward(pred.copy(), LABELS, weights),
                           pred)
        assert_grad_close(analytic, numeric)
    target = 0.9 * one_hot(LABELS, C) + 0.1 / C
    per_sample = -(target * np.log(softmax(LOGITS))).sum(axis=1)
    divisor = N if reduction == "mean" else 1
    assert loss.forward(LOGITS, LABELS, w) == pytest.approx((w * per_sample).sum() / divisor)
    loss.forward(LOGITS, LABELS)
    np.testing.assert_allclose(loss.backward(), (softmax(LOGITS) - target) / divisor)


def test_label_smoothing_out_of_range_is_refused():
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        SoftmaxCrossEntropy(label_smoothing=1.0)


@pytest.mark.parametrize("reduction, divisor", [("mean", N), ("sum", 1)])
def test_softmax_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(reduction, divisor):
    loss = SoftmaxCrossEntropy(reduction)
    loss.forward(LOGITS, LABELS)
    expected = (softmax(LOGITS) - one_hot(LABELS, C)) / divisor
    np.testing.assert_array_equal(loss.backward(), expected)


@pytest.mark.parametrize("reduction, divisor", [("mean", N), ("sum", 1)])
def test_softmax_cross_entropy_value(reduction, divisor):
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    expected = -np.log(p[np.arange(N), LABELS]).sum() / divisor
    assert SoftmaxCrossEntropy(reduction).forward(LOGITS, LABELS) == pytest.approx(expected,
                                                                                     rel=1e-12)


def test_softmax_cross_entropy_does_not_modify_logits_and_is_finite_at_1e4():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]])
    before = logits.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = SoftmaxCrossEntropy("sum").forward(logits, np.array([1, 1]))
    np.testing.assert_array_equal(logits, before)
    assert value == pytest.approx(1e4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_gradient_keeps_dtype(dtype):
    loss = SoftmaxCrossEntropy()
    loss.forward(LOGITS.astype(dtype), LABELS)
    assert loss.backward().dtype == dtype


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("target", [BINARY, SOFT], ids=["binary", "soft"])
def test_binary_cross_entropy_gradient(reduction, target, num_grad, assert_grad_close):
    _grad_check(BinaryCrossEntropy(reduction), PROBS.copy(), target, num_grad,
                assert_grad_close)


def test_binary_cross_entropy_value_and_clipping():
    loss = BinaryCrossEntropy("sum")
    expected = -np.sum(BINARY * np.log(PROBS) + (1 - BINARY) * np.log(1 - PROBS))
    assert loss.forward(PROBS, BINARY) == pytest.approx(expected, rel=1e-12)
    # p of exactly 0 and 1 are clipped, so the loss stays finite.
    extreme = np.array([[0.0], [1.0]])
    assert np.isfinite(loss.forward(extreme, np.array([1.0, 0.0])))
    assert np.all(np.isfinite(loss.backward()))


def test_binary_cross_entropy_then_sigmoid_is_p_minus_t():
    from scratchnet.nn.layers import Sigmoid

    z = RNG.standard_normal((N, 1))
    t = (RNG.random((N, 1)) > 0.5).astype(np.float64)
    act, loss = Sigmoid(), BinaryCrossEntropy("sum")
    p = act.forward(z.copy(), training=True)
    loss.forward(p, t)
    np.testing.assert_allclose(act.backward(loss.backward()), p - t, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mean_squared_error_gradient(reduction, num_grad, assert_grad_close):
    _grad_check(MeanSquaredError(reduction), RNG.standard_normal((N, 3)), TARGETS, num_grad,
                assert_grad_close)


@pytest.mark.parametrize("reduction, divisor", [("mean", N), ("sum", 1)])
def test_mean_squared_error_value_and_formula(reduction, divisor):
    y = RNG.standard_normal((N, 3))
    loss = MeanSquaredError(reduction)
    assert loss.forward(y, TARGETS) == pytest.approx(0.5 * np.sum((y - TARGETS) ** 2) / divisor)
    np.testing.assert_allclose(loss.backward(), (y - TARGETS) / divisor, rtol=1e-15)


def test_targets_are_reshaped_to_the_prediction():
    loss = MeanSquaredError("sum")
    assert loss.forward(np.array([[1.0], [2.0]]), np.array([0.0, 0.0])) == pytest.approx(2.5)


@pytest.mark.parametrize("cls", [SoftmaxCrossEntropy, BinaryCrossEntropy, MeanSquaredError])
def test_unknown_reduction_is_rejected(cls):
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="max")
