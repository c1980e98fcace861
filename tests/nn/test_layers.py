"""scratchnet.nn.layers: finite-difference gradient checks per layer, and the layer contract."""

import numpy as np
import pytest

from scratchnet.nn.layers import (
    LAYER_TYPES,
    Dense,
    Dropout,
    Layer,
    ReLU,
    Sigmoid,
    Tanh,
    layer_from_config,
)
from scratchnet.nn.layers.activations import get_activation

N, D_IN, D_OUT = 5, 4, 3


def _input(shape, seed=0, away_from_zero=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    if away_from_zero:  # ReLU has a kink at 0 where finite differences are meaningless
        x = np.where(x >= 0, x + 0.1, x - 0.1)
    return x


def _reseeded(layer, seed=0):
    """A Dropout draws its mask from ``rng``: reseed it so that every forward draws the same."""
    if isinstance(layer, Dropout):
        layer.rng = np.random.default_rng(seed)
    return layer


def _objective(layer, x, r):
    """Scalar ``sum(Y * R)``, whose gradient with respect to ``Y`` is ``R``."""
    return float(np.sum(_reseeded(layer).forward(x.copy(), training=True) * r))


def _analytic(layer, x, r):
    """Forward on a copy (in-place activations overwrite it), backward on a copy of ``R``."""
    _reseeded(layer).forward(x.copy(), training=True)
    return layer.backward(r.copy())


# --- finite-difference gradient checks, float64 -------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("init", ["glorot", "uniform", "he"])
def test_dense_gradients(bias, init, num_grad, assert_grad_close):
    layer = Dense(D_IN, D_OUT, init=init, bias=bias, rng=np.random.default_rng(1),
                  dtype=np.float64)
    if bias:
        layer.params["bias"][...] = np.random.default_rng(2).standard_normal(D_OUT)
    x, r = _input((N, D_IN)), _input((N, D_OUT), seed=3)
    dx = _analytic(layer, x, r)
    assert sorted(layer.grads) == (["bias", "weight"] if bias else ["weight"])
    assert_grad_close(dx, num_grad(lambda: _objective(layer, x, r), x))
    for name, p in layer.params.items():
        assert_grad_close(layer.grads[name], num_grad(lambda: _objective(layer, x, r), p))


def test_dense_formulas_from_the_docstring():
    layer = Dense(D_IN, D_OUT, rng=np.random.default_rng(0), dtype=np.float64)
    x, dy = _input((N, D_IN)), _input((N, D_OUT), seed=1)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, x @ layer.params["weight"] + layer.params["bias"])
    dx = layer.backward(dy.copy())
    np.testing.assert_allclose(layer.grads["weight"], x.T @ dy)
    np.testing.assert_allclose(layer.grads["bias"], dy.sum(axis=0))
    np.testing.assert_allclose(dx, dy @ layer.params["weight"].T)


def test_dense_skips_the_input_gradient_when_nobody_needs_it():
    layer = Dense(D_IN, D_OUT, rng=np.random.default_rng(0), dtype=np.float64)
    layer.needs_input_grad = False
    layer.forward(_input((N, D_IN)), training=True)
    assert layer.backward(_input((N, D_OUT))) is None
    assert np.any(layer.grads["weight"] != 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_dtype_and_shapes(dtype):
    layer = Dense(D_IN, D_OUT, rng=np.random.default_rng(0), dtype=dtype)
    assert layer.params["weight"].shape == (D_IN, D_OUT)
    assert layer.params["bias"].shape == (D_OUT,)
    assert all(p.dtype == dtype for p in layer.params.values())
    assert layer.forward(np.ones((2, D_IN), dtype=dtype)).dtype == dtype
    assert layer.output_shape((D_IN,)) == (D_OUT,)
    assert not np.any(layer.params["bias"])


def test_dense_same_rng_seed_same_weights():
    a = Dense(6, 5, rng=np.random.default_rng(7))
    b = Dense(6, 5, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])


@pytest.mark.parametrize("cls", [Sigmoid, Tanh, ReLU])
@pytest.mark.parametrize("inplace", [False, True])
def test_activation_gradients(cls, inplace, num_grad, assert_grad_close):
    layer = cls(inplace=inplace)
    x, r = _input((N, D_IN), away_from_zero=True), _input((N, D_IN), seed=1)
    dx = _analytic(layer, x, r)
    assert_grad_close(dx, num_grad(lambda: _objective(layer, x, r), x))


@pytest.mark.parametrize("cls, formula", [
    (Sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x))),
    (Tanh, np.tanh),
    (ReLU, lambda x: np.maximum(x, 0)),
])
def test_activation_forward_formulas(cls, formula):
    x = _input((N, D_IN)) * 5
    np.testing.assert_allclose(cls().forward(x), formula(x), rtol=1e-12, atol=1e-15)


