"""scratchnet.nn.training: mini-batch slicing and the epoch loop."""

import tracemalloc

import numpy as np
import pytest

from scratchnet.nn.callbacks import (
    BestWeights,
    Callback,
    DivergenceGuard,
    EarlyStopping,
    StopWhen,
    TrainingDiverged,
)
from scratchnet.nn.layers import Dense, Sigmoid
from scratchnet.nn.losses import SoftmaxCrossEntropy
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import SGD, Adam
from scratchnet.nn.schedules import StepDecay
from scratchnet.nn.training import EpochResult, Trainer, batch_slices


# --- batch_slices ------------------------------------------------------------------------------
def _check_partition(slices, n):
    """Contiguous, in order, non-empty, covering range(n) exactly once."""
    assert slices[0].start == 0 and slices[-1].stop == n
    assert all(a.stop == b.start for a, b in zip(slices, slices[1:], strict=False))
    assert all(s.stop > s.start for s in slices)


@pytest.mark.parametrize("n, size", [(10, 3), (10, 5), (10, 10), (10, 64), (1, 1), (7, 1)])
def test_batch_size_gives_full_batches_then_the_rest(n, size):
    slices = batch_slices(n, None, size)
    _check_partition(slices, n)
    sizes = [s.stop - s.start for s in slices]
    assert all(s == size for s in sizes[:-1])
    assert sizes[-1] == n - size * (len(sizes) - 1)
    assert len(sizes) == -(-n // size)


def test_batch_size_wins_over_n_batches():
    assert batch_slices(100, 3, 10) == batch_slices(100, None, 10)
    assert len(batch_slices(100, 3, 10)) == 10


def test_n_batches_gives_near_equal_parts_like_array_split():
    for n in range(1, 41):
        for k in range(1, 46):
            slices = batch_slices(n, k, None)
            _check_partition(slices, n)
            sizes = sorted(s.stop - s.start for s in slices)
            expected = sorted(len(part) for part in np.array_split(np.arange(n), min(k, n)))
            assert sizes == expected, (n, k)


@pytest.mark.parametrize("n_batches", [None, 0, 1])
def test_no_or_one_batch_is_the_whole_set(n_batches):
    assert batch_slices(9, n_batches, None) == [slice(0, 9)]


# --- Trainer ---------------------------------------------------------------------------------
def _problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)  # 3 classes
    return X, y


def _net(d=4, c=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(d, 8, rng=rng, dtype=dtype), Sigmoid(),
                       Dense(8, c, rng=rng, dtype=dtype)]).flatten()


def test_run_epoch_works_on_a_read_only_X():
    X, y = _problem()
    X.flags.writeable = False
    y.flags.writeable = False
    trainer = Trainer(_net(), SGD(lr=0.01))
    result = trainer.run_epoch(X, y, np.random.default_rng(0), batch_size=16)
    assert isinstance(result, EpochResult)
    assert result.n_batches == 4 and not result.stopped


def test_run_epoch_does_not_copy_X():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8000, 128), dtype=np.float32)  # 4 MB
    y = rng.integers(0, 3, size=8000)
    trainer = Trainer(_net(d=128, dtype=np.float32), SGD(lr=1e-4))
    trainer.run_epoch(X[:600], y[:600], rng, batch_size=250)  # warm up the buffers
    tracemalloc.start()
    try:
        trainer.run_epoch(X, y, rng, batch_size=250)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8, f"peak {peak / 1e6:.1f} MB during an epoch over 4 MB"


