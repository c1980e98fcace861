"""Where a sweep's fits run: joblib's backends, configured by ``joblib.parallel_config``.

- ``sequential``: this process (``--workers 1``);
- ``loky``: ``--workers N`` local processes; joblib sets their BLAS thread limit when it starts
  them (``inner_max_num_threads``);
- ``dask``: a ``distributed.Client`` to a running scheduler (``--scheduler tcp://HOST:PORT``), or
  to a ``LocalCluster`` started here (``--scheduler local``); the BLAS limit is a worker plugin
  (:mod:`scratchnet.app.sweep.workers`) and the data are scattered to the workers once.

Every backend limits BLAS to ``blas_threads`` per worker (1 by default): the parallelism is
across fits, and a fit's small matrix products gain little from more threads; k workers with k
BLAS threads each on k cores would run k * k threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass


class SweepError(Exception):
    """The sweep cannot run: the scheduler is unreachable or has no workers, or every fit
    failed. Its message is one line."""


@dataclass
class Backend:
    """Where the fits run: ``kind`` is "sequential", "loky" or "dask"; ``slots`` is how many
    fits run at once (worker processes, or Dask worker threads)."""

    kind: str
    slots: int
    blas_threads: int = 1
    client: object = None
    description: str = ""

    @contextlib.contextmanager
    def context(self, X=None, y=None):
        """joblib runs ``Parallel`` calls (scikit-learn's search) here; BLAS in this process is
        limited too, for the final refit."""
        from joblib import parallel_config
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            if self.kind == "sequential":
                with parallel_config(backend="sequential", n_jobs=1):
                    yield
            elif self.kind == "loky":
                with parallel_config(
                    backend="loky", n_jobs=self.slots, inner_max_num_threads=self.blas_threads
                ):
                    yield
            else:
                # Scattered once, not with every task: the workers keep one copy each.
                scatter = [a for a in (X, y) if a is not None]
                with parallel_config(
                    backend="dask", client=self.client, n_jobs=-1, scatter=scatter or None
                ):
                    yield

    def worker_blas_threads(self) -> list[int]:
        """The BLAS thread count each worker reports (one entry per task; for tests)."""
        from joblib import Parallel, delayed

        with self.context():
            return Parallel()(delayed(_blas_threads)() for _ in range(2 * self.slots))


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=0)


@contextlib.contextmanager
def open_backend(
    workers: int | None = None,
    scheduler: str | None = None,
    blas_threads: int = 1,
    connect_timeout: float = 10.0,
    log: Callable[[str], None] = print,
):
    """Yield a :class:`Backend`: ``workers`` local processes (all cores when None), or the Dask
    scheduler at ``scheduler`` ("tcp://host:port"), or, with ``scheduler="local"``, a
    ``LocalCluster`` of ``workers`` processes on 127.0.0.1 that is closed afterwards.
    :class:`SweepError` when the scheduler is unreachable or has no workers in
    ``connect_timeout`` seconds."""
    import os

    if scheduler is None:
        n = workers or os.cpu_count() or 1
        kind = "sequential" if n == 1 else "loky"
        yield Backend(
            kind,
            n,
            blas_threads,
            description=f"{n} local process(es)" if n > 1 else "1 process (sequential)",
        )
        return
    import logging

    from distributed import Client

    from scratchnet.app.sweep.workers import BlasThreads

    cluster = client = None
    try:
        if scheduler == "local":
            n = workers or os.cpu_count() or 1
            cluster = _local_cluster(n)
            log(
                f"started a LocalCluster of {n} worker process(es) at "
                f"{cluster.scheduler_address}; dashboard: {cluster.dashboard_link}"
                + ("" if _has_bokeh() else " (pip install bokeh to serve it)")
            )
            address = cluster.scheduler_address
        else:
            address = scheduler
        # Connection retries log a warning each; the one line of SweepError says it all.
        logging.getLogger("distributed").setLevel(logging.ERROR)
        try:
            client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            raise SweepError(
                f"cannot reach the Dask scheduler at {address} ({exc}); start one "
                "with `dask scheduler` or use --scheduler local"
            ) from None
        try:
            client.wait_for_workers(1, timeout=connect_timeout)
        except (OSError, TimeoutError):
            raise SweepError(
                f"the Dask scheduler at {address} has no workers after "
                f"{connect_timeout:g} s; start some with `dask worker {address}`"
            ) from None
        client.register_plugin(BlasThreads(blas_threads))
        slots = sum(client.nthreads().values())
        yield Backend(
            "dask",
            slots,
            blas_threads,
            client=client,
            description=f"Dask at {address}: {len(client.nthreads())} worker(s), {slots} thread(s)",
        )
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _local_cluster(n_workers: int):
    """A LocalCluster of ``n_workers`` one-thread processes on 127.0.0.1 whose workers ignore
    SIGINT: a terminal's Ctrl-C reaches the whole process group, and workers killed by it print
    a traceback each and lose the scattered data; here only this process stops, and closing the
    cluster ends them."""
    import logging
    import signal
    import threading

    from distributed import LocalCluster

    def create():
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )

    if threading.current_thread() is not threading.main_thread():
        return create()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the spawned workers
    try:
        return create()
    finally:
        signal.signal(signal.SIGINT, previous)


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None
