"""Conv2D, MaxPool2D, BatchNorm, Reshape, Flatten and the CNN stack: finite-difference gradient
checks in float64, naive-loop references, running statistics, configs and memory layouts."""

import copy
import json

import numpy as np
import pytest
from conftest import numerical_gradient as numeric_grad  # shared finite differences
from conftest import relative_error as rel_error

from scratchnet.nn.architectures import cnn
from scratchnet.nn.layers import (
    BatchNorm,
    Conv2D,
    Flatten,
    MaxPool2D,
    Reshape,
    layer_from_config,
)
from scratchnet.nn.layers import conv as conv_module
from scratchnet.nn.losses import SoftmaxCrossEntropy
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import Adam
from scratchnet.nn.training import Trainer


def check_gradients(layer, x, rng):
    """Compare backward's input and parameter gradients of ``L = sum(Y * G)`` with central
    differences (training mode throughout)."""
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g.copy())

    def loss():
        return float(np.sum(layer.forward(x, training=True) * g))

    assert rel_error(dx, numeric_grad(loss, x)) < 1e-6
    for name, p in layer.params.items():
        assert rel_error(layer.grads[name], numeric_grad(loss, p)) < 1e-6, name


def naive_conv(x, w, b, stride, padding):
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (wd + 2 * padding - kw) // stride + 1
    y = np.zeros((n, co, ho, wo))
    for i in range(n):
        for o in range(co):
            for r in range(ho):
                for s in range(wo):
                    patch = xp[i, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
                    y[i, o, r, s] = np.sum(patch * w[o]) + b[o]
    return y


def naive_maxpool(x, k, s):
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    y = np.empty((n, c, ho, wo))
    for r in range(ho):
        for q in range(wo):
            y[:, :, r, q] = x[:, :, r * s:r * s + k, q * s:q * s + k].max(axis=(2, 3))
    return y


def channels_last(x):
    """The same values as ``x`` with channels-last memory, as Conv2D produces them."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


CONV_CASES = [(1, 0), (1, 1), (2, 0), (2, 1)]


# --- Conv2D -------------------------------------------------------------------------------
# Fewer than 4 input channels and at least 4 take different im2col layouts: test both.
@pytest.mark.parametrize("stride,padding", CONV_CASES)
@pytest.mark.parametrize("in_channels", [2, 4])
def test_conv_gradients(stride, padding, in_channels):
    rng = np.random.default_rng(0)
    layer = Conv2D(in_channels, 3, 3, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    layer.params["bias"][...] = rng.standard_normal(3)
    check_gradients(layer, rng.standard_normal((2, in_channels, 6, 5)), rng)


def test_conv_gradients_rectangular_kernel():
    rng = np.random.default_rng(1)
    layer = Conv2D(2, 2, (3, 2), stride=(2, 1), padding=(1, 0), rng=rng, dtype=np.float64)
    check_gradients(layer, rng.standard_normal((2, 2, 5, 4)), rng)


@pytest.mark.parametrize("stride,padding", CONV_CASES + [(3, 2)])
@pytest.mark.parametrize("in_channels", [1, 5])
def test_conv_forward_matches_naive_loops(stride, padding, in_channels):
    rng = np.random.default_rng(2)
    layer = Conv2D(in_channels, 4, 3, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    layer.params["bias"][...] = rng.standard_normal(4)
    x = rng.standard_normal((2, in_channels, 7, 6))
    expected = naive_conv(x, layer.params["weight"], layer.params["bias"], stride, padding)
    np.testing.assert_allclose(layer.forward(x), expected, atol=1e-12)
    assert layer.output_shape(x.shape[1:]) == expected.shape[1:]


@pytest.mark.parametrize("in_channels", [3, 6])
def test_conv_accepts_any_memory_layout_and_returns_channels_last(in_channels):
    rng = np.random.default_rng(3)
    layer = Conv2D(in_channels, 4, 3, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, in_channels, 5, 5))
    y = layer.forward(x)
    np.testing.assert_allclose(layer.forward(channels_last(x)), y, atol=1e-12)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous


def test_conv_first_layer_skips_input_gradient():
    rng = np.random.default_rng(4)
    layer = Conv2D(1, 2, 3, rng=rng, dtype=np.float64)
    x = rng.standard_normal((2, 1, 5, 5))
    g = rng.standard_normal(layer.forward(x, training=True).shape)
    full = layer.backward(g.copy())
    dw = layer.grads["weight"].copy()
    layer.needs_input_grad = False
    layer.forward(x, training=True)
    assert full is not None and layer.backward(g.copy()) is None
    np.testing.assert_allclose(layer.grads["weight"], dw)


@pytest.mark.parametrize("in_channels", [2, 4])
def test_conv_inference_in_chunks_matches_one_pass(monkeypatch, in_channels):
    rng = np.random.default_rng(5)
    layer = Conv2D(in_channels, 3, 3, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((7, in_channels, 6, 6))
    whole = layer.forward(x, training=True)
    # chunks of 2 images, the last one short
    monkeypatch.setattr(conv_module, "_INFERENCE_COLS", 2 * 6 * 6 * 9 * in_channels)
    np.testing.assert_allclose(layer.forward(x), whole, atol=1e-12)


def test_conv_workspace_is_not_copied():
    layer = Conv2D(1, 2, 3, padding=1, rng=np.random.default_rng(6))
    layer.forward(np.ones((4, 1, 6, 6), dtype=np.float32), training=True)
    clone = copy.deepcopy(layer)
    assert clone._ws == {} and clone._cache is None
    np.testing.assert_array_equal(clone.params["weight"], layer.params["weight"])


def test_conv_rejects_wrong_channels_and_tiny_inputs():
    layer = Conv2D(2, 2, 3)
    with pytest.raises(ValueError, match="channels"):
        layer.forward(np.zeros((1, 3, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="smaller"):
        layer.forward(np.zeros((1, 2, 2, 2), dtype=np.float32))


# --- MaxPool2D ----------------------------------------------------------------------------
def distinct(rng, shape, layout_last=False):
    """Values far apart (no ties, so finite differences never move a maximum)."""
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1
    return channels_last(x) if layout_last else x


@pytest.mark.parametrize("k,s,size", [(2, None, (6, 8)), (2, None, (5, 7)), (3, 2, (7, 7)),
                                      (3, 1, (5, 6)), (3, None, (6, 7))])
def test_maxpool_forward_matches_naive_loops(k, s, size):
    rng = np.random.default_rng(7)
    layer = MaxPool2D(k, s)
    x = rng.standard_normal((2, 3) + size)
    expected = naive_maxpool(x, k, s or k)
    np.testing.assert_array_equal(layer.forward(x), expected)
    np.testing.assert_array_equal(layer.forward(channels_last(x)), expected)
    assert layer.output_shape(x.shape[1:]) == expected.shape[1:]


@pytest.mark.parametrize("k,s,size", [(2, None, (4, 6)), (2, None, (5, 5)), (3, 1, (5, 5)),
                                      (3, None, (6, 6))])
@pytest.mark.parametrize("layout_last", [False, True])
def test_maxpool_gradients(k, s, size, layout_last):
    rng = np.random.default_rng(8)
    check_gradients(MaxPool2D(k, s), distinct(rng, (2, 2) + size, layout_last), rng)


@pytest.mark.parametrize("k,s", [(2, None), (3, 1), (3, None)])
def test_maxpool_ties_send_the_gradient_to_one_position(k, s):
    layer = MaxPool2D(k, s)
    x = np.zeros((1, 2, 6, 6))
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    # Every window routes its gradient to exactly one input: the total is one per window.
    assert dx.sum() == y.size
    assert set(np.unique(dx)) <= set(range(k * k + 1))


# --- BatchNorm ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 4)])
def test_batchnorm_gradients(shape):
    rng = np.random.default_rng(9)
    layer = BatchNorm(shape[1], dtype=np.float64)
    layer.params["weight"][...] = rng.standard_normal(shape[1])
    layer.params["bias"][...] = rng.standard_normal(shape[1])
    check_gradients(layer, rng.standard_normal(shape) * 2 + 1, rng)


def test_batchnorm_gradients_channels_last_input():
    rng = np.random.default_rng(10)
    layer = BatchNorm(3, dtype=np.float64)
    layer.params["weight"][...] = rng.standard_normal(3)
    check_gradients(layer, channels_last(rng.standard_normal((2, 3, 3, 3))), rng)


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 2, 5)])
def test_batchnorm_training_normalises_and_updates_running_stats(shape):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape) * 3 + 5
    layer = BatchNorm(3, momentum=0.25, dtype=np.float64)
    y = layer.forward(x, training=True)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1, atol=1e-4)  # eps keeps it just under 1
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.25 * x.mean(axis=axes))
    np.testing.assert_allclose(layer.buffers["running_var"],
                               0.75 + 0.25 * x.var(axis=axes, ddof=1))


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 2, 5)])
def test_batchnorm_inference_uses_running_stats(shape):
    rng = np.random.default_rng(12)
    layer = BatchNorm(3, dtype=np.float64)
    layer.params["weight"][...] = [1.0, 2.0, -1.0]
    layer.params["bias"][...] = [0.0, 0.5, 1.0]
    layer.buffers["running_mean"][...] = [1.0, -2.0, 0.5]
    layer.buffers["running_var"][...] = [4.0, 0.25, 1.0]
    x = rng.standard_normal(shape)
    bshape = (1, 3) if len(shape) == 2 else (1, 3, 1, 1)
    mean, var = (layer.buffers[k].reshape(bshape) for k in ("running_mean", "running_var"))
    gamma, beta = (layer.params[k].reshape(bshape) for k in ("weight", "bias"))
    expected = (x - mean) / np.sqrt(var + layer.eps) * gamma + beta
    np.testing.assert_allclose(layer.forward(x), expected, atol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_mean"], [1.0, -2.0, 0.5])  # untouched


def test_batchnorm_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match="features"):
        BatchNorm(3).forward(np.zeros((4, 2), dtype=np.float32), training=True)


# --- Reshape and Flatten ------------------------------------------------------------------
def test_reshape_and_flatten_round_trip():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 12))
    reshape, flatten = Reshape((3, 2, 2)), Flatten()
    images = reshape.forward(x, training=True)
    assert images.shape == (3, 3, 2, 2)
    assert reshape.output_shape((12,)) == (3, 2, 2)
    rows = flatten.forward(channels_last(images), training=True)
    np.testing.assert_array_equal(rows, x)  # (C, H, W) order whatever the memory layout
    assert flatten.output_shape((3, 2, 2)) == (12,)
    np.testing.assert_array_equal(reshape.backward(flatten.backward(rows)), x)
    with pytest.raises(ValueError):
        Reshape((5, 5)).output_shape((12,))


# --- the layer contract (as tests/test_layers.py checks it for the dense layers) -----------
IMAGES = (3, 2, 6, 5)
CONTRACT = {  # name: (make the layer, input shape)
    "conv": (lambda: Conv2D(2, 3, 3, padding=1, rng=np.random.default_rng(0),
                            dtype=np.float64), IMAGES),
    "conv-many-channels": (lambda: Conv2D(4, 2, 3, stride=2, rng=np.random.default_rng(0),
                                          dtype=np.float64), (3, 4, 6, 5)),
    "maxpool": (MaxPool2D, IMAGES),
    "maxpool-overlapping": (lambda: MaxPool2D(3, 1), IMAGES),
    "batchnorm": (lambda: BatchNorm(2, dtype=np.float64), IMAGES),
    "batchnorm-dense": (lambda: BatchNorm(2, dtype=np.float64), (5, 2)),
    "flatten": (Flatten, IMAGES),
    "reshape": (lambda: Reshape((2, 30)), IMAGES),
}


@pytest.mark.parametrize("make,shape", CONTRACT.values(), ids=CONTRACT.keys())
def test_layer_contract(make, shape):
    rng = np.random.default_rng(16)
    layer = make()
    x = distinct(rng, shape)
    y = layer.forward(x.copy(), training=True)
    assert y.shape[1:] == layer.output_shape(x.shape[1:])
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g.copy())
    assert dx.shape == x.shape
    assert layer.grads.keys() == layer.params.keys()
    assert all(layer.grads[k].dtype == p.dtype for k, p in layer.params.items())
    assert [k for k, v in vars(layer).items() if isinstance(v, np.ndarray)] == []
    assert getattr(layer, "_cache", None) is None, "backward should release the forward cache"
    # Assigned, not accumulated: the same pass again gives the same gradients.
    first = {k: v.copy() for k, v in layer.grads.items()}
    layer.forward(x.copy(), training=True)
    np.testing.assert_array_equal(layer.backward(g.copy()), dx)
    for k, v in layer.grads.items():
        np.testing.assert_array_equal(v, first[k])
    fresh = make()
    fresh.forward(x.copy())
    assert getattr(fresh, "_cache", None) is None and getattr(fresh, "_ws", {}) == {}
    assert repr(layer).startswith(type(layer).__name__ + "(")


# --- configs ------------------------------------------------------------------------------
LAYERS = [
    lambda: Conv2D(2, 3, 3, stride=2, padding=1, bias=False, init="glorot"),
    lambda: Conv2D(2, 3, (3, 1), stride=(1, 2), padding=(1, 0)),
    lambda: MaxPool2D(3, 2),
    lambda: MaxPool2D(),
    lambda: BatchNorm(3, momentum=0.2, eps=1e-3),
    lambda: Reshape((2, 3, 4)),
    lambda: Flatten(),
]


@pytest.mark.parametrize("make", LAYERS)
def test_config_round_trip(make):
    layer = make()
    config = json.loads(json.dumps(layer.config()))
    rebuilt = layer_from_config(config, rng=np.random.default_rng(0), dtype=np.float64)
    assert type(rebuilt) is type(layer)
    assert rebuilt.config() == layer.config()
    assert {k: p.shape for k, p in rebuilt.params.items()} == \
        {k: p.shape for k, p in layer.params.items()}
    assert all(p.dtype == np.float64 for p in rebuilt.params.values())


# --- the CNN stack ------------------------------------------------------------------------
def test_cnn_shapes_and_a_training_step():
    rng = np.random.default_rng(14)
    net = Sequential(cnn(rng=rng, channels=(4, 8), hidden=16)).flatten()
    x = rng.random((5, 784), dtype=np.float32)
    y = rng.integers(0, 10, 5)
    assert net.forward(x).shape == (5, 10)
    shape = (784,)
    for layer in net.layers:
        shape = layer.output_shape(shape)
    assert shape == (10,)
    before = net.parameters()[0][0].copy()
    trainer = Trainer(net, Adam(1e-3), SoftmaxCrossEntropy(reduction="mean"))
    loss, _ = trainer.train_step(x, y)
    assert np.isfinite(loss) and not np.array_equal(before, net.parameters()[0][0])
    rebuilt = Sequential.from_config(json.loads(json.dumps(net.config())), rng=rng)
    rebuilt.load_state_dict(net.state_dict())
    np.testing.assert_allclose(rebuilt.predict(x), net.predict(x), rtol=1e-5, atol=1e-6)


def test_cnn_rejects_images_too_small_for_its_blocks():
    cnn(image_shape=(1, 4, 4), channels=(2, 2))  # 4 -> 2 -> 1: fine
    with pytest.raises(ValueError, match="too small"):
        cnn(image_shape=(1, 3, 3), channels=(2, 2))
    with pytest.raises(ValueError, match="odd"):
        cnn(kernel_size=2)


def test_cnn_gradient_through_the_whole_stack():
    rng = np.random.default_rng(15)
    layers = cnn(rng=rng, dtype=np.float64, image_shape=(1, 8, 8), channels=(2, 3), hidden=4,
                 dropout=0.0)
    net = Sequential(layers, input_grad=True)
    x = rng.random((3, 64))
    y = rng.integers(0, 10, 3)
    loss = SoftmaxCrossEntropy(reduction="sum")

    def f():
        return loss.forward(net.forward(x, training=True), y)

    f()
    dx = net.backward(loss.backward())
    assert rel_error(dx, numeric_grad(f, x)) < 1e-6


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_col2im_in_chunks_matches_one_pass(monkeypatch, stride):
    """On one BLAS thread col2im goes a few images at a time; the gradients are those of the
    one-pass path (and of finite differences)."""
    from scratchnet.nn import blas

    rng = np.random.default_rng(11)
    layer = Conv2D(4, 3, 3, stride=stride, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((7, 4, 6, 6))
    g = rng.standard_normal(layer.forward(x, training=True).shape)
    layer.forward(x, training=True)
    whole = layer.backward(g.copy())
    dw = layer.grads["weight"].copy()
    before = blas.get_threads()
    try:
        blas.set_threads(1)
        ho = layer.output_shape(x.shape[1:])[1]
        # chunks of 2 images, the last one short
        monkeypatch.setattr(conv_module, "_COL2IM_VALUES", 2 * 8 * ho * ho * 4)
        layer.forward(x, training=True)
        np.testing.assert_allclose(layer.backward(g.copy()), whole, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(layer.grads["weight"], dw, rtol=1e-13, atol=1e-13)
        check_gradients(layer, x[:3], rng)
    finally:
        if before is not None:
            blas.set_threads(before)
