"""The reliability diagram: accuracy against confidence per bin, with the expected calibration
error (:mod:`scratchnet.app.calibration` computes the numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scratchnet.app.calibration import Reliability

if TYPE_CHECKING:  # matplotlib is imported inside the figure function, when it runs
    from matplotlib.figure import Figure


def reliability_figure(rel: Reliability) -> Figure:
    """Left: each bin's accuracy as a bar over its confidence range, its mean confidence as a
    marker, the diagonal of perfect calibration and the ECE. Right: how many test images fall
    in each bin, on a log axis (most sit in the top bin).

    Bars below the diagonal are bins where the model is over-confident.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax, ax_n = fig.subplots(1, 2, width_ratios=(1.2, 1))
    left = rel.edges[:-1]  # (B,)
    width = np.diff(rel.edges)  # (B,)
    filled = rel.count > 0
    ax.bar(
        left[filled],
        rel.accuracy[filled],
        width=width[filled],
        align="edge",
        color="C0",
        edgecolor="white",
        label="accuracy of the bin",
    )
    ax.plot(
        rel.confidence[filled],
        rel.accuracy[filled],
        "o",
        color="C3",
        markersize=4,
        label="(mean confidence, accuracy)",
    )
    ax.plot([0, 1], [0, 1], "--", color="0.4", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("fraction predicted right")
    ax.set_title(f"Reliability diagram, {left.size} bins: ECE = {rel.ece:.2%}")
    ax.legend(fontsize=9, loc="upper left")
    ax.grid(True, alpha=0.3)
    ax_n.bar(left, rel.count, width=width, align="edge", color="C2", edgecolor="white")
    if rel.count.max() > 0:
        ax_n.set_yscale("log")
    ax_n.set_xlim(0, 1)
    ax_n.set_xlabel("confidence")
    ax_n.set_ylabel("test images (log scale)")
    ax_n.set_title(f"Images per bin ({int(rel.count.sum()):,} in all)")
    ax_n.grid(True, axis="y", alpha=0.3)
    return fig
