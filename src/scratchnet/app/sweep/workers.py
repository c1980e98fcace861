"""What runs inside a Dask worker: the BLAS thread limit, installed as a worker plugin.

This module imports ``distributed`` at the top (the plugin must subclass its ``WorkerPlugin``), so
only the Dask path of :mod:`scratchnet.app.sweep.run` imports it. Workers unpickle the plugin by
reference, so they need scratchnet installed, as they do to train an ``NNClassifier``.
"""

from __future__ import annotations

from distributed import WorkerPlugin


class BlasThreads(WorkerPlugin):
    """Limit every BLAS library in the worker process to ``n`` threads.

    A worker process runs one fit per task thread; if each fit's matrix products also spread
    over all cores, ``k`` workers on ``k`` cores run ``k * k`` threads that fight over caches and
    spin (OpenBLAS's idle threads busy-wait), which was 10-100x slower on the 2-core test machine.
    Registered on the scheduler, the plugin also reaches workers that join later.
    """

    name = "scratchnet-blas-threads"

    def __init__(self, n: int) -> None:
        self.n = n

    def setup(self, worker) -> None:
        import numpy  # noqa: F401  (threadpoolctl limits only libraries already loaded)
        from threadpoolctl import threadpool_limits

        # Kept on the plugin: the limit holds until the worker process exits.
        self._limits = threadpool_limits(limits=self.n, user_api="blas")
