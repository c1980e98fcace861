"""The core: a neural network written from scratch, importing nothing but NumPy.

``layers`` (the :class:`~scratchnet.nn.layers.Layer` contract and every layer), ``losses``,
``initializers``, ``optimizers``, ``schedules``, ``network`` (:class:`Sequential`), ``training``
(:class:`Trainer` and its callbacks), ``functional`` (the tutorial's math as functions),
``augment``, ``architectures`` and ``blas`` (NumPy's own OpenBLAS for the optimizer's passes).
"""

from scratchnet.nn.network import Sequential

__all__ = ["Sequential"]
