"""scratchnet.nn.blas: NumPy's OpenBLAS thread pool, and the per-epoch thread choice."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from scratchnet.nn import blas

needs_openblas = pytest.mark.skipif(
    blas.get_threads() is None, reason="NumPy is not built on a reachable OpenBLAS"
)


@needs_openblas
def test_set_threads_resizes_the_pool_numpy_uses():
    before = blas.get_threads()
    try:
        assert blas.set_threads(1) and blas.get_threads() == 1
        a = np.ones((64, 64), np.float32)
        np.testing.assert_array_equal(a @ a, np.full((64, 64), 64.0, np.float32))
        assert blas.set_threads(0) and blas.get_threads() == 1  # never fewer than one
    finally:
        blas.set_threads(before)


@needs_openblas
def test_chooser_stays_between_one_and_its_maximum():
    before = blas.get_threads()
    try:
        chooser = blas.ThreadChooser(max_threads=2, window=0.02)
        for _ in range(3):
            threads = chooser.choose()
            assert 1 <= threads <= 2 and blas.get_threads() == threads
            assert chooser.free_cpus is None or chooser.free_cpus >= 0
    finally:
        blas.set_threads(before)


@needs_openblas
@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat")
def test_a_busy_neighbour_takes_a_thread_away():
    cpus = len(os.sched_getaffinity(0))
    if cpus < 2:
        pytest.skip("needs two usable CPUs")
    before = blas.get_threads()
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.monotonic() + 10\nwhile time.monotonic() < end: pass",
        ]
    )
    try:
        time.sleep(0.3)  # let it start spinning
        chooser = blas.ThreadChooser(max_threads=cpus, window=0.3)
        # Other programs may take more; the neighbour alone takes a whole core.
        assert chooser.choose() <= cpus - 1
    finally:
        busy.kill()
        busy.wait()
        blas.set_threads(before)


@needs_openblas
def test_chooser_as_a_training_callback_chooses_each_epoch_and_restores():
    from scratchnet import NNClassifier

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 8)).astype(np.float32), rng.integers(0, 3, 200)
    before = blas.get_threads()
    try:
        blas.set_threads(1)
        chooser = blas.ThreadChooser(max_threads=2, window=0.01)
        NNClassifier(n_hidden_units=(8,), epochs=2, random_seed=0).fit(X, y, callbacks=[chooser])
        assert len(chooser.chosen) == 3  # when training begins and after each epoch
        assert blas.get_threads() == 1  # put back
    finally:
        blas.set_threads(before)
