"""scratchnet.app.xor: the tutorial's backpropagation demo learns XOR."""

import numpy as np
import pytest

from scratchnet.app.xor import XOR_X, XOR_Y, XorResult, train_xor


@pytest.mark.parametrize("seed", [0, 1])
def test_train_xor_gets_all_four_right_and_the_error_falls(seed):
    result = train_xor(seed=seed)
    assert result.all_correct
    np.testing.assert_array_equal(result.predictions > 0.5, XOR_Y > 0.5)
    assert len(result.errors) == 5000
    assert result.errors[-1] < 0.01 * result.errors[0]
    assert result.errors[-1] <= min(result.errors[:100])


def test_train_xor_is_reproducible():
    a, b = train_xor(epochs=200, seed=3), train_xor(epochs=200, seed=3)
    assert a.errors == b.errors
    np.testing.assert_array_equal(a.predictions, b.predictions)


def test_all_correct_checks_every_case():
    wrong = XorResult(errors=[], predictions=np.array([[0.1], [0.9], [0.9], [0.6]]), net=None)
    right = XorResult(errors=[], predictions=np.array([[0.1], [0.9], [0.9], [0.4]]), net=None)
    assert not wrong.all_correct and right.all_correct


def test_the_network_predicts_the_reported_outputs():
    result = train_xor(epochs=300)
    np.testing.assert_array_equal(result.net.forward(XOR_X), result.predictions)
    assert result.predictions.shape == (4, 1)


def test_xor_needs_two_hidden_units():
    with pytest.raises(ValueError, match="at least 2 hidden units"):
        train_xor(n_hidden=1)
