"""scratchnet.nn.schedules: per-epoch learning-rate values."""

import math

import numpy as np
import pytest

from scratchnet.nn.optimizers import Adam
from scratchnet.nn.schedules import (
    CosineAnnealing,
    ExponentialDecay,
    OneCycle,
    Schedule,
    StepDecay,
    get_schedule,
)


def _values(schedule, base_lr, epochs):
    return [schedule(base_lr, e) for e in range(epochs)]


def test_step_decay_values():
    np.testing.assert_allclose(_values(StepDecay(step_size=3, gamma=0.5), 0.8, 8),
                               [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2])


def test_step_decay_defaults():
    s = StepDecay()
    assert s(1.0, 9) == 1.0
    assert s(1.0, 10) == pytest.approx(0.1)
    assert s(1.0, 25) == pytest.approx(0.01)


def test_exponential_decay_values():
    np.testing.assert_allclose(_values(ExponentialDecay(gamma=0.9), 2.0, 4),
                               [2.0, 1.8, 1.62, 1.458])
    assert ExponentialDecay()(1.0, 2) == pytest.approx(0.95**2)


@pytest.mark.parametrize("min_lr", [0.0, 0.01])
def test_cosine_annealing_values(min_lr):
    s = CosineAnnealing(total_epochs=4, min_lr=min_lr)
    base = 0.1
    expected = [min_lr + (base - min_lr) * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(_values(s, base, 4), expected, rtol=1e-14)
    assert s(base, 0) == pytest.approx(base)
    assert s(base, 2) == pytest.approx((base + min_lr) / 2)
    assert s(base, 4) == min_lr and s(base, 100) == min_lr
    assert all(a > b for a, b in zip(_values(s, base, 5), _values(s, base, 5)[1:], strict=False))


@pytest.mark.parametrize("make, match", [
    (lambda: StepDecay(step_size=0), "step_size"),
    (lambda: CosineAnnealing(total_epochs=0), "total_epochs"),
    (lambda: get_schedule("linear", 10), "unknown schedule 'linear'"),
])
def test_bad_schedules_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("spec, cls", [("step", StepDecay), ("exponential", ExponentialDecay),
                                       ("cosine", CosineAnnealing), ("onecycle", OneCycle)])
def test_get_schedule_by_name(spec, cls):
    assert type(get_schedule(spec, 7)) is cls


def test_cosine_by_name_anneals_over_the_epochs_given():
    assert get_schedule("cosine", 7).total_epochs == 7


def test_get_schedule_passes_instances_and_none_through():
    s = CosineAnnealing(10)
    assert get_schedule(s, 3) is s
    assert get_schedule(None, 3) is None


def test_base_schedule_is_abstract():
    with pytest.raises(NotImplementedError):
        Schedule()(0.1, 0)


@pytest.mark.parametrize("schedule", [StepDecay(2, 0.5), ExponentialDecay(0.5),
                                      CosineAnnealing(3, min_lr=1e-4)])
def test_optimizer_set_epoch_uses_the_schedule(schedule):
    opt = Adam(lr=0.01, schedule=schedule)
    for epoch in [0, 1, 2, 3, 5, 1]:
        opt.set_epoch(epoch)
        assert opt.lr == schedule(0.01, epoch)


def test_one_cycle_rises_to_the_peak_then_falls_to_zero():
    s = OneCycle(8, peak_at=0.25, start=0.1)
    assert s(1.0, 0) == pytest.approx(0.1)
    assert s(1.0, 1) == pytest.approx(0.55)
    assert s(1.0, 2) == pytest.approx(1.0)
    assert s(1.0, 5) == pytest.approx(0.5)
    assert s(1.0, 8) == 0.0 and s(1.0, 9) == 0.0
    with pytest.raises(ValueError, match="peak_at"):
        OneCycle(8, peak_at=1.0)


def test_trainer_sets_a_per_batch_schedule_before_every_batch():
    from scratchnet.nn import architectures
    from scratchnet.nn.network import Sequential
    from scratchnet.nn.training import Trainer

    rng = np.random.default_rng(0)
    net = Sequential(architectures.mlp(4, 2, hidden=(3,), rng=rng))
    seen = []

    class Recording(OneCycle):
        def __call__(self, base_lr, epoch):
            seen.append(epoch)
            return super().__call__(base_lr, epoch)

    trainer = Trainer(net, Adam(0.01, schedule=Recording(2)))
    X, y = rng.normal(size=(8, 4)), np.array([0, 1] * 4)
    trainer.fit(X, y, rng, 2, n_batches=4)
    assert seen == [0, 0, 0.25, 0.5, 0.75, 1, 1, 1.25, 1.5, 1.75]
