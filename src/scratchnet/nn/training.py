"""The training loop: :meth:`Trainer.fit` runs epochs, records a :class:`History` and asks its
callbacks (:mod:`scratchnet.nn.callbacks`) whether to stop; :meth:`Trainer.run_epoch` runs one
pass of mini-batches with L1/L2 penalties, optional gradient clipping and augmentation.

Nothing here copies the dataset: an epoch permutes an index vector, and each batch is gathered
with ``np.take(..., out=buffer)`` into the same two arrays. How a dataset is cut into batches
(``batch_size`` wins over ``n_batches``) is decided once, in :func:`batch_slices`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from scratchnet.nn.callbacks import Callback
from scratchnet.nn.functional import cross_entropy_from_logits
from scratchnet.nn.history import EpochResult, History, TrainingState
from scratchnet.nn.losses import SoftmaxCrossEntropy
from scratchnet.nn.network import Sequential
from scratchnet.nn.optimizers import Optimizer


def batch_slices(n_samples: int, n_batches: int | None, batch_size: int | None) -> list[slice]:
    """Split ``range(n_samples)`` into contiguous slices.

    ``batch_size`` wins when given; otherwise ``n_batches`` near-equal parts as the tutorial's
    ``np.array_split`` does (never more parts than samples).
    """
    if batch_size is not None:
        size = max(1, int(batch_size))
        return [slice(i, min(i + size, n_samples)) for i in range(0, n_samples, size)]
    parts = max(1, min(int(n_batches or 1), n_samples))
    bounds = np.linspace(0, n_samples, parts + 1).round().astype(int)
    # array_split puts the larger parts first; equal-ish sizes are what matters here.
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


class Trainer:
    """Runs epochs of mini-batch training of ``net`` on ``(X, y)`` with integer labels.

    Parameters
    ----------
    net : Sequential
    optimizer : Optimizer
    loss : SoftmaxCrossEntropy, default reduction "sum" (the tutorial's scaling)
    l1, l2 : float
        Penalty strengths on the weight matrices; their gradients ``l1 * sign(W)`` and
        ``l2 * W`` are added once per mini-batch, as in the tutorial.
    augment : callable ``(batch, rng) -> None``, optional
        Modifies a batch of inputs in place (random shifts, flips).
    clip_norm : float, optional
        Rescale the gradient (penalties included) to this global L2 norm when it is longer:
        ``g *= clip_norm / max(||g||, clip_norm)`` (Pascanu et al. 2013,
        https://arxiv.org/abs/1211.5063).
    """

    def __init__(self, net: Sequential, optimizer: Optimizer,
                 loss: SoftmaxCrossEntropy | None = None, l1: float = 0.0, l2: float = 0.0,
                 augment: Callable[[np.ndarray, np.random.Generator], None] | None = None,
                 clip_norm: float | None = None) -> None:
        self.net = net
        self.optimizer = optimizer
        self.loss = loss if loss is not None else SoftmaxCrossEntropy(reduction="sum")
        self.l1, self.l2 = float(l1), float(l2)
        self.augment = augment
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self._xbuf: np.ndarray | None = None
        self._ybuf: np.ndarray | None = None
        self._callbacks: Sequence[Callback] = ()
        self._stop_requested = False
        self.history = History()  # every epoch this trainer ran, over all fit calls
        self.epoch_complete = True  # False after an epoch a stop request ended early

    def _buffers(self, X: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (size,) + X.shape[1:]
        if self._xbuf is None or self._xbuf.shape != shape or self._xbuf.dtype != X.dtype:
            self._xbuf = np.empty(shape, dtype=X.dtype)  # (B, ...) reused by every batch
            self._ybuf = np.empty(size, dtype=y.dtype)  # (B,)
        return self._xbuf, self._ybuf

    def penalty(self) -> float:
        """Current value of ``l1 * sum|W| + l2 / 2 * sum W**2``."""
        total = 0.0
        for w, _ in self.net.weights():
            if self.l2:
                total += 0.5 * self.l2 * float(np.vdot(w, w))
            if self.l1:
                total += self.l1 * float(np.abs(w).sum())
        return total

    def _add_penalty_grads(self) -> None:
        for w, g in self.net.weights():
            if self.l2:
                g += self.l2 * w
            if self.l1:
                g += self.l1 * np.sign(w)

    def train_step(self, xb: np.ndarray, yb: np.ndarray,
                   wb: np.ndarray | None = None) -> tuple[float, int]:
        """One forward, backward and update on a batch (``wb``: per-sample loss weights);
        returns (batch loss, correct count)."""
        logits = self.net.forward(xb, training=True)  # (B, C)
        correct = int(np.count_nonzero(logits.argmax(axis=1) == yb))
        batch_loss = self.loss.forward(logits, yb, wb)
        self.net.backward(self.loss.backward())
        if self.l1 or self.l2:
            self._add_penalty_grads()
        if self.clip_norm is not None:
            self._clip_gradients()
        self.optimizer.step(self.net.parameters())
        return batch_loss, correct

    def _clip_gradients(self) -> None:
        grads = [g for _, g in self.net.parameters()]
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if norm > self.clip_norm:
            for g in grads:
                g *= self.clip_norm / norm

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of the network on ``(X, y)`` in inference mode."""
        logits = self.net.predict(X).astype(np.float64)  # (N, C)
        loss = float(cross_entropy_from_logits(logits, y).mean())
        return loss, float(np.mean(logits.argmax(axis=1) == y))

    def fit(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator, epochs: int, *,
            n_batches: int | None = None, batch_size: int | None = None, shuffle: bool = True,
            validation_data: tuple[np.ndarray, np.ndarray] | None = None,
            callbacks: Sequence[Callback] = (), history: History | None = None,
            sample_weight: np.ndarray | None = None,
            resume: TrainingState | None = None) -> History:
        """Train up to ``epochs`` epochs and return the history (``self.history``).

        Epochs are numbered on from the history (``self.history``, or ``history`` when given,
        which then becomes ``self.history``), so repeated calls continue one run, and the
        learning-rate schedule sees the run's epoch. After each epoch the history is appended (the
        validation loss and accuracy when ``validation_data`` is given) and each callback's
        ``on_epoch_end`` is asked, in order; any ``True`` ends training. ``on_train_end`` runs
        however training ended. ``sample_weight`` (n_samples,) scales each sample's loss.

        ``resume`` continues an interrupted run from :meth:`state`'s output: weights, optimizer,
        ``rng``, history and the callbacks' state (the same kinds of callbacks, in the same
        order) are restored first, and ``epochs`` more epochs run.
        """
        history = self.history if history is None else history
        self.history = history
        self._callbacks, self._stop_requested, self._rng = tuple(callbacks), False, rng
        if resume is not None:
            self.load_state(resume)
            history = self.history
        for cb in self._callbacks:
            cb.on_train_begin(self, history)
        try:
            for _ in range(epochs):
                start = time.perf_counter()
                result = self.run_epoch(X, y, rng, n_batches=n_batches, batch_size=batch_size,
                                        shuffle=shuffle, epoch=history.n_epochs,
                                        sample_weight=sample_weight)
                history.loss.append(result.mean_loss)
                history.accuracy.append(result.accuracy)
                history.cost.append(result.total_cost)
                history.lr.append(self.optimizer.lr)
                if validation_data is not None:
                    val_loss, val_acc = self.evaluate(*validation_data)
                    history.val_loss.append(val_loss)
                    history.val_accuracy.append(val_acc)
                history.seconds.append(time.perf_counter() - start)
                self.epoch_complete = not result.stopped  # a stop request can cut it short
                # Every callback hears about every epoch, even when an earlier one says stop.
                stops = [cb.on_epoch_end(self, history) for cb in self._callbacks]
                if any(stops) or result.stopped or self._stop_requested:
                    break
        finally:
            for cb in self._callbacks:
                cb.on_train_end(self, history)
            self._callbacks = ()
        return history

    def state(self) -> TrainingState:
        """A copy of everything :meth:`fit` needs to continue this run later (call it between
        epochs, e.g. from a callback's ``on_epoch_end``)."""
        arrays = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        opt_arrays, opt_info = self.optimizer.state_dict()
        arrays.update({f"opt.{k}": v for k, v in opt_arrays.items()})
        callbacks = []
        for i, cb in enumerate(self._callbacks):
            cb_arrays, cb_info = cb.state()
            arrays.update({f"cb{i}.{k}": v for k, v in cb_arrays.items()})
            callbacks.append({"type": type(cb).__name__, "info": cb_info})
        info = {"history": self.history.as_dict(), "optimizer": opt_info,
                "rng": self._rng.bit_generator.state, "callbacks": callbacks}
        return TrainingState(arrays=arrays, info=info)

    def load_state(self, state: TrainingState) -> None:
        """Put a :meth:`state` back into the network, optimizer, generator, history and the
        callbacks of the current :meth:`fit`; ``ValueError`` naming what does not match."""
        def part(prefix):
            return {k[len(prefix):]: v for k, v in state.arrays.items() if k.startswith(prefix)}

        self.net.load_state_dict(part("net."))
        self.optimizer.load_state_dict(part("opt."), state.info["optimizer"],
                                       self.net.parameters())
        self._rng.bit_generator.state = state.info["rng"]
        self.history = History(**{k: list(v) for k, v in state.info["history"].items()})
        # Callbacks are matched by kind, in order (the n-th BestWeights gets the n-th saved
        # BestWeights' state); stateless ones (Ctrl-C, logs, the checkpoint itself) may differ.
        current: dict[str, list[Callback]] = {}
        for cb in self._callbacks:
            current.setdefault(type(cb).__name__, []).append(cb)
        seen: dict[str, int] = {}
        for i, entry in enumerate(state.info["callbacks"]):
            kind, n = entry["type"], seen.get(entry["type"], 0)
            seen[kind] = n + 1
            arrays = part(f"cb{i}.")
            if n < len(current.get(kind, [])):
                current[kind][n].load_state(arrays, entry["info"])
            elif arrays or entry["info"]:
                raise ValueError(f"the saved run had a {kind} callback with state that this run "
                                 "lacks; resume with the same settings")

    def _batch_done(self) -> bool:
        """Ask the callbacks after a batch; a stop request is remembered for the epoch's end."""
        if any([cb.on_batch_end(self) for cb in self._callbacks]):
            self._stop_requested = True
        return self._stop_requested

    def run_epoch(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                  n_batches: int | None = None, batch_size: int | None = None,
                  shuffle: bool = True, epoch: int = 0,
                  sample_weight: np.ndarray | None = None) -> EpochResult:
        """Train one pass over ``(X, y)``; stop early (``stopped=True``) when a callback of
        :meth:`fit` asks to after a batch."""
        n = X.shape[0]
        self.optimizer.set_epoch(epoch)
        order = rng.permutation(n) if shuffle else np.arange(n)
        slices = batch_slices(n, n_batches, batch_size)
        biggest = max(s.stop - s.start for s in slices)
        xbuf, ybuf = self._buffers(X, y, biggest)
        total_loss, total_cost, correct, seen, stopped = 0.0, 0.0, 0, 0, False
        penalised = bool(self.l1 or self.l2)
        per_batch = getattr(self.optimizer.schedule, "per_batch", False)
        for done, s in enumerate(slices, start=1):
            if per_batch:
                self.optimizer.set_epoch(epoch + (done - 1) / len(slices))
            idx = order[s]
            m = idx.shape[0]
            xb, yb = xbuf[:m], ybuf[:m]
            # mode="clip": with the default "raise", NumPy buffers `out` (a hidden copy); the
            # indices come from a permutation, so they are always in range.
            np.take(X, idx, axis=0, out=xb, mode="clip")
            np.take(y, idx, axis=0, out=yb, mode="clip")
            wb = None if sample_weight is None else sample_weight[idx]  # (m,)
            if self.augment is not None:
                self.augment(xb, rng)
            batch_loss, batch_correct = self.train_step(xb, yb, wb)
            if self.loss.reduction == "mean":
                batch_loss *= m
            total_loss += batch_loss
            total_cost += batch_loss + (self.penalty() if penalised else 0.0)
            correct += batch_correct
            seen += m
            if self._batch_done() and done < len(slices):
                stopped = True
                break
        return EpochResult(total_cost=total_cost, mean_loss=total_loss / max(seen, 1),
                           accuracy=correct / max(seen, 1), n_batches=done, stopped=stopped)
