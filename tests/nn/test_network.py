"""scratchnet.nn.network.Sequential: whole-network gradients, flat parameters, state, pickling."""

import copy
import pickle

import numpy as np
import pytest

from scratchnet.nn.layers import Dense, Dropout, ReLU, Sigmoid, Tanh
from scratchnet.nn.losses import SoftmaxCrossEntropy
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import SGD

N, D, C = 6, 5, 3
RNG = np.random.default_rng(0)
X = RNG.standard_normal((N, D))
Y = np.array([0, 1, 2, 2, 1, 0])


def _mlp(input_grad=False, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return Sequential([
        Dense(D, 7, rng=rng, dtype=dtype), Tanh(), Dropout(0.3, rng=rng),
        Dense(7, 4, rng=rng, dtype=dtype), Sigmoid(),
        Dense(4, C, rng=rng, dtype=dtype),
    ], input_grad=input_grad)


def _activation_first(input_grad=False):
    rng = np.random.default_rng(1)
    return Sequential([Sigmoid(), Dense(D, 6, rng=rng, dtype=np.float64), ReLU(),
                       Dense(6, C, rng=rng, dtype=np.float64)], input_grad=input_grad)


NETS = {"mlp": _mlp, "activation-first": _activation_first}


def _reseed(net):
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.rng = np.random.default_rng(42)  # the same mask on every forward


def _objective(net, x):
    _reseed(net)
    return SoftmaxCrossEntropy("mean").forward(net.forward(x.copy(), training=True), Y)


def _backprop(net, x):
    _reseed(net)
    loss = SoftmaxCrossEntropy("mean")
    loss.forward(net.forward(x.copy(), training=True), Y)
    return net.backward(loss.backward())


@pytest.mark.parametrize("flat", [False, True], ids=["per-tensor", "flattened"])
@pytest.mark.parametrize("make", NETS.values(), ids=NETS.keys())
def test_whole_network_gradient(make, flat, num_grad, assert_grad_close):
    net = make(input_grad=True)
    if flat:
        net.flatten()
    x = X.copy()
    dx = _backprop(net, x)
    assert_grad_close(dx, num_grad(lambda: _objective(net, x), x))
    for _, p, g in net.named_parameters():
        assert_grad_close(g.copy(), num_grad(lambda: _objective(net, x), p))


@pytest.mark.parametrize("make", NETS.values(), ids=NETS.keys())
def test_without_input_grad_backward_returns_none_and_same_parameter_grads(make):
    full, lean = make(input_grad=True), make(input_grad=False)
    _backprop(full, X)
    assert _backprop(lean, X) is None
    first = next(layer for layer in lean.layers if layer.params)
    assert first.needs_input_grad is False
    for (name, _, g_full), (_, _, g_lean) in zip(full.named_parameters(),
                                                 lean.named_parameters(), strict=True):
        np.testing.assert_array_equal(g_lean, g_full, err_msg=name)


def test_layers_reused_in_a_network_that_wants_the_input_gradient_give_it():
    lean = _mlp()  # its first Dense skips the input gradient
    full = Sequential(lean.layers, input_grad=True)
    dx = _backprop(full, X)
    assert dx is not None and dx.shape == X.shape
    assert _backprop(Sequential(lean.layers), X) is None


def test_activations_after_dense_work_in_place_and_others_do_not():
    net = _activation_first()
    assert [getattr(layer, "inplace", None) for layer in net.layers] == \
        [False, None, True, None]
    net = _mlp()
    assert net.layers[1].inplace and net.layers[4].inplace


def test_inference_forward_leaves_its_input_alone():
    net = _activation_first()
    x = X.copy()
    net.forward(x)
    net.forward(x, training=True)
    np.testing.assert_array_equal(x, X)


def test_parameters_names_and_counts():
    net = _mlp()
    names = [name for name, _, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias", "5.weight", "5.bias"]
    assert net.n_parameters() == (D * 7 + 7) + (7 * 4 + 4) + (4 * C + C)
    assert len(net.parameters()) == 6
    assert [p.shape for p, _ in net.weights()] == [(D, 7), (7, 4), (4, C)]


def test_flatten_makes_views_into_one_buffer():
    net = _mlp()
    before = {name: p.copy() for name, p, _ in net.named_parameters()}
    assert net.flatten() is net
    (flat_p, flat_g), = net.parameters()
    assert flat_p.shape == (net.n_parameters(),)
    for name, p, g in net.named_parameters():
        np.testing.assert_array_equal(p, before[name])
        assert np.shares_memory(p, flat_p) and np.shares_memory(g, flat_g)
    _backprop(net, X)
    np.testing.assert_array_equal(
        flat_g, np.concatenate([g.ravel() for _, _, g in net.named_parameters()]))
    # An optimizer step on the flat pair moves every layer's parameters.
    SGD(lr=0.1).step(net.parameters())
    for name, p, _ in net.named_parameters():
        assert not np.array_equal(p, before[name]), name


def test_flatten_keeps_forward_output():
    x = X.copy()
    expected = _mlp().forward(x)
    np.testing.assert_array_equal(_mlp().flatten().forward(x), expected)


@pytest.mark.parametrize("roundtrip", [lambda n: pickle.loads(pickle.dumps(n)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_a_copied_flat_network_still_trains(roundtrip):
    net = roundtrip(_mlp(dtype=np.float32).flatten())
    before = net.state_dict()
    (flat_p, _), = net.parameters()
    for _, p, _ in net.named_parameters():
        assert np.shares_memory(p, flat_p)
    _backprop(net, X.astype(np.float32))
    SGD(lr=0.1).step(net.parameters())
    after = net.state_dict()
    assert all(not np.array_equal(after[k], before[k]) for k in before)


def test_predict_in_chunks_equals_forward():
    net = _mlp()
    x = np.random.default_rng(3).standard_normal((23, D))
    np.testing.assert_allclose(net.predict(x, batch_size=5), net.forward(x), rtol=1e-14)
    np.testing.assert_array_equal(net(x), net.forward(x))
    assert net.predict(x, batch_size=5).shape == (23, C)


def test_state_dict_round_trip():
    src, dst = _mlp(seed=1), _mlp(seed=2).flatten()
    state = src.state_dict()
    dst.load_state_dict(state)
    np.testing.assert_array_equal(dst.forward(X), src.forward(X))
    state["0.weight"][...] = 0  # a copy: changing it leaves the network alone
    assert np.any(src.layers[0].params["weight"] != 0)
    (flat_p, _), = dst.parameters()  # loading writes into the flat buffer, views survive
    assert np.shares_memory(dst.layers[0].params["weight"], flat_p)


def test_load_state_dict_names_what_does_not_match():
    net = _mlp()
    state = net.state_dict()
    with pytest.raises(ValueError, match=r"missing \['0.bias'\]"):
        net.load_state_dict({k: v for k, v in state.items() if k != "0.bias"})
    with pytest.raises(ValueError, match=r"unexpected \['9.weight'\]"):
        net.load_state_dict({**state, "9.weight": np.zeros(1)})
    with pytest.raises(ValueError, match="'3.weight' has shape"):
        net.load_state_dict({**state, "3.weight": np.zeros((4, 7))})


def test_config_round_trip():
    net = _mlp()
    rebuilt = Sequential.from_config(net.config(), dtype=np.float64,
                                     rng=np.random.default_rng(0))
    assert rebuilt.config() == net.config()
    rebuilt.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(rebuilt.forward(X), net.forward(X))
    assert "Dense(in_features=5" in repr(net)


def test_network_without_parameters():
    net = Sequential([Tanh(), Sigmoid()], input_grad=True)
    assert net.flatten().parameters() == [] and net.n_parameters() == 0
    x = X.copy()
    net.forward(x, training=True)
    assert net.backward(np.ones_like(x)).shape == x.shape
