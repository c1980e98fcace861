"""Optimizers: a base class owns the loop, the step count and the learning rate; each subclass
writes only its per-parameter rule, updating the parameter in place.

``step(pairs)`` takes a list of ``(param, grad)`` arrays. When a network keeps all its parameters
in one flat buffer (see :meth:`scratchnet.network.Sequential.flatten`) the list has one pair and
every rule runs as a handful of whole-array operations, which is what makes it fast.

Every update is written with ``out=`` into per-parameter scratch space: no array is allocated
per step. References are in each class.
"""

from __future__ import annotations

import numpy as np

from scratchnet.schedules import Schedule, get_schedule


class Optimizer:
    """Base class: ``lr`` (optionally driven per epoch by a schedule), optional decoupled
    ``weight_decay`` (``p -= lr * weight_decay * p`` before the rule, as in AdamW), the step
    count ``t`` and per-parameter ``state``."""

    def __init__(self, lr: float, weight_decay: float = 0.0,
                 schedule: Schedule | str | None = None) -> None:
        if lr <= 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.base_lr = float(lr)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.schedule = get_schedule(schedule)
        self.t = 0
        self.state: list[dict[str, np.ndarray]] = []

    def set_epoch(self, epoch: int) -> None:
        """Set the learning rate for ``epoch`` (0-based) from the schedule, if any."""
        if self.schedule is not None:
            self.lr = self.schedule(self.base_lr, epoch)

    def step(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Update every parameter in place from its gradient."""
        if not self.state:
            self.state = [self.init_state(p) for p, _ in pairs]
        self.t += 1
        for (p, g), state in zip(pairs, self.state, strict=True):
            if self.weight_decay:
                p *= 1.0 - self.lr * self.weight_decay
            self.update(p, g, state)

    def init_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {"tmp": np.empty_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
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

    def update(self, p, g, state):
        tmp = state["tmp"]
        if not self.momentum:
            np.multiply(g, self.lr, out=tmp)
            p -= tmp
            return
        v = state["velocity"]
        v *= self.momentum
        v += g
        if self.nesterov:
            np.multiply(v, self.momentum, out=tmp)
            tmp += g
            tmp *= self.lr
        else:
            np.multiply(v, self.lr, out=tmp)
        p -= tmp


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p -= lr_t * m / (sqrt(v) + eps_t)

    with the bias corrections folded into the step size, ``lr_t = lr * sqrt(1 - beta2**t) /
    (1 - beta1**t)`` and ``eps_t = eps * sqrt(1 - beta2**t)``: algebraically the paper's
    ``lr * m_hat / (sqrt(v_hat) + eps)``, with two fewer passes over the parameters.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, schedule=None) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def init_state(self, p):
        return {"tmp": np.empty_like(p), "m": np.zeros_like(p), "v": np.zeros_like(p)}

    def update(self, p, g, state):
        m, v, tmp = state["m"], state["v"], state["tmp"]
        b1, b2, t = self.beta1, self.beta2, self.t
        # m += (1 - b1) * (g - m)  is  m = b1 * m + (1 - b1) * g, in three passes
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1.0 - b2
        v += tmp
        correction2 = np.sqrt(1.0 - b2**t)
        lr_t = self.lr * correction2 / (1.0 - b1**t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * correction2
        np.divide(m, tmp, out=tmp)
        tmp *= lr_t
        p -= tmp


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

    def update(self, p, g, state):
        s, tmp = state["s"], state["tmp"]
        np.multiply(g, g, out=tmp)
        tmp -= s
        tmp *= 1.0 - self.rho
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


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

    def update(self, p, g, state):
        s, tmp = state["s"], state["tmp"]
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


def make_optimizer(name: str, lr: float, **kwargs) -> Optimizer:
    """Build an optimizer by the estimator's names: ``"sgd"``, ``"momentum"`` (SGD with momentum
    0.9), ``"nesterov"``, ``"adam"``, ``"rmsprop"``, ``"adagrad"``."""
    if name == "sgd":
        return SGD(lr, **kwargs)
    if name == "momentum":
        return SGD(lr, momentum=0.9, **kwargs)
    if name == "nesterov":
        return SGD(lr, momentum=0.9, nesterov=True, **kwargs)
    if name == "adam":
        return Adam(lr, **kwargs)
    if name == "rmsprop":
        return RMSprop(lr, **kwargs)
    if name == "adagrad":
        return Adagrad(lr, **kwargs)
    raise ValueError(
        f"unknown optimizer {name!r}; choose one of "
        "'sgd', 'momentum', 'nesterov', 'adam', 'rmsprop', 'adagrad'"
    )
