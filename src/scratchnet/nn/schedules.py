"""Learning-rate schedules: ``schedule(base_lr, epoch) -> lr`` for a 0-based epoch."""

from __future__ import annotations

import math


class Schedule:
    """Base: a callable ``(base_lr, epoch) -> lr``."""

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


def get_schedule(schedule) -> Schedule | None:
    """Accept ``None``, a :class:`Schedule`, or a name with defaults (``"step"``,
    ``"exponential"``); cosine needs its length, so it is built as ``CosineAnnealing(n)``."""
    if schedule is None or isinstance(schedule, Schedule):
        return schedule
    if schedule == "step":
        return StepDecay()
    if schedule == "exponential":
        return ExponentialDecay()
    raise ValueError(
        f"unknown schedule {schedule!r}; use 'step', 'exponential' or a Schedule instance "
        "such as CosineAnnealing(total_epochs)"
    )
