"""The layer contract every layer follows.

Shape legend used in all layer modules: ``N`` batch size, ``D_in``/``D_out`` features in and out,
``C`` channels, ``H``/``W`` height and width; images travel as ``(N, C, H, W)``.

Contract (one test runs it over every layer):

- ``forward(x, training=False)`` returns the output; when ``training`` (or when
  ``cache_at_inference`` is set) it caches only what ``backward`` needs.
- ``backward(grad_out)`` assigns (never accumulates) ``self.grads[name]`` under the same keys as
  ``self.params`` and returns the gradient with respect to the input. It may overwrite
  ``grad_out`` (gradients are transient), which saves a copy per layer.
- ``params`` and ``grads`` may be replaced by views into one flat buffer (see
  :meth:`scratchnet.nn.network.Sequential.flatten`), so code always goes through the dicts and
  writes gradients with ``out=`` or ``[...] =``.
"""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class: no parameters, identity config; subclasses override ``forward``/``backward``."""

    # True when forward returns a new array that the layer does not keep (Dense, Conv2D):
    # an activation after it may then work in place.
    fresh_output = False

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        # Non-trained state saved with the model (e.g. BatchNorm's running statistics).
        self.buffers: dict[str, np.ndarray] = {}
        # Set to False by Sequential on the first layer: its input gradient is never used,
        # so Dense/Conv2D skip that matrix product (a third of the first layer's backward cost).
        self.needs_input_grad = True
        # Cache what backward needs even in inference mode (running statistics, no dropout),
        # so the gradient of a prediction can be taken through the network exactly as it
        # predicts. Only scratchnet.nn.saliency sets it, on private copies of the layers.
        self.cache_at_inference = False

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's output given one sample's input shape (batch axis left out)."""
        return input_shape

    def config(self) -> dict:
        """JSON-able description; :func:`layer_from_config` rebuilds the layer from it."""
        return {"type": type(self).__name__}

    def astype(self, dtype) -> Layer:
        """Cast parameters to ``dtype`` in place and return ``self``."""
        for name, p in self.params.items():
            self.params[name] = p.astype(dtype)
            self.grads[name] = np.zeros_like(self.params[name])
        for name, b in self.buffers.items():
            self.buffers[name] = b.astype(dtype)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"
