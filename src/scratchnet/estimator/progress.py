"""The estimator's progress bar (``verbose=True``): a training callback drawn with tqdm.

It lives outside the core because the core imports nothing but NumPy.
"""

from __future__ import annotations

from scratchnet.nn.callbacks import Callback


class ProgressBar(Callback):
    """One tick per batch; loss, accuracy and validation accuracy after each epoch."""

    def __init__(self, total_batches: int) -> None:
        self.total = int(total_batches)
        self.bar = None

    def on_train_begin(self, trainer, history) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, unit="batch", dynamic_ncols=True, leave=True)

    def on_batch_end(self, trainer) -> bool:
        self.bar.update()
        return False

    def on_epoch_end(self, trainer, history) -> bool:
        postfix = {"epoch": history.n_epochs, "loss": f"{history.loss[-1]:.4f}",
                   "acc": f"{history.accuracy[-1]:.4f}"}
        if history.val_accuracy:
            postfix["val_acc"] = f"{history.val_accuracy[-1]:.4f}"
        self.bar.set_postfix(postfix, refresh=False)
        return False

    def on_train_end(self, trainer, history) -> None:
        if self.bar is not None:
            self.bar.close()
