"""scratchnet.nn.optimizers: one and two steps of every rule against its textbook formula."""

import numpy as np
import pytest

from scratchnet.nn.optimizers import SGD, Adagrad, Adam, RMSprop, make_optimizer
from scratchnet.nn.schedules import StepDecay

RNG = np.random.default_rng(0)
P0 = RNG.standard_normal((3, 4))
GRADS = [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))]


def _run(opt, steps):
    """Apply ``steps`` updates to a copy of ``P0``; returns the parameter after each step."""
    p = P0.copy()
    out = []
    for g in GRADS[:steps]:
        opt.step([(p, g.copy())])
        out.append(p.copy())
    return out


# Each reference implements the textbook rule in the most direct way, for every step.
def sgd_reference(lr):
    p, out = P0.copy(), []
    for g in GRADS:
        p = p - lr * g
        out.append(p)
    return out


def momentum_reference(lr, mu, nesterov):
    p, v, out = P0.copy(), np.zeros_like(P0), []
    for g in GRADS:
        v = mu * v + g
        p = p - lr * (g + mu * v) if nesterov else p - lr * v
        out.append(p)
    return out


def adam_reference(lr, b1, b2, eps):
    p, m, v, out = P0.copy(), np.zeros_like(P0), np.zeros_like(P0), []
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def rmsprop_reference(lr, rho, eps):
    p, s, out = P0.copy(), np.zeros_like(P0), []
    for g in GRADS:
        s = rho * s + (1 - rho) * g**2
        p = p - lr * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


def adagrad_reference(lr, eps):
    p, s, out = P0.copy(), np.zeros_like(P0), []
    for g in GRADS:
        s = s + g**2
        p = p - lr * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


CASES = {
    "sgd": (lambda: SGD(lr=0.1), lambda: sgd_reference(0.1)),
    "momentum": (lambda: SGD(lr=0.1, momentum=0.9),
                 lambda: momentum_reference(0.1, 0.9, nesterov=False)),
    "nesterov": (lambda: SGD(lr=0.1, momentum=0.8, nesterov=True),
                 lambda: momentum_reference(0.1, 0.8, nesterov=True)),
    "adam": (lambda: Adam(lr=0.01), lambda: adam_reference(0.01, 0.9, 0.999, 1e-8)),
    # A large eps shows where it enters: added to sqrt(v_hat), not to sqrt(v).
    "adam-big-eps": (lambda: Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=0.5),
                     lambda: adam_reference(0.01, 0.8, 0.99, 0.5)),
    "rmsprop": (lambda: RMSprop(lr=0.01, rho=0.9, eps=1e-8),
                lambda: rmsprop_reference(0.01, 0.9, 1e-8)),
    "rmsprop-big-eps": (lambda: RMSprop(lr=0.01, rho=0.7, eps=0.3),
                        lambda: rmsprop_reference(0.01, 0.7, 0.3)),
    "adagrad": (lambda: Adagrad(lr=0.1), lambda: adagrad_reference(0.1, 1e-10)),
    "adagrad-big-eps": (lambda: Adagrad(lr=0.1, eps=0.4), lambda: adagrad_reference(0.1, 0.4)),
}


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("name", CASES)
def test_steps_match_the_formula(name, steps, blas_path):
    make, reference = CASES[name]
    got = _run(make(), steps)
    for p, expected in zip(got, reference()[:steps], strict=True):
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)


def test_sgd_first_step_by_hand():
    p = np.array([1.0, -2.0])
    SGD(lr=0.5).step([(p, np.array([0.2, 0.4]))])
    np.testing.assert_allclose(p, [0.9, -2.2])


@pytest.mark.parametrize("name", CASES)
def test_weight_decay_is_decoupled(name):
    """``p -= lr * weight_decay * p`` before the rule, as in AdamW."""
    make, _ = CASES[name]
    plain, decayed = make(), make()
    decayed.weight_decay = 0.05
    p_ref, p = P0.copy(), P0.copy()
    for g in GRADS:
        p_ref *= 1.0 - plain.lr * 0.05  # decay first ...
        plain.step([(p_ref, g.copy())])  # ... then the undecayed rule
        decayed.step([(p, g.copy())])
        np.testing.assert_allclose(p, p_ref, rtol=1e-12, atol=1e-15)
    assert not np.allclose(p, _run(make(), 2)[-1])  # the decay made a difference