def test_sigmoid_layer_is_silent_at_1000():
    x = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(all="raise"):
        y = Sigmoid().forward(x)
    np.testing.assert_array_equal(y, [[0.0, 0.5, 1.0]])


@pytest.mark.parametrize("cls", [Sigmoid, Tanh, ReLU])
def test_inplace_activation_overwrites_its_input_and_plain_one_does_not(cls):
    x = _input((N, D_IN))
    before = x.copy()
    y = cls().forward(x)
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(x, y)
    y = cls(inplace=True).forward(x)
    assert y is x


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5])
def test_dropout_gradient_with_a_fixed_mask(p, num_grad, assert_grad_close):
    layer = Dropout(p)
    x, r = _input((N, D_IN)), _input((N, D_IN), seed=1)
    dx = _analytic(layer, x, r)
    assert_grad_close(dx, num_grad(lambda: _objective(layer, x, r), x))


def test_dropout_is_inverted_and_identity_at_inference():
    layer = Dropout(0.25, rng=np.random.default_rng(0))
    x = np.ones((200, 100))
    assert layer.forward(x) is x
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1.0 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02  # 20,000 draws: the std is 0.003
    assert abs(y.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match="dropout probability"):
        Dropout(p)


# --- the layer contract, over every layer ------------------------------------------------------
LAYERS = {
    "dense": lambda: Dense(D_IN, D_OUT, rng=np.random.default_rng(0), dtype=np.float64),
    "dense-no-bias": lambda: Dense(D_IN, D_OUT, bias=False, rng=np.random.default_rng(0),
                                   dtype=np.float64),
    "dropout": lambda: Dropout(0.5, rng=np.random.default_rng(0)),
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid-inplace": lambda: Sigmoid(inplace=True),
    "relu-inplace": lambda: ReLU(inplace=True),
    "tanh-inplace": lambda: Tanh(inplace=True),
}


def _cached_arrays(layer: Layer) -> list[str]:
    """Names of arrays the layer holds outside params/grads/buffers: its forward cache."""
    return [k for k, v in vars(layer).items() if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_layer_contract(make):
    layer = _reseeded(make())
    x = _input((N, D_IN), away_from_zero=True)
    y = layer.forward(x.copy(), training=True)
    assert y.shape[0] == N
    assert y.shape[1:] == layer.output_shape(x.shape[1:])
    grad_out = _input(y.shape, seed=1)

    # Backward returns an input-shaped gradient and fills grads under the params' keys.
    dx = layer.backward(grad_out.copy())
    assert dx.shape == x.shape
    assert layer.grads.keys() == layer.params.keys()
    for name, p in layer.params.items():
        assert layer.grads[name].shape == p.shape
        assert layer.grads[name].dtype == p.dtype
    assert _cached_arrays(layer) == [], "backward should release the forward cache"

    # Gradients are assigned, not accumulated: a second identical pass gives the same values.
    first = {k: g.copy() for k, g in layer.grads.items()}
    np.testing.assert_array_equal(_analytic(layer, x, grad_out), dx)
    for name, g in layer.grads.items():
        np.testing.assert_array_equal(g, first[name])

    # Inference forward caches nothing.
    fresh = make()
    fresh.forward(x.copy(), training=False)
    assert _cached_arrays(fresh) == []


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_layer_config_round_trip(make):
    layer = make()
    rebuilt = layer_from_config(layer.config(), rng=np.random.default_rng(0), dtype=np.float64)
    assert type(rebuilt) is type(layer)
    assert rebuilt.config() == layer.config()
    assert {k: p.shape for k, p in rebuilt.params.items()} == \
        {k: p.shape for k, p in layer.params.items()}
    assert repr(layer).startswith(type(layer).__name__ + "(")


def test_layer_from_config_rejects_unknown_type_and_argument():
    with pytest.raises(ValueError, match="unknown layer type"):
        layer_from_config({"type": "Nope"})
    with pytest.raises(ValueError, match="does not take"):
        layer_from_config({"type": "Dense", "in_features": 2, "out_features": 2, "colour": 1})


def test_layer_registry_names_its_classes():
    assert all(cls.__name__ == name for name, cls in LAYER_TYPES.items())


def test_astype_casts_params_and_grads():
    layer = Dense(D_IN, D_OUT, rng=np.random.default_rng(0), dtype=np.float32).astype(np.float64)
    assert all(p.dtype == np.float64 for p in layer.params.values())
    assert all(g.dtype == np.float64 for g in layer.grads.values())


@pytest.mark.parametrize("name, cls", [("sigmoid", Sigmoid), ("relu", ReLU), ("tanh", Tanh)])
def test_get_activation(name, cls):
    layer = get_activation(name, inplace=True)
    assert type(layer) is cls and layer.inplace


def test_get_activation_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        get_activation("swish")
