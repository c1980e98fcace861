"""Fuzzing the two loaders of untrusted files: model directories and IDX data files.

``python -m benchmarks.fuzz --cases 10000`` mutates a valid model directory and valid IDX files
``--cases`` times each (JSON values replaced, keys deleted, truncations, bit flips, forged
safetensors and IDX headers, non-finite weights with a consistent hash, gzip bombs, FIFOs,
directories and ``/dev/zero`` in place of a file), loads each in this process, and counts the
outcomes: a clean error (``ModelFileError`` / ``DatasetError``), accepted and valid (the model
predicts finite probabilities; the array has the declared shape), anything else (must be 0),
hangs (a case that runs past ``--timeout`` seconds, interrupted by ``SIGALRM``), the slowest case
and the peak RSS. The address space is capped (``RLIMIT_AS``) so a memory blow-up shows as a
``MemoryError`` (counted as "anything else") instead of swapping.

The mutators and the outcome checks are shared with the property-based tests
(``tests/estimator/test_model_schema.py``, ``tests/app/test_datasets.py``), which draw the
mutations with hypothesis.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import json
import math
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

WEIGHTS_KINDS = (
    "weights_truncate",
    "weights_flip",
    "weights_header_size",
    "weights_header_value",
    "weights_nonfinite",
    "weights_data_flip_rehash",
)
JSON_KINDS = (
    "json_value",
    "json_value",
    "json_value",
    "json_delete",
    "json_truncate",
    "json_flip",
    "json_deep",
)
SPECIAL_KINDS = ("fifo", "directory", "dev_zero", "empty")
IDX_KINDS = (
    "truncate",
    "flip",
    "dims",
    "ndim",
    "dtype",
    "trailing",
    "bomb",
    "members",
    "garbage_gzip",
    "special",
)


# --- running something under a memory cap -------------------------------------------------
def address_space_mb() -> float:
    """This process's virtual memory size (VmSize), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) / 1024
    return 0.0


