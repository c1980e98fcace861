"""Learning-rate schedules: ``schedule(base_lr, epoch) -> lr`` for a 0-based epoch.

The trainer sets the rate once per epoch, or before every mini-batch (with a fractional epoch)
for a schedule whose ``per_batch`` is true."""

from __future__ import annotations

import math
from collections.abc import Callable


class Schedule:
    """Base: a callable ``(base_lr, epoch) -> lr``."""

    per_batch = False  # True: the trainer asks before every mini-batch, with a fractional epoch

    def __call__(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError


class StepDecay(Schedule):
    """``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, step_size: int = 10, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def __call__(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """``lr = base_lr * gamma ** epoch``."""

    def __init__(self, gamma: float = 0.95) -> None:
        self.gamma = float(gamma)

    def __call__(self, base_lr, epoch):
        return base_lr * self.gamma**epoch


class CosineAnnealing(Schedule):
    """``lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2``, then
    ``min_lr`` after ``total_epochs`` (Loshchilov & Hutter 2017, https://arxiv.org/abs/1608.03983)."""

    def __init__(self, total_epochs: int, min_lr: float = 0.0) -> None:
        if total_epochs < 1:
            raise ValueError(f"total_epochs must be >= 1, got {total_epochs}")
        self.total_epochs, self.min_lr = int(total_epochs), float(min_lr)

    def __call__(self, base_lr, epoch):
        if epoch >= self.total_epochs:
            return self.min_lr
        cos = (1.0 + math.cos(math.pi * epoch / self.total_epochs)) / 2.0
        return self.min_lr + (base_lr - self.min_lr) * cos


class OneCycle(Schedule):
    """Triangular one-cycle schedule, set before every mini-batch (``per_batch``): the rate rises
    linearly from ``start * base_lr`` to ``base_lr`` over the first ``peak_at`` of the run, then
    falls linearly to 0 at ``total_epochs``; ``epoch`` may be fractional (epoch + batch / batches).

    Smith & Topin 2017, https://arxiv.org/abs/1708.07120 (super-convergence with one cycle).
    """

    per_batch = True

    def __init__(self, total_epochs: int, peak_at: float = 0.25, start: float = 0.1) -> None:
        if total_epochs < 1:
            raise ValueError(f"total_epochs must be >= 1, got {total_epochs}")
        if not 0.0 < peak_at < 1.0:
            raise ValueError(f"peak_at must be in (0, 1), got {peak_at}")
        self.total_epochs, self.peak_at, self.start = int(total_epochs), float(peak_at), start

    def __call__(self, base_lr, epoch):
        done = min(max(epoch / self.total_epochs, 0.0), 1.0)  # fraction of the run done
        if done < self.peak_at:
            return base_lr * (self.start + (1.0 - self.start) * done / self.peak_at)
        return base_lr * (1.0 - done) / (1.0 - self.peak_at)


#: The estimator's schedule names; each is built from the number of epochs it will run.
SCHEDULES: dict[str, Callable[[int], Schedule]] = {
    "step": lambda epochs: StepDecay(),
    "exponential": lambda epochs: ExponentialDecay(),
    "cosine": CosineAnnealing,
    "onecycle": OneCycle,
}


def get_schedule(name: str | Schedule | None, epochs: int) -> Schedule | None:
    """Build the schedule ``name`` (one of ``SCHEDULES``) for a run of ``epochs`` epochs;
    ``None`` and :class:`Schedule` instances pass through."""
    if name is None or isinstance(name, Schedule):
        return name
    try:
        factory = SCHEDULES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}, None, "
                         "or a Schedule instance") from None
    return factory(epochs)
