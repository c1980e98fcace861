"""Optimizers: a base class owns the loop, the step count and the learning rate; each subclass
writes only its per-parameter rule, updating the parameter in place.

``step(pairs)`` takes a list of ``(param, grad)`` arrays. When a network keeps all its parameters
in one flat buffer (see :meth:`scratchnet.nn.network.Sequential.flatten`) the list has one pair and
every rule runs as a handful of whole-array operations, which is what makes it fast.

Every update is written with ``out=`` into per-parameter scratch space: no array is allocated
per step. Each ``v = a * x + b * v`` is one :func:`scratchnet.nn.blas.axpby` call, a single pass
over memory on NumPy's own BLAS where NumPy needs two or three; decoupled weight decay rides on
the last one (``p = decay * p - lr * step``). The update runs on one thread: splitting it over
two was measured slower inside training, since OpenBLAS's worker threads still spin on the other
core after each product (Adam 0.41-0.52 s against 0.29-0.38 s per MLP epoch), so that option was
removed. References are in each class.

``OPTIMIZERS`` maps the estimator's names to constructors; it is the one list of choices the
estimator's parameter check and the CLI read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from scratchnet.nn.blas import axpby
from scratchnet.nn.schedules import Schedule


class Optimizer:
    """Base class: ``lr`` (optionally driven per epoch by a schedule), optional decoupled
    ``weight_decay`` (``p -= lr * weight_decay * p`` before the rule, as in AdamW; since no rule
    reads ``p``, it is applied in the rule's last pass), the step count ``t`` and per-parameter
    ``state``.
    """

    def __init__(self, lr: float, weight_decay: float = 0.0,
                 schedule: Schedule | None = None) -> None:
        if lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.base_lr = float(lr)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        if schedule is not None and not callable(schedule):
            raise ValueError(f"schedule must be a Schedule or None, got {schedule!r}; build one "
                             "by name with scratchnet.nn.schedules.get_schedule(name, epochs)")
        self.schedule = schedule
        self.t = 0
        self.state: list[dict[str, np.ndarray]] = []

    def set_epoch(self, epoch: float) -> None:
        """Set the learning rate for ``epoch`` (0-based; fractional within an epoch for a
        ``per_batch`` schedule) from the schedule, if any."""
        if self.schedule is not None:
            self.lr = self.schedule(self.base_lr, epoch)

    def step(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Update every parameter in place from its gradient."""
        if not self.state:
            self.state = [self.init_state(p) for p, _ in pairs]
        self.t += 1
        decay = 1.0 - self.lr * self.weight_decay
        for (p, g), state in zip(pairs, self.state, strict=True):
            self.update(p, g, state, decay)

    def init_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {"tmp": np.empty_like(p)}

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        """The rule's state as copies (``"0.M"``: parameter 0's first moment), and the step
        count; ``tmp`` is scratch space and is left out. What a checkpoint saves."""
        arrays = {f"{i}.{k}": v.copy() for i, state in enumerate(self.state)
                  for k, v in state.items() if k != "tmp"}
        return arrays, {"t": self.t}

    def load_state_dict(self, arrays: dict[str, np.ndarray], info: dict,
                        pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Restore :meth:`state_dict`'s output for the parameters ``pairs``; ``ValueError``
        naming the entry when it does not fit them."""
        self.t = int(info["t"])
        if self.t == 0:
            self.state = []
            return
        self.state = [self.init_state(p) for p, _ in pairs]
        for i, state in enumerate(self.state):
            for key in state:
                if key == "tmp":
                    continue
                value = arrays.get(f"{i}.{key}")
                if value is None or value.shape != state[key].shape:
                    raise ValueError(f"optimizer state {i}.{key} is missing or has the wrong "
                                     "shape for this network")
                state[key][...] = value

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray],
               decay: float = 1.0) -> None:
        """Apply the rule to ``p`` in place. ``decay`` is the weight-decay factor
        ``1 - lr * weight_decay``: the rule computes ``p = decay * p - lr * step``."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum, PyTorch's formulation::

        v = momentum * v + g
        p -= lr * v                         # classical momentum
        p -= lr * (g + momentum * v)        # nesterov=True

    With ``momentum=0``: ``p -= lr * g``. Reference: Sutskever et al. 2013,
    https://proceedings.mlr.press/v28/sutskever13.html
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, schedule=None) -> None:
        super().__init__(lr, weight_decay, schedule)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def init_state(self, p):
        state = super().init_state(p)
        if self.momentum:
            state["velocity"] = np.zeros_like(p)
        return state

    def update(self, p, g, state, decay=1.0):
        tmp = state["tmp"]
        if not self.momentum:
            axpby(-self.lr, g, decay, p, scratch=tmp)
            return
        v = state["velocity"]
        axpby(1.0, g, self.momentum, v)  # v = momentum * v + g
        if self.nesterov:
            axpby(-self.lr, g, decay, p, scratch=tmp)
            axpby(-self.lr * self.momentum, v, 1.0, p, scratch=tmp)
        else:
            axpby(-self.lr, v, decay, p, scratch=tmp)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p -= lr * m_hat / (sqrt(v_hat) + eps)
        # m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t)

    Computed with fewer passes over the parameters: the state keeps ``M = m / (1 - beta1)`` and
    ``V = v / (1 - beta2)``, so the moment updates are ``M = beta1 * M + g`` and
    ``V = beta2 * V + g**2``, and the step is ``p -= c * M / (sqrt(V) + e)`` with
    ``c = lr * (1 - beta1) * sqrt(1 - beta2**t) / ((1 - beta1**t) * sqrt(1 - beta2))`` and
    ``e = eps * sqrt(1 - beta2**t) / sqrt(1 - beta2)``: algebraically the paper's update.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, schedule=None) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def init_state(self, p):
        return {"tmp": np.empty_like(p), "M": np.zeros_like(p), "V": np.zeros_like(p)}

    def update(self, p, g, state, decay=1.0):
        M, V, tmp = state["M"], state["V"], state["tmp"]
        b1, b2, t = self.beta1, self.beta2, self.t
        axpby(1.0, g, b1, M)  # M = beta1 * M + g
        np.multiply(g, g, out=tmp)
        axpby(1.0, tmp, b2, V)  # V = beta2 * V + g**2
        # math, not NumPy: a NumPy float64 scalar would turn the float32 passes below float64.
        root = math.sqrt((1.0 - b2**t) / (1.0 - b2))
        c = self.lr * (1.0 - b1) / (1.0 - b1**t) * root
        np.sqrt(V, out=tmp)
        tmp += self.eps * root
        np.divide(M, tmp, out=tmp)
        axpby(-c, tmp, decay, p, scratch=tmp)  # p = decay * p - c * M / (sqrt(V) + e)


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e, https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf)::

        s = rho * s + (1 - rho) * g**2
        p -= lr * g / (sqrt(s) + eps)
    """

    def __init__(self, lr: float = 0.001, rho: float = 0.9, eps: float = 1e-8,
                 weight_decay: float = 0.0, schedule=None) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.rho, self.eps = float(rho), float(eps)

    def init_state(self, p):
        return {"tmp": np.empty_like(p), "s": np.zeros_like(p)}

    def update(self, p, g, state, decay=1.0):
        s, tmp = state["s"], state["tmp"]
        np.multiply(g, g, out=tmp)
        axpby(1.0 - self.rho, tmp, self.rho, s, scratch=tmp)  # s = rho * s + (1 - rho) * g**2
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        axpby(-self.lr, tmp, decay, p, scratch=tmp)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011, https://jmlr.org/papers/v12/duchi11a.html)::

        s += g**2
        p -= lr * g / (sqrt(s) + eps)
    """

    def __init__(self, lr: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0,
                 schedule=None) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.eps = float(eps)

    def init_state(self, p):
        return {"tmp": np.empty_like(p), "s": np.zeros_like(p)}

    def update(self, p, g, state, decay=1.0):
        s, tmp = state["s"], state["tmp"]
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        axpby(-self.lr, tmp, decay, p, scratch=tmp)


#: The estimator's optimizer names and how each is built from ``(lr, **kwargs)``.
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": partial(SGD, momentum=0.9),
    "nesterov": partial(SGD, momentum=0.9, nesterov=True),
    "adam": Adam,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
}


def make_optimizer(name: str, lr: float, **kwargs) -> Optimizer:
    """Build an optimizer by one of the names in ``OPTIMIZERS`` (``"momentum"`` is SGD with
    momentum 0.9, ``"nesterov"`` the same with Nesterov's correction)."""
    try:
        factory = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}") \
            from None
    return factory(lr, **kwargs)