def limit_memory(extra_mb: float) -> None:
    """Cap the address space at its current size plus ``extra_mb``: a blow-up becomes a
    ``MemoryError`` instead of swapping the machine."""
    cap = int((address_space_mb() + extra_mb) * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@contextlib.contextmanager
def memory_cap(extra_mb: float = 1024.0):
    """Lower the *soft* address-space limit to the current size plus ``extra_mb`` for the block,
    then restore it: an in-process case that tries to allocate gigabytes gets ``MemoryError``
    instead of swapping the machine or waking the OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = int((address_space_mb() + extra_mb) * 2**20)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_limited(code: str, timeout: float = 60.0, extra_mb: float = 768.0):
    """Run Python ``code`` in a child process under ``limit_memory(extra_mb)``, one BLAS thread,
    and a wall-clock ``timeout``; return the ``CompletedProcess`` (``returncode`` None on a
    timeout)."""
    prelude = (
        "import numpy, scratchnet.estimator.model_dir, scratchnet.app.datasets\n"
        "from benchmarks.fuzz import limit_memory\n"
        f"limit_memory({extra_mb})\n"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=_pythonpath())
    try:
        return subprocess.run(
            [sys.executable, "-c", prelude + code],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, None, exc.stdout or "", exc.stderr or "")


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[1])
    return os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )


class Hang(Exception):
    """A case ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in this (main) thread if the block runs past ``seconds``; a blocking
    ``open`` of a FIFO is interrupted too (the handler raises, so Python does not retry)."""

    def alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- outcomes ---------------------------------------------------------------------------------
def model_outcome(directory) -> str:
    """``"clean"`` (ModelFileError), ``"valid"`` (loads and predicts finite probabilities), or
    ``"other: ..."`` for anything else."""
    from scratchnet.estimator.model_dir import ModelFileError, load_model

    try:
        model = load_model(directory)
    except ModelFileError as exc:
        if "\n" in str(exc):
            return f"other: multi-line message {str(exc)!r}"
        return "clean"
    except Exception as exc:  # noqa: BLE001 (the point is to catch anything)
        return f"other: {type(exc).__name__}: {str(exc)[:200]}"
    try:
        X = np.random.default_rng(0).integers(0, 256, size=(3, model.scaler.mean.shape[0]))
        proba = model.predict_proba(X)  # (3, C)
    except Exception as exc:  # noqa: BLE001
        return f"other: accepted, then predict raised {type(exc).__name__}: {str(exc)[:200]}"
    if (
        proba.shape != (3, len(model.class_names))
        or not np.isfinite(proba).all()
        or not np.allclose(proba.sum(axis=1), 1.0)
    ):
        return "other: accepted, but predicts non-finite or malformed probabilities"
    return "valid"


def idx_outcome(path) -> str:
    """``"clean"`` (DatasetError), ``"valid"`` (a uint8 array), or ``"other: ..."``."""
    from scratchnet.app.datasets import DatasetError, read_idx

    try:
        array = read_idx(path)
    except DatasetError as exc:
        return f"other: multi-line message {str(exc)!r}" if "\n" in str(exc) else "clean"
    except Exception as exc:  # noqa: BLE001
        return f"other: {type(exc).__name__}: {str(exc)[:200]}"
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 4:
        return f"other: accepted a {array.ndim}-d {array.dtype} array"
    return "valid"


# --- model directory mutations ------------------------------------------------------------
def template_model_dir(directory) -> dict[str, bytes]:
    """Save a small valid model (Dense-ReLU-Dropout-Dense, plus a BatchNorm) and return its
    files ``{"model.json": ..., "weights": ...}``."""
    from scratchnet.estimator.model_dir import save_model
    from scratchnet.estimator.standardizer import Standardizer
    from scratchnet.estimator.trained_model import TrainedModel
    from scratchnet.nn.layers import BatchNorm, Dense, Dropout, ReLU
    from scratchnet.nn.network import Sequential

    rng = np.random.default_rng(0)
    net = Sequential(
        [
            Dense(784, 12, rng=rng),
            BatchNorm(12),
            ReLU(),
            Dropout(0.2, rng=rng),
            Dense(12, 10, rng=rng),
        ]
    )
    X = rng.integers(0, 256, size=(20, 784))
    model = TrainedModel(
        net,
        Standardizer.fit(X),
        [f"class {i}" for i in range(10)],
        meta={
            "labels": list(range(10)),
            "epochs_run": 1,
            "history": {"loss": [1.0]},
            "metrics": {"test_accuracy": 0.5},
        },
    )
    directory = Path(directory)
    save_model(model, directory)
    doc = json.loads((directory / "model.json").read_text())
    return {
        "model.json": (directory / "model.json").read_bytes(),
        "weights": (directory / doc["weights"]["file"]).read_bytes(),
    }


def mutate_model(template: dict[str, bytes], rng: random.Random) -> tuple[str, bytes, bytes]:
    """One random mutation of the template: ``(kind, model.json bytes, weights bytes)``; the
    weights file keeps the name ``model.json`` gives it."""
    text, blob = template["model.json"], template["weights"]
    kind = rng.choice(JSON_KINDS + WEIGHTS_KINDS + SPECIAL_KINDS)
    doc = json.loads(text)
    if kind == "json_value":
        path = _random_path(doc, rng)
        _set(doc, path, _random_value(rng, path, doc))
        text = _dumps(doc)
    elif kind == "json_delete":
        path = _random_path(doc, rng)
        if path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        text = _dumps(doc)
    elif kind == "json_truncate":
        text = text[: rng.randrange(len(text))]
    elif kind == "json_flip":
        text = flip_bits(text, rng, rng.randint(1, 4))
    elif kind == "json_deep":
        depth = rng.choice([40, 1000, 100_000])
        text = text.replace(b'"epochs_run": 1', b'"epochs_run": ' + b"[" * depth + b"]" * depth)
    elif kind == "weights_truncate":
        blob = blob[: rng.randrange(len(blob))]
    elif kind == "weights_flip":
        blob = flip_bits(blob, rng, rng.randint(1, 4))
    elif kind == "weights_header_size":
        size = rng.choice([0, 1, 7, len(blob), 2**31, 2**63, rng.randrange(2**64)])
        blob = size.to_bytes(8, "little") + blob[8:]
        text = _rehash(doc, blob)
    elif kind == "weights_header_value":
        n = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8 : 8 + n])
        path = _random_path(header, rng)
        _set(header, path, _random_value(rng, path, header))
        raw = json.dumps(header).encode()
        blob = len(raw).to_bytes(8, "little") + raw + blob[8 + n :]
        text = _rehash(doc, blob)
    elif kind == "weights_nonfinite":
        n = int.from_bytes(blob[:8], "little")
        data = bytearray(blob)
        at = 8 + n + 4 * rng.randrange((len(blob) - 8 - n) // 4)
        data[at : at + 4] = np.float32(rng.choice([np.nan, np.inf, -np.inf])).tobytes()
        blob = bytes(data)
        text = _rehash(doc, blob)
    elif kind == "weights_data_flip_rehash":
        n = int.from_bytes(blob[:8], "little")
        blob = blob[: 8 + n] + flip_bits(blob[8 + n :], rng, rng.randint(1, 8))
        text = _rehash(doc, blob)
    return kind, text, blob


def write_model_case(directory: Path, kind: str, text: bytes, blob: bytes) -> None:
    """Lay a mutated case out in ``directory`` (emptied first), FIFOs and devices included."""
    for p in directory.iterdir():
        p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
    try:
        weights_name = json.loads(text)["weights"]["file"]
        ok_name = (
            isinstance(weights_name, str)
            and "/" not in weights_name
            and 0 < len(weights_name) < 200
            and weights_name not in (".", "..", "model.json")
        )
    except Exception:  # noqa: BLE001
        ok_name, weights_name = False, None
    if kind in SPECIAL_KINDS:
        # The special file replaces model.json, or the weights file model.json names.
        path = directory / "model.json"
        if ok_name and len(text) % 2:
            path.write_bytes(text)
            path = directory / weights_name
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "directory":
            path.mkdir()
        elif kind == "dev_zero":
            path.symlink_to("/dev/zero")
        else:
            path.write_bytes(b"")
        return
    (directory / "model.json").write_bytes(text)
    if ok_name:
        (directory / weights_name).write_bytes(blob)


# --- IDX mutations ----------------------------------------------------------------------------
def template_idx(rng: random.Random) -> bytes:
    """A small valid IDX file: images (n, 28, 28), labels (n,), or a 2-d or 4-d array."""
    shape = rng.choice([(rng.randint(1, 5), 28, 28), (rng.randint(1, 50),), (3, 7), (2, 3, 4, 5)])
    array = np.frombuffer(rng.randbytes(math.prod(shape)), np.uint8)
    return bytes([0, 0, 8, len(shape)]) + np.array(shape, ">u4").tobytes() + array.tobytes()


def mutate_idx(raw: bytes, rng: random.Random) -> tuple[str, bytes | None, bool]:
    """``(kind, file bytes, compress?)``; bytes ``None`` for a special file (a FIFO)."""
    kind = rng.choice(IDX_KINDS)
    compress = rng.random() < 0.5
    ndim = raw[3]
    if kind == "truncate":
        raw = raw[: rng.randrange(len(raw))]
    elif kind == "flip":
        raw = flip_bits(raw, rng, rng.randint(1, 4))
    elif kind == "dims":
        i = rng.randrange(ndim)
        size = rng.choice([0, 1, 28, 2**16, 2**31, 2**32 - 1, rng.randrange(2**32)])
        raw = raw[: 4 + 4 * i] + size.to_bytes(4, "big") + raw[8 + 4 * i :]
    elif kind == "ndim":
        raw = raw[:3] + bytes([rng.randrange(256)]) + raw[4:]
    elif kind == "dtype":
        raw = (
            raw[:2]
            + bytes([rng.choice([0x09, 0x0B, 0x0C, 0x0D, 0x0E, rng.randrange(256)])])
            + raw[3:]
        )
    elif kind == "trailing":
        raw = raw + rng.randbytes(rng.randint(1, 100))
    elif kind == "bomb":  # a small gzip stream that decompresses to far more than declared
        return kind, gzip.compress(raw) + _zeros_member(rng.choice([1, 64, 256])), False
    elif kind == "members":  # the declared payload split over several gzip members
        cut = rng.randrange(len(raw))
        return kind, gzip.compress(raw[:cut]) + gzip.compress(raw[cut:]), False
    elif kind == "garbage_gzip":
        data = gzip.compress(raw)
        return kind, data[:10] + flip_bits(data[10:], rng, rng.randint(1, 4)), False
    elif kind == "special":
        return kind, None, False
    return kind, raw, compress


@functools.cache
def _zeros_member(mb: int) -> bytes:
    """A gzip member of ``mb`` MB of zeros (about ``mb`` KB compressed), made once."""
    return gzip.compress(bytes(mb << 20), 1)


def write_idx_case(path: Path, data: bytes | None, compress: bool) -> None:
    if path.exists() or path.is_symlink():
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    if data is None:
        os.mkfifo(path)
    else:
        path.write_bytes(gzip.compress(data, 1) if compress else data)


# --- shared helpers ---------------------------------------------------------------------------
def flip_bits(data: bytes, rng: random.Random, n: int) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    3,
    7,
    16,
    17,
    784,
    10**6,
    10**7,
    2**31,
    2**64,
    -(2**63),
    10**400,
    0.5,
    1e-300,
    1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    -0.0,
    "",
    "x",
    "float16",
    "../../etc/passwd",
    "weights-0123.safetensors",
    "a" * 300,
    [],
    {},
    [1],
    [0],
    [-1],
    [1e400],
    [28, 28],
    [1, 28, 28],
    "abcdefghij",
    [[[1]]],
    {"type": "Dense"},
    {"file": 3},
    ["a", "a"],
]


def _random_value(rng: random.Random, path, doc):
    old = _get(doc, path)
    r = rng.random()
    if r < 0.2 and type(old) is int:
        return old + rng.choice([-old, -1, 1, old, 10 ** rng.randint(1, 30)])
    if r < 0.3 and isinstance(old, list) and old:
        return old[: rng.randrange(len(old))] if rng.random() < 0.5 else old + old[-1:]
    return rng.choice(_VALUES)


def _random_path(doc, rng: random.Random) -> tuple:
    """A path to a random node: descend, at each step stopping with probability 1/4."""
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and (not path or rng.random() > 0.25):
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        node = node[key]
    return tuple(path)


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _set(doc, path, value) -> None:
    if path:
        _get(doc, path[:-1])[path[-1]] = value


def _dumps(doc) -> bytes:
    return json.dumps(doc, indent=1).encode()


def _rehash(doc: dict, blob: bytes) -> bytes:
    """``model.json`` naming ``blob`` by its real SHA-256: a consistent pair, so the checks
    behind the hash are reached."""
    import hashlib

    digest = hashlib.sha256(blob).hexdigest()
    doc = json.loads(json.dumps(doc))
    if isinstance(doc.get("weights"), dict):
        doc["weights"]["sha256"] = digest
    return _dumps(doc)


# --- the benchmark ----------------------------------------------------------------------------
def run(cases: int, seed: int, timeout: float, log=print) -> dict:
    """Run ``cases`` model-directory cases and ``cases`` IDX cases; return the counts."""
    rng = random.Random(seed)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = template_model_dir(tmp / "template")
        case_dir = tmp / "case"
        case_dir.mkdir()

        def model_case():
            kind, text, blob = mutate_model(template, rng)
            write_model_case(case_dir, kind, text, blob)
            return kind, lambda: model_outcome(case_dir)

        idx_path = tmp / "data-idx"

        def idx_case():
            kind, data, compress = mutate_idx(template_idx(rng), rng)
            write_idx_case(idx_path, data, compress)
            return kind, lambda: idx_outcome(idx_path)

        for name, make in (("model directory", model_case), ("IDX", idx_case)):
            counts, others, slowest = Counter(), [], (0.0, "")
            start = time.perf_counter()
            for _ in range(cases):
                kind, check = make()
                t0 = time.perf_counter()
                try:
                    with time_limit(timeout):
                        outcome = check()
                except Hang:
                    outcome = "hang"
                dt = time.perf_counter() - t0
                slowest = max(slowest, (dt, kind))
                key = outcome if outcome in ("clean", "valid", "hang") else "other"
                counts[key] += 1
                if key == "other" and len(others) < 10:
                    others.append(f"{kind}: {outcome}")
            results[name] = {
                "cases": cases,
                "clean_errors": counts["clean"],
                "accepted_valid": counts["valid"],
                "other": counts["other"],
                "hangs": counts["hang"],
                "slowest_case_s": round(slowest[0], 4),
                "slowest_kind": slowest[1],
                "seconds": round(time.perf_counter() - start, 1),
                "examples_of_other": others,
            }
            r = results[name]
            log(
                f"{name}: {cases} cases: {r['clean_errors']} clean errors, "
                f"{r['accepted_valid']} accepted-valid, {r['other']} anything else, "
                f"{r['hangs']} hangs; slowest case {r['slowest_case_s'] * 1000:.1f} ms "
                f"({r['slowest_kind']}); {r['seconds']} s"
            )
            for line in others:
                log(f"  {line}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["peak_rss_mb"] = round(peak, 1)
    log(f"peak RSS {peak:.0f} MB")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases per loader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a hang")
    parser.add_argument(
        "--memory-mb",
        type=float,
        default=1024.0,
        help="address space allowed above the start-up size",
    )
    parser.add_argument("--json", default=None, help="also write the counts here")
    args = parser.parse_args(argv)
    import scratchnet.app.datasets  # noqa: F401  (loaded before the cap, as in real use)
    import scratchnet.estimator.model_dir  # noqa: F401

    limit_memory(args.memory_mb)
    results = run(args.cases, args.seed, args.timeout)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    bad = sum(results[k]["other"] + results[k]["hangs"] for k in ("model directory", "IDX"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