class _CountBatches(Callback):
    """Counts batches and asks to stop once ``stop_after`` batches have run."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = 0, stop_after

    def on_batch_end(self, trainer):
        self.calls += 1
        return self.stop_after is not None and self.calls >= self.stop_after


def test_a_stop_request_ends_the_epoch_after_a_batch_and_ends_fit():
    X, y = _problem()
    opt = SGD(lr=0.01)
    counter = _CountBatches(stop_after=2)
    history = Trainer(_net(), opt).fit(X, y, np.random.default_rng(0), 5, batch_size=10,
                                       callbacks=[counter])
    assert history.n_epochs == 1 and opt.t == 2 and counter.calls == 2


def test_a_stop_request_on_the_last_batch_completes_the_epoch_then_stops():
    X, y = _problem()
    counter = _CountBatches(stop_after=3)
    history = Trainer(_net(), SGD(lr=0.01)).fit(X, y, np.random.default_rng(0), 5, n_batches=3,
                                                callbacks=[StopWhen(lambda: counter.calls >= 3),
                                                           counter])
    assert history.n_epochs == 1 and counter.calls == 3


def test_on_batch_end_is_called_once_per_batch():
    X, y = _problem()
    counter = _CountBatches()
    history = Trainer(_net(), SGD(lr=0.01)).fit(X, y, np.random.default_rng(0), 2, n_batches=7,
                                                callbacks=[counter])
    assert counter.calls == 14 and history.n_epochs == 2


def test_fit_records_one_entry_per_epoch_and_numbers_epochs_on():
    X, y = _problem()
    opt = SGD(lr=0.1, schedule=StepDecay(step_size=1, gamma=0.5))
    trainer = Trainer(_net(), opt)
    history = trainer.fit(X, y, np.random.default_rng(0), 2, batch_size=20,
                          validation_data=(X[:30], y[:30]))
    trainer.fit(X, y, np.random.default_rng(1), 1, batch_size=20, history=history)
    assert history.n_epochs == 3 and history.lr == [0.1, 0.05, 0.025]
    assert len(history.val_accuracy) == 2  # the third epoch had no validation data
    assert all(len(v) == 3 for k, v in history.as_dict().items() if not k.startswith("val"))


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    X, y = _problem()

    class _Flat(Callback):  # pins the validation score so it never improves after epoch 1
        def on_epoch_end(self, trainer, history):
            history.val_accuracy[-1] = 0.5
            return False

    history = Trainer(_net(), SGD(lr=0.01)).fit(
        X, y, np.random.default_rng(0), 50, batch_size=50, validation_data=(X, y),
        callbacks=[_Flat(), EarlyStopping(patience=3)])
    assert history.n_epochs == 4


def test_best_weights_are_put_back_at_the_end():
    X, y = _problem()
    net = _net()
    seen = []

    class _Record(Callback):
        def on_epoch_end(self, trainer, history):
            seen.append(trainer.net.state_dict())
            history.val_accuracy[-1] = [0.1, 0.9, 0.2][history.n_epochs - 1]
            return False

    Trainer(net, SGD(lr=0.1)).fit(X, y, np.random.default_rng(0), 3, batch_size=50,
                                  validation_data=(X, y), callbacks=[_Record(), BestWeights()])
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, seen[1][name])


def test_divergence_stops_with_one_line_and_keeps_the_last_finite_weights():
    X, y = _problem()
    net = _net()
    kept = []

    class _Blowup(Callback):  # epoch 2's loss is pushed over the bound after its weights moved
        def on_epoch_end(self, trainer, history):
            if history.n_epochs == 1:
                kept.append(trainer.net.state_dict())
            else:
                history.loss[-1] = float("nan")
            return False

    with pytest.raises(TrainingDiverged, match="epoch 2 .*kept the weights of epoch 1"):
        Trainer(net, SGD(lr=0.1)).fit(X, y, np.random.default_rng(0), 5, batch_size=50,
                                      callbacks=[_Blowup(), DivergenceGuard(n_classes=3)])
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, kept[0][name])


def test_an_exploding_loss_counts_as_divergence():
    X, y = _problem()
    with pytest.raises(TrainingDiverged, match="no epoch ended with a sound loss"):
        Trainer(_net(), SGD(lr=1e6)).fit(X * 1e3, y, np.random.default_rng(0), 3, batch_size=50,
                                         callbacks=[DivergenceGuard(n_classes=3)])


def test_clip_norm_bounds_the_step():
    X, y = _problem()
    net = _net()
    before = net.state_dict()
    Trainer(net, SGD(lr=1.0), clip_norm=1e-3).fit(X, y, np.random.default_rng(0), 1,
                                                  n_batches=1)
    moved = np.sqrt(sum(float(np.sum((net.state_dict()[k] - v) ** 2))
                        for k, v in before.items()))
    assert moved <= 1e-3 * (1 + 1e-5)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_epoch_result_measures_loss_and_accuracy(reduction):
    X, y = _problem()
    net = _net()
    # A tiny step: the weights barely move, so the epoch's numbers match the start's.
    trainer = Trainer(net, SGD(lr=1e-12), loss=SoftmaxCrossEntropy(reduction))
    logits = net.forward(X)
    expected_loss = SoftmaxCrossEntropy("mean").forward(logits, y)
    expected_acc = np.mean(logits.argmax(axis=1) == y)
    result = trainer.run_epoch(X, y, np.random.default_rng(0), batch_size=7)
    assert result.mean_loss == pytest.approx(expected_loss, rel=1e-9)
    assert result.total_cost == pytest.approx(expected_loss * X.shape[0], rel=1e-9)
    assert result.accuracy == pytest.approx(expected_acc)


def test_total_cost_adds_the_penalty_of_every_batch():
    X, y = _problem()
    trainer = Trainer(_net(), SGD(lr=1e-12), l1=0.01, l2=0.1)
    penalty = trainer.penalty()
    result = trainer.run_epoch(X, y, np.random.default_rng(0), n_batches=4)
    assert result.total_cost == pytest.approx(result.mean_loss * X.shape[0] + 4 * penalty,
                                              rel=1e-9)


def test_penalty_value():
    net = _net()
    weights = [w for w, _ in net.weights()]
    expected = 0.5 * 0.3 * sum(np.sum(w**2) for w in weights) + \
        0.2 * sum(np.abs(w).sum() for w in weights)
    assert Trainer(net, SGD(lr=0.1), l1=0.2, l2=0.3).penalty() == pytest.approx(expected)
    assert Trainer(net, SGD(lr=0.1)).penalty() == 0.0


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.0, 0.5), (0.3, 0.0), (0.2, 0.4)])
def test_train_step_follows_the_gradient_of_loss_plus_penalty(l1, l2, num_grad,
                                                              assert_grad_close):
    """With plain SGD at lr 1 the update is the gradient of the batch objective, which includes
    the L1/L2 terms on the weight matrices (not the biases)."""
    X, y = _problem(n=8)
    net = _net()
    trainer = Trainer(net, SGD(lr=1.0), l1=l1, l2=l2)

    def objective():
        return SoftmaxCrossEntropy("sum").forward(net.forward(X), y) + trainer.penalty()

    numeric = {name: num_grad(objective, p) for name, p, _ in net.named_parameters()}
    before = {name: p.copy() for name, p, _ in net.named_parameters()}
    trainer.train_step(X.copy(), y)
    for name, p, _ in net.named_parameters():
        assert_grad_close(before[name] - p, numeric[name])


def test_run_epoch_sets_the_scheduled_learning_rate():
    X, y = _problem()
    opt = SGD(lr=0.1, schedule=StepDecay(step_size=1, gamma=0.5))
    trainer = Trainer(_net(), opt)
    trainer.run_epoch(X, y, np.random.default_rng(0), epoch=3)
    assert opt.lr == pytest.approx(0.1 * 0.5**3)


def test_shuffling_is_driven_by_the_rng():
    X, y = _problem()

    def weights(shuffle, seed):
        net = _net()
        Trainer(net, Adam(lr=0.01)).run_epoch(X, y, np.random.default_rng(seed),
                                              batch_size=8, shuffle=shuffle)
        return net.parameters()[0][0].copy()

    np.testing.assert_array_equal(weights(True, 1), weights(True, 1))
    assert not np.array_equal(weights(True, 1), weights(True, 2))
    np.testing.assert_array_equal(weights(False, 1), weights(False, 2))


def test_augment_sees_every_batch_and_never_touches_X():
    X, y = _problem()
    X_before = X.copy()
    seen = []

    def augment(batch, rng):
        seen.append(batch.shape[0])
        batch += 100.0  # in place, on the batch buffer

    Trainer(_net(), SGD(lr=0.01), augment=augment).run_epoch(
        X, y, np.random.default_rng(0), batch_size=25)
    assert seen == [25, 25, 10]
    np.testing.assert_array_equal(X, X_before)


def test_training_lowers_the_loss():
    X, y = _problem(n=200)
    trainer = Trainer(_net(), Adam(lr=0.02), loss=SoftmaxCrossEntropy("mean"))
    rng = np.random.default_rng(0)
    losses = [trainer.run_epoch(X, y, rng, batch_size=20, epoch=e).mean_loss for e in range(30)]
    assert losses[-1] < 0.5 * losses[0]
