"""What the report says: the sentences of its sections, built from the model's
:class:`TrainingRecord` and its test scores, so that each claim (which weights were kept, how
calibrated the model is, which classes it confuses) is computed, never a fixed phrase.
"""

from __future__ import annotations

import numpy as np

from scratchnet.app.calibration import Reliability
from scratchnet.app.environment import current_environment, environment_rows
from scratchnet.app.evaluation import Evaluation
from scratchnet.app.figures_training import best_validation_epoch
from scratchnet.app.report_page import Section, environment_html
from scratchnet.estimator.training_record import TrainingRecord


def kept_weights_text(record: TrainingRecord) -> str:
    """Which epoch's weights the model holds and why, true for both weight-selection modes
    (best validation epoch restored, or last epoch kept) and without validation data."""
    loss = record.history.get("loss") or []
    n = len(loss)
    if n == 0:
        return "No training history is recorded, so which epoch's weights were kept is unknown."
    asked = record.params.get("epochs")
    stopped = (
        f" Training stopped after {n} of the {asked} epochs asked for"
        + (" (early stopping)." if record.params.get("early_stopping") else ".")
        if isinstance(asked, int) and n < asked
        else ""
    )
    best = best_validation_epoch(record.history)
    if best is None:
        return (
            "No validation images were held out, so the weights kept are those of the last "
            f"epoch ({n}).{stopped}"
        )
    best_acc = record.history["val_accuracy"][best - 1]
    if record.restored_best_weights:
        if best == n:
            return (
                f"The weights kept are those of the last epoch ({n}), which also had the best "
                f"validation accuracy ({best_acc:.2%}).{stopped}"
            )
        return (
            f"The weights kept are those of epoch {best} of {n}, the best validation "
            f"accuracy ({best_acc:.2%}); the weights of the later epochs were "
            f"discarded.{stopped}"
        )
    schedule = record.params.get("lr_schedule")
    why = (
        f" The {schedule} learning-rate schedule anneals to the last epoch, so its weights "
        "are the intended result."
        if schedule
        else " Restoring the best validation epoch was turned off (restore_best_weights=False)."
    )
    if best == n:
        return (
            f"The weights kept are those of the last epoch ({n}), which also had the best "
            f"validation accuracy ({best_acc:.2%}).{why}{stopped}"
        )
    return (
        f"The weights kept are those of the last epoch ({n}), not of epoch {best}, which had "
        f"the best validation accuracy ({best_acc:.2%}).{why}{stopped}"
    )


def calibration_text(rel: Reliability, ev: Evaluation) -> str:
    """What the reliability diagram shows, with this model's ECE and its overall confidence
    against its accuracy."""
    confidence = float(ev.proba.max(axis=1).mean())
    lean = (
        "over-confident"
        if confidence > ev.accuracy + 0.005
        else "under-confident"
        if confidence < ev.accuracy - 0.005
        else "well calibrated"
    )
    return (
        "Is a probability of 90% right 90% of the time? The test images are grouped into "
        f"{rel.count.size} bins by the probability of their predicted class (the "
        "confidence); each bar is the fraction of a bin predicted right, and a calibrated "
        "model's bars reach the diagonal. The expected calibration error (ECE) is the gap "
        "between accuracy and confidence, averaged over the bins weighted by their number "
        f"of images: {rel.ece:.2%} here. On average the network is {confidence:.2%} sure and "
        f"{ev.accuracy:.2%} right: {lean} overall."
    )


def schedule_text(record: TrainingRecord) -> str:
    schedule = record.params.get("lr_schedule")
    rate = f"the {schedule} schedule" if schedule else "no schedule, a constant rate"
    return (
        "The learning rate each epoch used (" + rate + ") and the wall time of each epoch, "
        "its validation included. Histories saved before scratchnet recorded them show "
        "what is missing."
    )


def environment_section(record: TrainingRecord) -> Section:
    known = isinstance(record.environment, dict) and bool(record.environment)
    text = (
        "The library versions and machine the model was trained with (recorded in its "
        "model directory) and those that wrote this report. Retraining gives the same "
        "weights bit for bit only with the same NumPy, BLAS and BLAS thread count."
        + (
            ""
            if known
            else " This model carries no record of its training environment "
            "(a model not yet saved, or saved by an older scratchnet)."
        )
    )
    rows = environment_rows(record.environment, current_environment())
    return Section(
        "environment", "Library versions and machine", text, table_html=environment_html(rows)
    )


def top_confusions(confusion: np.ndarray, names: list[str], k: int = 3) -> str:
    """A sentence naming the ``k`` most frequent mistakes, e.g. "Shirt taken for T-shirt/top
    (127 times)"."""
    off = np.array(confusion, dtype=np.int64)  # (C, C)
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:k]
    pairs = [np.unravel_index(i, off.shape) for i in order]
    parts = [
        f"{names[t]} taken for {names[p]} ({off[t, p]:,} times)" for t, p in pairs if off[t, p] > 0
    ]
    return f"The most frequent: {'; '.join(parts)}." if parts else "There are no mistakes."
