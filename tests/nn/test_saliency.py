"""Saliency maps against finite differences of the logit, on an MLP and on a CNN with
BatchNorm (running statistics), max pooling and dropout, in float64."""

import numpy as np
import pytest
from conftest import numerical_gradient, relative_error

from scratchnet.nn.architectures import cnn, mlp
from scratchnet.nn.layers import BatchNorm, Dense
from scratchnet.nn.network import Sequential
from scratchnet.nn.saliency import saliency


def _mlp(rng):
    return mlp(12, 4, hidden=(7, 5), activation="sigmoid", dropout=0.4, rng=rng,
               dtype=np.float64), (12,)


def _cnn(rng):
    layers = cnn(n_classes=4, rng=rng, dtype=np.float64, image_shape=(1, 8, 8),
                 channels=(3, 4), hidden=6, dropout=0.3)
    for layer in layers:
        if isinstance(layer, BatchNorm):  # statistics far from the identity (0, 1)
            layer.buffers["running_mean"][...] = rng.normal(0.0, 0.5, layer.num_features)
            layer.buffers["running_var"][...] = rng.uniform(0.3, 3.0, layer.num_features)
            layer.params["weight"][...] = rng.uniform(0.5, 1.5, layer.num_features)
            layer.params["bias"][...] = rng.normal(0.0, 0.3, layer.num_features)
    return layers, (64,)


NETWORKS = {"mlp": _mlp, "cnn_batchnorm": _cnn}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("explicit_target", [False, True])
def test_saliency_is_the_gradient_of_the_logit(name, explicit_target):
    rng = np.random.default_rng(3)
    layers, shape = NETWORKS[name](rng)
    x = rng.standard_normal((2,) + shape)  # (N, D)
    reference = Sequential(layers)  # the network as it predicts
    target = np.array([1, 3]) if explicit_target else None
    logits, grad = saliency(layers, x, target)
    np.testing.assert_array_equal(logits, reference.forward(x))
    assert grad.shape == x.shape and grad.dtype == np.float64
    classes = target if explicit_target else logits.argmax(axis=1)
    for i, k in enumerate(classes):
        xi = x[i:i + 1].copy()  # (1, D), perturbed in place by the finite differences

        def logit(xi=xi, k=k):
            return float(reference.forward(xi)[0, k])

        numeric = numerical_gradient(logit, xi)[0]
        assert np.linalg.norm(numeric) > 0
        assert relative_error(grad[i], numeric) < 1e-6, (name, i)


def test_the_network_is_not_modified():
    rng = np.random.default_rng(0)
    layers, shape = _cnn(rng)
    net = Sequential(layers)
    flags = [(layer.needs_input_grad, getattr(layer, "inplace", None)) for layer in layers]
    state = net.state_dict()
    x = rng.standard_normal((3,) + shape)
    before = net.forward(x)
    saliency(layers, x)
    np.testing.assert_array_equal(net.forward(x), before)
    after = net.state_dict()
    assert all(np.array_equal(state[k], after[k]) for k in state)
    assert flags == [(layer.needs_input_grad, getattr(layer, "inplace", None))
                     for layer in layers]
    assert not any(layer.cache_at_inference for layer in layers)
    assert all(layer._x is None for layer in layers if isinstance(layer, Dense))


def test_inference_mode_backward_of_batchnorm_fills_its_gradients():
    rng = np.random.default_rng(1)
    layer = BatchNorm(3, dtype=np.float64)
    layer.buffers["running_mean"][...] = [0.5, -1.0, 2.0]
    layer.buffers["running_var"][...] = [0.25, 4.0, 1.0]
    layer.params["weight"][...] = [1.5, 0.5, -2.0]
    layer.cache_at_inference = True
    x = rng.standard_normal((5, 3))
    g = rng.standard_normal((5, 3))
    layer.forward(x)
    dx = layer.backward(g.copy())

    def loss():
        return float(np.sum(layer.forward(x) * g))

    # Running statistics are constants, so the finite differences see Y = a * X + c.
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-6
    for name, p in layer.params.items():
        assert relative_error(layer.grads[name], numerical_gradient(loss, p)) < 1e-6, name