def test_weight_decay_argument():
    p = np.array([2.0])
    SGD(lr=0.1, weight_decay=0.5).step([(p, np.array([1.0]))])
    np.testing.assert_allclose(p, [2.0 * (1 - 0.1 * 0.5) - 0.1 * 1.0])


@pytest.mark.parametrize("name", CASES)
def test_updates_in_place_with_state_per_parameter(name):
    make, _ = CASES[name]
    opt = make()
    a, b = P0.copy(), P0[:2, :3].copy()
    ga, gb = GRADS[0].copy(), GRADS[1][:2, :3].copy()
    ids = id(a), id(b)
    opt.step([(a, ga), (b, gb)])
    opt.step([(a, ga), (b, gb)])
    assert (id(a), id(b)) == ids and opt.t == 2
    # Each parameter moved exactly as it would have alone: no state is shared between them.
    alone = make()
    a2 = P0.copy()
    alone.step([(a2, ga)])
    alone.step([(a2, ga)])
    np.testing.assert_array_equal(a, a2)


@pytest.mark.parametrize("name", CASES)
def test_float32_parameters_stay_float32(name):
    make, _ = CASES[name]
    p = P0.astype(np.float32)
    make().step([(p, GRADS[0].astype(np.float32))])
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, CASES[name][1]()[0], rtol=1e-5, atol=1e-6)


def test_optimizer_does_not_modify_the_gradient():
    g = GRADS[0].copy()
    for make, _ in CASES.values():
        make().step([(P0.copy(), g)])
    np.testing.assert_array_equal(g, GRADS[0])


def test_set_epoch_follows_the_schedule_from_the_base_rate():
    opt = SGD(lr=0.1, schedule=StepDecay(step_size=2, gamma=0.5))
    lrs = []
    for epoch in range(5):
        opt.set_epoch(epoch)
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05, 0.025])
    assert opt.base_lr == 0.1


def test_set_epoch_without_schedule_keeps_the_rate():
    opt = Adam(lr=0.003)
    opt.set_epoch(10)
    assert opt.lr == 0.003


def test_scheduled_rate_is_used_by_the_step():
    opt = SGD(lr=1.0, schedule=StepDecay())
    opt.set_epoch(10)  # StepDecay() defaults: gamma 0.1 every 10 epochs
    p = np.array([1.0])
    opt.step([(p, np.array([1.0]))])
    np.testing.assert_allclose(p, [0.9])


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.0}, "learning rate"),
    ({"lr": -1.0}, "learning rate"),
    ({"lr": 0.1, "weight_decay": -0.1}, "weight_decay"),
    ({"lr": 0.1, "momentum": 1.0}, "momentum"),
    ({"lr": 0.1, "momentum": -0.5}, "momentum"),
    ({"lr": 0.1, "nesterov": True}, "nesterov"),
    ({"lr": 0.1, "schedule": "linear"}, "schedule must be a Schedule"),
])
def test_sgd_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(**kwargs)


@pytest.mark.parametrize("name, cls, momentum, nesterov", [
    ("sgd", SGD, 0.0, False),
    ("momentum", SGD, 0.9, False),
    ("nesterov", SGD, 0.9, True),
    ("adam", Adam, None, None),
    ("rmsprop", RMSprop, None, None),
    ("adagrad", Adagrad, None, None),
])
def test_make_optimizer(name, cls, momentum, nesterov):
    opt = make_optimizer(name, 0.02, weight_decay=0.1)
    assert type(opt) is cls and opt.lr == 0.02 and opt.weight_decay == 0.1
    if cls is SGD:
        assert (opt.momentum, opt.nesterov) == (momentum, nesterov)


def test_make_optimizer_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", 0.1)


def test_optimizer_registry_is_the_list_of_choices():
    from scratchnet.nn.optimizers import OPTIMIZERS

    assert sorted(OPTIMIZERS) == ["adagrad", "adam", "momentum", "nesterov", "rmsprop", "sgd"]
    for name in OPTIMIZERS:
        assert make_optimizer(name, 0.1).lr == 0.1


def test_optimizer_rejects_a_schedule_name():
    with pytest.raises(ValueError, match="get_schedule"):
        Adam(0.1, schedule="cosine")
