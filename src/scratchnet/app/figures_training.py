"""Figures of a training run from its per-epoch history (``TrainingRecord.history``): the
learning curves, and the learning rate and wall time of each epoch.

Histories written before scratchnet recorded ``lr`` and ``seconds`` lack those lists, and a
model trained without validation data has empty ``val_*`` lists: each panel says what is missing
instead of failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported inside the figure functions, when they run
    from matplotlib.figure import Figure


def _say_missing(ax, text: str) -> None:
    ax.text(
        0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=11, wrap=True
    )
    ax.set_axis_off()


def best_validation_epoch(history: dict) -> int | None:
    """The epoch (1-based) with the highest validation accuracy, the first one on a tie as
    :class:`scratchnet.nn.callbacks.BestWeights` keeps it; ``None`` without validation."""
    val_acc = list(history.get("val_accuracy") or [])
    return int(np.argmax(val_acc)) + 1 if val_acc else None


def learning_curves_figure(history: dict, kept_best: bool = True) -> Figure:
    """Loss and accuracy per epoch, training against validation when it was recorded.

    Parameters
    ----------
    history : dict
        Lists ``"loss"``, ``"accuracy"`` and, optionally, ``"val_loss"`` and ``"val_accuracy"``.
    kept_best : bool, default=True
        Whether the model's weights are those of the best validation epoch
        (``TrainingRecord.restored_best_weights``). The best validation epoch is marked either
        way; the legend says "kept" only when it is.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    train_loss = list(history.get("loss") or [])
    if not train_loss:
        for ax in (ax_loss, ax_acc):
            _say_missing(ax, "no training history recorded")
        return fig
    best = best_validation_epoch(history)
    n_epochs = len(train_loss)
    if kept_best:
        best_label = f"best validation, weights kept (epoch {best})"
    elif best == n_epochs:
        best_label = f"best validation = last epoch, weights kept (epoch {best})"
    else:
        best_label = f"best validation (epoch {best}; last epoch kept)"
    for ax, key, label in ((ax_loss, "loss", "loss per image"), (ax_acc, "accuracy", "accuracy")):
        for prefix, name, marker in (("", "training", "o"), ("val_", "validation", "s")):
            values = list(history.get(prefix + key) or [])
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(
                    epochs,
                    values,
                    "-",
                    marker=marker if len(values) <= 40 else None,
                    markersize=3.5,
                    label=name,
                )
        if best is not None:
            ax.axvline(best, color="0.5", linestyle="--", linewidth=1, label=best_label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=9)
    ax_loss.set_title("Loss")
    ax_acc.set_title("Accuracy")
    return fig


def schedule_figure(history: dict) -> Figure:
    """The learning rate each epoch used and the seconds each epoch took (its validation
    included), from the history's ``"lr"`` and ``"seconds"`` lists.

    A learning rate that spans more than a factor 20 is drawn on a log axis (a cosine schedule
    that ends near zero would otherwise hide its last epochs); the seconds are bars with their
    mean, so a slow first epoch (warm-up, page faults) stands out.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    ax_lr, ax_time = fig.subplots(1, 2)
    lr = np.asarray(history.get("lr") or [], dtype=np.float64)  # (E,)
    seconds = np.asarray(history.get("seconds") or [], dtype=np.float64)  # (E,)
    if lr.size:
        epochs = np.arange(1, lr.size + 1)
        ax_lr.plot(epochs, lr, "-", marker="o" if lr.size <= 40 else None, markersize=3.5)
        positive = lr[lr > 0]
        if positive.size and positive.max() > 20 * positive.min():
            ax_lr.set_yscale("log")
        ax_lr.set_xlabel("epoch")
        ax_lr.set_ylabel("learning rate")
        ax_lr.grid(True, alpha=0.3)
        ax_lr.xaxis.get_major_locator().set_params(integer=True)
        ax_lr.set_title("Learning rate per epoch")
    else:
        _say_missing(ax_lr, "learning rate not recorded\n(a model saved before scratchnet kept it)")
    if seconds.size:
        epochs = np.arange(1, seconds.size + 1)
        ax_time.bar(epochs, seconds, color="C0", width=0.8)
        ax_time.axhline(
            seconds.mean(),
            color="0.3",
            linestyle="--",
            linewidth=1,
            label=f"mean {seconds.mean():.2f} s",
        )
        ax_time.set_xlabel("epoch")
        ax_time.set_ylabel("seconds")
        ax_time.grid(True, axis="y", alpha=0.3)
        ax_time.xaxis.get_major_locator().set_params(integer=True)
        ax_time.legend(fontsize=9)
        ax_time.set_title(f"Time per epoch (total {seconds.sum():.1f} s)")
    else:
        _say_missing(ax_time, "time per epoch not recorded")
    return fig
