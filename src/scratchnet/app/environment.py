"""Library versions and machine: those a model was trained with (``TrainingRecord.environment``,
written by ``save_model``) beside those of the process reading it now, so a report says where its
numbers come from and whether retraining here can give the same bits (that needs the same
NumPy, BLAS and thread count).
"""

from __future__ import annotations

import os
import platform

# Row order and labels of the table; keys of TrainingRecord.environment and current_environment.
LABELS = {
    "scratchnet": "scratchnet",
    "python": "Python",
    "numpy": "NumPy",
    "scikit-learn": "scikit-learn",
    "matplotlib": "matplotlib",
    "blas": "BLAS",
    "blas_threads": "BLAS threads",
    "platform": "platform",
    "machine": "processor",
    "cpu_count": "CPU count",
}


def current_environment() -> dict:
    """The versions and machine of this process: Python, NumPy, scratchnet, scikit-learn,
    matplotlib, BLAS and its threads, the platform string, processor architecture, CPU count."""
    import matplotlib
    import numpy as np
    import sklearn
    from threadpoolctl import threadpool_info

    from scratchnet import __version__

    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    return {
        "scratchnet": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "blas": f"{blas[0].get('internal_api')} {blas[0].get('version')}" if blas else None,
        "blas_threads": int(blas[0]["num_threads"]) if blas else None,
        "platform": platform.platform(),
        "machine": platform.machine() or None,
        # The CPUs this process may run on (a container's or taskset's share), else all.
        "cpu_count": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
    }


def environment_rows(recorded: dict | None, now: dict) -> list[tuple[str, str, str]]:
    """``(label, at training, now)`` per known key present on either side, then any other key
    of the record; a value the record lacks is ``"not recorded"``, one unknown now ``"n/a"``."""
    recorded = recorded if isinstance(recorded, dict) else {}
    keys = [k for k in LABELS if k in recorded or k in now]
    keys += sorted(k for k in recorded if k not in LABELS)

    def show(value, missing: str) -> str:
        return missing if value is None or value == "" else str(value)

    return [
        (LABELS.get(k, k), show(recorded.get(k), "not recorded"), show(now.get(k), "n/a"))
        for k in keys
    ]
