"""A trained network as text, like Keras's ``model.summary()``: each layer with its output
shape and parameter count, then the totals; what ``scratchnet summary`` prints.

The rows come from :func:`scratchnet.app.architecture_table.architecture_table`, the table the
report shows too, so both count parameters the same way: trained arrays as trainable, buffers
(batch norm's running mean and variance) as non-trainable, as Keras counts them.
"""

from __future__ import annotations

import numpy as np

from scratchnet.app.architecture_table import ArchitectureTable, architecture_table
from scratchnet.estimator.trained_model import TrainedModel


def model_summary(model: TrainedModel) -> str:
    """:func:`format_summary` of ``model``'s network from its input shape."""
    return format_summary(architecture_table(model.network, model.input_shape), model.dtype)


def format_summary(table: ArchitectureTable, dtype: str = "float32") -> str:
    """A plain-text table; shapes are of a batch of ``N`` images::

    #  Layer    Details      Output shape  Param #
    ===============================================
    0  Dense    784 -> 256   (N, 256)      200,960
    ...
    ===============================================
    Total params: 235,146 (918.5 KiB in float32)
    Trainable params: 235,146
    Non-trainable params: 0
    """
    header = ("#", "Layer", "Details", "Output shape", "Param #")
    body = [
        (str(r.index), r.layer, r.details, _shape(r.output_shape), f"{r.params + r.buffers:,}")
        for r in table.rows
    ]
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]
    align = (">", "<", "<", "<", ">")

    def line(row) -> str:
        return "  ".join(f"{v:{a}{w}}" for v, a, w in zip(row, align, widths, strict=True))

    rule = "=" * len(line(header))
    total = table.total_params + table.total_buffers
    nbytes = total * np.dtype(dtype).itemsize
    non_trainable = f"Non-trainable params: {table.total_buffers:,}"
    if table.total_buffers:
        non_trainable += " (batch-norm running statistics)"
    return "\n".join(
        [
            f"Input: {_shape(table.input_shape)}, {dtype}",
            line(header),
            rule,
            *map(line, body),
            rule,
            f"Total params: {total:,} ({_size(nbytes)} in {dtype})",
            f"Trainable params: {table.total_params:,}",
            non_trainable,
        ]
    )


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def _size(nbytes: int) -> str:
    if nbytes < 1024:
        return f"{nbytes} B"
    kib = nbytes / 1024
    return f"{kib:.1f} KiB" if kib < 1024 else f"{kib / 1024:.1f} MiB"
