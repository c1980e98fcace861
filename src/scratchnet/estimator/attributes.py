"""The fitted attributes scikit-learn's ``MLPClassifier`` users expect, derived from the network
and the training history, and the convergence warning.

They are recomputed after every ``fit``/``partial_fit`` (and on ``load``), so they never
disagree with ``network_`` and ``history_``; ``coefs_`` and ``intercepts_`` are views into the
network's parameters, not copies.
"""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning

from scratchnet.nn.layers import Dense
from scratchnet.nn.training import History

#: A loss that fell by more than this fraction over the last epochs is still falling.
CONVERGENCE_TOL = 1e-4


def fitted_attributes(est) -> dict:
    """``n_iter_``, ``loss_curve_``, ``error_``, ``history_``, ``best_loss_``,
    ``validation_scores_``, ``n_outputs_``, ``n_layers_`` and, for MLPs, ``coefs_`` and
    ``intercepts_`` (one per Dense layer, input to output), from ``est.trainer_.history``."""
    history = est.trainer_.history
    attrs = {
        "n_iter_": history.n_epochs,
        "loss_curve_": list(history.loss),
        "error_": list(history.cost),
        "history_": history.as_dict(),
        "best_loss_": min(history.loss) if history.loss else None,
        "validation_scores_": list(history.val_accuracy) or None,
        "n_outputs_": int(est.classes_.shape[0]),
    }
    dense = [layer for layer in est.network_.layers if isinstance(layer, Dense)]
    if est.architecture == "mlp":
        attrs["coefs_"] = [layer.params["weight"] for layer in dense]  # (D_in, D_out) each
        attrs["intercepts_"] = [layer.params.get("bias") for layer in dense]
        attrs["n_layers_"] = len(dense) + 1  # input, hidden and output layers, as sklearn
    else:
        attrs["n_layers_"] = len([layer for layer in est.network_.layers if layer.params]) + 1
    return attrs


_ANNEALED = ("cosine", "onecycle")  # schedules that end at a rate of 0


def warn_if_not_converged(est, history: History, epochs: int, stopped_early: bool) -> None:
    """``ConvergenceWarning`` when all ``epochs`` ran and the training loss was still falling:
    its last value is lower than the best of the ``n_iter_no_change`` epochs before by more than
    ``CONVERGENCE_TOL`` (relative). The cosine and one-cycle schedules anneal the rate to 0 at
    the last epoch, so there the end is by design and nothing is said."""
    window = est.n_iter_no_change
    if stopped_early or est.lr_schedule in _ANNEALED or history.n_epochs <= window:
        return
    last, before = history.loss[-1], min(history.loss[-window - 1:-1])
    if last < before * (1 - CONVERGENCE_TOL):
        warnings.warn(f"NNClassifier: all {epochs} epochs ran and the training loss was still "
                      f"falling ({before:.4g} -> {last:.4g}); raise epochs for a better fit",
                      ConvergenceWarning, stacklevel=3)
