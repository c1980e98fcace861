"""``Sequential``: a chain of layers with one forward, one backward and one parameter list."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from scratchnet.nn.layers import Layer, layer_from_config
from scratchnet.nn.layers.activations import Activation


class Sequential:
    """Layers applied in order: ``forward`` runs them first to last, ``backward`` last to first.

    Parameters
    ----------
    layers : list of Layer
    input_grad : bool, default=False
        Whether ``backward`` returns the gradient with respect to the network's input. Training
        never needs it, so by default the first parameterised layer skips that product and the
        layers before it are not visited at all.
    """

    def __init__(self, layers: list[Layer], input_grad: bool = False) -> None:
        self.layers = list(layers)
        self.input_grad = input_grad
        self._flat: tuple[np.ndarray, np.ndarray] | None = None
        # Where backward stops: the first layer with parameters, unless the input gradient is
        # wanted. Layers before it have nothing to learn and nobody reads their gradient.
        self._first = 0
        for layer in self.layers:  # layers may come from another Sequential that cleared it
            layer.needs_input_grad = True
        if not input_grad:
            with_params = [i for i, layer in enumerate(self.layers) if layer.params]
            self._first = with_params[0] if with_params else len(self.layers)
            if with_params:
                self.layers[self._first].needs_input_grad = False
        for prev, layer in zip(self.layers, self.layers[1:], strict=False):
            if isinstance(layer, Activation) and prev.fresh_output:
                layer.inplace = True  # nobody else holds prev's output

    # --- passes -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        for layer in reversed(self.layers[self._first:]):
            grad = layer.backward(grad)
        return grad if self.input_grad else None

    def predict(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Forward pass in inference mode, in chunks to bound memory; returns the last output."""
        if x.shape[0] <= batch_size:
            return self.forward(x)
        return np.concatenate([self.forward(x[i:i + batch_size])
                               for i in range(0, x.shape[0], batch_size)])

    def hidden_representation(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Output of every layer but the last, one row per sample, in inference mode: the last
        hidden activations of an MLP or a CNN, as the report's t-SNE maps show them.

        Runs the layers directly instead of building a sub-network, which would reset the
        layers' ``needs_input_grad`` flags of this one.
        """
        chunks = []
        for i in range(0, x.shape[0], batch_size):
            h = x[i:i + batch_size]
            for layer in self.layers[:-1]:
                h = layer.forward(h)
            chunks.append(h.reshape(h.shape[0], -1))  # (n, H)
        return np.concatenate(chunks) if chunks else x.reshape(x.shape[0], -1)

    def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.forward(x, training)

    # --- parameters -------------------------------------------------------------------------
    def named_parameters(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(name, param, grad)`` with names like ``"0.weight"``."""
        for i, layer in enumerate(self.layers):
            for key, p in layer.params.items():
                yield f"{i}.{key}", p, layer.grads[key]

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(param, grad)`` pairs for an optimizer: one flat pair once :meth:`flatten` ran."""
        if self._flat is not None:
            return [self._flat]
        return [(p, g) for _, p, g in self.named_parameters()]

    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(weight, grad)`` pairs of the weight matrices and kernels only: what L1/L2
        penalise (biases and BatchNorm's 1-d scale are left alone)."""
        return [(p, g) for name, p, g in self.named_parameters()
                if name.endswith(".weight") and p.ndim >= 2]

    def n_parameters(self) -> int:
        return sum(p.size for _, p, _ in self.named_parameters())

    def flatten(self) -> Sequential:
        """Move all parameters and gradients into two contiguous buffers and make every layer's
        ``params``/``grads`` entries views into them.

        The optimizer then updates one array instead of one per tensor: a few long vectorised
        passes instead of many short ones (and many Python calls).
        """
        named = list(self.named_parameters())
        if not named:
            return self
        dtype = np.result_type(*[p.dtype for _, p, _ in named])
        total = sum(p.size for _, p, _ in named)
        flat_p = np.empty(total, dtype=dtype)  # (P,)
        flat_g = np.zeros(total, dtype=dtype)  # (P,)
        offset = 0
        for layer in self.layers:
            for key in list(layer.params):
                p = layer.params[key]
                view_p = flat_p[offset:offset + p.size].reshape(p.shape)
                view_p[...] = p
                layer.params[key] = view_p
                layer.grads[key] = flat_g[offset:offset + p.size].reshape(p.shape)
                offset += p.size
        self._flat = (flat_p, flat_g)
        return self

    def __setstate__(self, state: dict) -> None:
        # pickle and deepcopy turn the layers' views into independent arrays: point them into
        # the flat buffers again, or the optimizer would update a buffer no layer reads.
        self.__dict__.update(state)
        if self._flat is not None:
            self._flat = None
            self.flatten()

    # --- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and buffers by name (``"0.weight"``, ``"2.running_mean"``), as copies."""
        state = {name: p.copy() for name, p, _ in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for key, b in layer.buffers.items():
                state[f"{i}.{key}"] = b.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the layers; ``ValueError`` naming the entry on any mismatch."""
        expected = self.state_dict()
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing or extra:
            raise ValueError(f"weights do not match the architecture: missing {missing}, "
                             f"unexpected {extra}")
        for name, ref in expected.items():
            if state[name].shape != ref.shape:
                raise ValueError(f"weight {name!r} has shape {state[name].shape}, the "
                                 f"architecture needs {ref.shape}")
        for i, layer in enumerate(self.layers):
            for key in layer.params:
                layer.params[key][...] = state[f"{i}.{key}"]
            for key in layer.buffers:
                layer.buffers[key][...] = state[f"{i}.{key}"]

    def config(self) -> list[dict]:
        return [layer.config() for layer in self.layers]

    @classmethod
    def from_config(cls, config: list[dict], dtype=np.float32, rng=None) -> Sequential:
        return cls([layer_from_config(c, rng=rng, dtype=dtype) for c in config])

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner}\n])"
