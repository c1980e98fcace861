"""What a benchmark leaves behind: the JSON results file and the README's markdown table (with
the sentence naming the setup) rendered from it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LABELS = {"scratchnet": "scratchnet", "sklearn": "scikit-learn", "pytorch": "PyTorch"}


def write_json(path: str | os.PathLike, results: dict) -> None:
    """Write ``results`` as indented JSON (atomically), creating the parent directory."""
    from scratchnet.estimator.atomic import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(results, indent=2) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    """The results a benchmark wrote with :func:`write_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _fmt(value, spec: str, missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def render_table(results: dict) -> str:
    """The README's markdown table: one row per library, then the ratios and the setup."""
    rows = [
        "| library | epoch, median (s) | test accuracy | inference (images/s) "
        "| latency, 1 image (ms) | bare forward, 1 image (ms) | memory growth (MiB) "
        "| process peak (MiB) | share of GEMM peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, lib in results["libraries"].items():
        mem = lib.get("memory") or {}
        rows.append(
            f"| {LABELS.get(name, name)} | {lib['median_epoch_seconds']:.2f} "
            f"| {lib['test_accuracy']:.4f} | {lib['inference_images_per_second']:,.0f} "
            f"| {lib['latency_ms']:.3f} | {_fmt(lib.get('latency_raw_ms'), '.3f')} "
            f"| {_fmt(mem.get('growth_mib'), '.0f')} | {_fmt(mem.get('peak_mib'), '.0f')} "
            f"| {_fmt(lib.get('share_of_gemm_peak'), '.1%')} |"
        )
    lines = ["\n".join(rows), ""]
    for pair, r in results.get("ratios", {}).items():
        a, b = (LABELS.get(p, p) for p in pair.split("/"))
        lines.append(
            f"- {a} / {b}: epoch time ×{r['epoch_time']:.2f} (paired by epoch "
            f"×{r['epoch_time_paired']:.2f}), inference throughput "
            f"×{r['inference_throughput']:.2f}"
        )
    lines.append("")
    lines.append(setup_line(results))
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines)


def setup_line(results: dict) -> str:
    """One sentence naming the model, the data, the machine, the date and the versions."""
    c, m, v = results["config"], results["machine"], results["versions"]
    blas = v["blas"]
    blas_txt = (
        f"{blas.get('internal_api')} {blas.get('version')}, {blas.get('architecture')} kernels"
    )
    torch_txt = f", PyTorch {v['torch']}" if v.get("torch") else ""
    gemm = results.get("gemm", {})
    gemm_txt = f"; float32 GEMM peak {gemm['peak_gflops']:.0f} GFLOP/s" if gemm else ""
    return (
        f"{c['model']}; {c['data']} ({c['n_train']:,} train / {c['n_test']:,} test), "
        f"{c['epochs']} epoch(s), {c['threads']} thread(s). {m['cpu']} "
        f"({m['logical_cpus']} logical CPUs){gemm_txt}; {m['date'][:10]}. "
        f"Python {v['python']}, NumPy {v['numpy']} ({blas_txt}), "
        f"scikit-learn {v['scikit-learn']}{torch_txt}."
    )
