"""Ctrl-C during training: the first press asks the run to stop after the current batch (the
model trained so far is kept and saved), the second stops at once."""

from __future__ import annotations

import signal
import sys


class StopFlag:
    """Ctrl-C once: finish the current batch and keep the model (the best-validation one, or
    the last for a preset with ``restore_best_weights=False``). Twice: stop at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def installed(self):
        flag = self

        class _Ctx:
            def __enter__(self):
                self.previous = signal.getsignal(signal.SIGINT)

                def handler(signum, frame):
                    if flag.requested:
                        raise KeyboardInterrupt
                    flag.requested = True
                    print(
                        "\nCtrl-C: stopping after this batch (press again to abort)",
                        file=sys.stderr,
                    )

                signal.signal(signal.SIGINT, handler)
                return flag

            def __exit__(self, *exc):
                signal.signal(signal.SIGINT, self.previous)
                return False

        return _Ctx()
