"""The names this module held before it was split by concept, re-exported for code written
against it (``benchmarks/sweep.py`` imports from here). New code imports from the module that
owns each name: :mod:`benchmarks.machine`, :mod:`benchmarks.data`, :mod:`benchmarks.timing`,
:mod:`benchmarks.flops`, :mod:`benchmarks.memory`, :mod:`benchmarks.report` and
:mod:`benchmarks.cli`.
"""

from benchmarks.cli import config_from_args, run_and_report
from benchmarks.data import Data, load_data, standardise, synthetic_images
from benchmarks.flops import matmul_gflops, square_gemm_gflops
from benchmarks.machine import (
    BLAS_ENV,
    blas_info,
    busy_warning,
    cpu_model,
    import_torch,
    library_versions,
    limit_threads,
    machine_info,
    physical_cores,
)
from benchmarks.memory import in_fresh_process, measure_peak_rss, reset_peak_rss
from benchmarks.report import LABELS, read_json, render_table, setup_line, write_json
from benchmarks.timing import (
    Runner,
    call_seconds,
    interleaved_latencies,
    interleaved_medians,
    run_interleaved,
)

__all__ = [
    "BLAS_ENV",
    "LABELS",
    "Data",
    "Runner",
    "blas_info",
    "busy_warning",
    "call_seconds",
    "config_from_args",
    "cpu_model",
    "import_torch",
    "in_fresh_process",
    "interleaved_latencies",
    "interleaved_medians",
    "library_versions",
    "limit_threads",
    "load_data",
    "machine_info",
    "matmul_gflops",
    "measure_peak_rss",
    "physical_cores",
    "read_json",
    "render_table",
    "reset_peak_rss",
    "run_and_report",
    "run_interleaved",
    "setup_line",
    "square_gemm_gflops",
    "standardise",
    "synthetic_images",
    "write_json",
]
