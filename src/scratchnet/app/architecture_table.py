"""The layers of a network as a table: layer, output shape, parameter count (Keras's
``model.summary()``), for the report.

Output shapes come from each layer's ``output_shape(input_shape)`` chained from the model's
``input_shape``, so the table describes the network without running it. Parameters are the
trained arrays (``layer.params``); buffers (a batch norm's running mean and variance) are state
that is not trained and are counted apart, as Keras's "non-trainable params".
"""

from __future__ import annotations

from dataclasses import dataclass

# A short description of a layer from its config, so that "Dense" rows can be told apart.
_DETAILS = {
    "Dense": lambda c: f"{c['in_features']} -> {c['out_features']}",
    "Conv2D": lambda c: f"{c['in_channels']} -> {c['out_channels']}, {_k(c['kernel_size'])}",
    "MaxPool2D": lambda c: f"{_k(c['kernel_size'])}",
    "Dropout": lambda c: f"p={c['p']}",
}


def _k(size) -> str:
    """``3`` or ``[3, 3]`` as ``3x3``."""
    a, b = (size, size) if isinstance(size, int) else size
    return f"{a}x{b}"


@dataclass(frozen=True)
class LayerRow:
    """One row of the table."""

    index: int
    layer: str  # type name, e.g. "Dense"
    details: str  # e.g. "784 -> 256", "" when there is nothing to add
    output_shape: tuple[int, ...]  # one sample's output, batch axis left out
    params: int  # trained values
    buffers: int  # non-trained state values (running statistics)


@dataclass(frozen=True)
class ArchitectureTable:
    """The rows and their totals."""

    input_shape: tuple[int, ...]
    rows: list[LayerRow]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_buffers(self) -> int:
        return sum(r.buffers for r in self.rows)


def architecture_table(network, input_shape: tuple[int, ...]) -> ArchitectureTable:
    """The table of ``network`` (a :class:`scratchnet.nn.network.Sequential`) for one sample of
    ``input_shape`` (``TrainedModel.input_shape``)."""
    rows, shape = [], tuple(input_shape)
    for i, layer in enumerate(network.layers):
        shape = tuple(int(d) for d in layer.output_shape(shape))
        config = layer.config()
        kind = str(config.get("type", type(layer).__name__))
        try:
            details = _DETAILS[kind](config) if kind in _DETAILS else ""
        except (KeyError, TypeError, ValueError):  # a config of another shape: no details
            details = ""
        rows.append(
            LayerRow(
                index=i,
                layer=kind,
                details=details,
                output_shape=shape,
                params=sum(int(p.size) for p in layer.params.values()),
                buffers=sum(int(b.size) for b in getattr(layer, "buffers", {}).values()),
            )
        )
    return ArchitectureTable(input_shape=tuple(input_shape), rows=rows)


def format_shape(shape: tuple[int, ...]) -> str:
    """``(64, 7, 7)`` as ``64 x 7 x 7``; one axis as ``256``."""
    return " x ".join(str(d) for d in shape)
