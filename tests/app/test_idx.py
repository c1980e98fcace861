"""scratchnet.app.idx: the IDX reader on tiny files written here, the defects it had (each
raised something other than DatasetError, was accepted, hung or blew up memory), and
property-based fuzzing."""

import gzip
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnet.app.idx import FETCH_COMMAND, DatasetError, idx_dims, read_idx, write_idx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ lives beside src/
from benchmarks.fuzz import idx_outcome, memory_cap, run_limited, time_limit  # noqa: E402
from benchmarks.fuzz_cases import mutate_idx, template_idx, write_idx_case  # noqa: E402

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 1, 2, 9, 5, 5, 3], dtype=np.uint8)


def _raw_idx(array, dtype_code=0x08):
    return (
        bytes([0, 0, dtype_code, array.ndim])
        + np.array(array.shape, ">u4").tobytes()
        + array.astype(np.uint8).tobytes()
    )


# --- the IDX reader --------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize(
    "array", [IMAGES, LABELS, IMAGES[:1, :3, :2].reshape(1, 3, 2, 1)], ids=["3-d", "1-d", "4-d"]
)
def test_read_idx_round_trip(tmp_path, array, compress):
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    assert out.flags.writeable


def test_read_idx_reads_the_header_as_the_format_defines_it(tmp_path):
    path = tmp_path / "hand-made"
    path.write_bytes(
        b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + bytes(range(6))
    )
    np.testing.assert_array_equal(read_idx(path), [[0, 1, 2], [3, 4, 5]])


def _corrupt_cases():
    good = _raw_idx(IMAGES)
    return {
        "bad magic": (b"\x01" + good[1:], "bad magic number"),
        "wrong dtype code": (_raw_idx(IMAGES, dtype_code=0x0D), "not unsigned byte"),
        "truncated payload": (good[:-5], "truncated"),
        "trailing bytes": (good + b"\x00\x00", "trailing bytes"),
        "truncated header": (good[:9], "truncated header"),
        "too short": (b"\x00\x00", "too short"),
        "zero dimension": (_raw_idx(np.zeros((0, 3))), "empty dimension"),
        "zero dimensions": (b"\x00\x00\x08\x00", "dimensions"),
        "too many dimensions": (
            b"\x00\x00\x08\x05" + b"\x00\x00\x00\x01" * 5 + b"\x00",
            "dimensions",
        ),
        "truncated gzip": (gzip.compress(good)[:200], "corrupt or truncated gzip"),
        "gzip of a truncated payload": (gzip.compress(good[:-1]), "truncated"),
        "bad gzip checksum": (gzip.compress(good)[:-8] + b"\x00" * 8, "corrupt"),
    }


CORRUPT = _corrupt_cases()


@pytest.mark.parametrize("case", CORRUPT)
def test_read_idx_rejects_corrupt_files_naming_the_file(tmp_path, case):
    data, match = CORRUPT[case]
    path = tmp_path / "broken-images-idx3-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file_says_how_to_fetch(tmp_path):
    with pytest.raises(DatasetError, match="file not found") as info:
        read_idx(tmp_path / "nope.gz")
    assert str(tmp_path / "nope.gz") in str(info.value) and FETCH_COMMAND in str(info.value)


# --- defects the IDX reader had: each raised something else, or was accepted, or blew up ----------
def test_dimension_product_overflow_is_refused(tmp_path):
    """np.prod of (2**16,)*4 wrapped to 0 in int64, so an empty payload passed the length check
    and reshape raised ValueError."""
    path = tmp_path / "overflow"
    path.write_bytes(bytes([0, 0, 8, 4]) + (2**16).to_bytes(4, "big") * 4)
    with pytest.raises(DatasetError, match="more than the") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_declared_size_is_capped_before_reading(tmp_path):
    path = tmp_path / "huge-images-idx3-ubyte.gz"
    path.write_bytes(
        gzip.compress(
            bytes([0, 0, 8, 3]) + np.array([60000, 280, 280], ">u4").tobytes() + bytes(100)
        )
    )
    with pytest.raises(DatasetError, match="4,704,000,000 data bytes, more than"):
        read_idx(path)


def test_shape_mismatch_with_what_the_caller_expects_is_refused(tmp_path):
    write_idx(tmp_path / "a", LABELS)
    with pytest.raises(DatasetError, match="expected"):
        read_idx(tmp_path / "a", shape=(8,))
    assert idx_dims(tmp_path / "a") == (7,)


@pytest.mark.parametrize("special", ["directory", "fifo"])
def test_only_regular_files_are_read(tmp_path, special):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.mkdir() if special == "directory" else os.mkfifo(path)
    with pytest.raises(DatasetError, match="directory|not a regular file") as info:
        with time_limit(10), memory_cap(1024):  # a FIFO used to block open() forever
            read_idx(path)
    assert str(path) in str(info.value)


def _child(code: str, timeout: float = 60) -> str:
    result = run_limited(code, timeout=timeout, extra_mb=512)
    assert result.returncode is not None, "timed out"
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_a_gzip_bomb_is_read_in_bounded_memory(tmp_path):
    """A header declaring 10 images followed by 768 MB of zeros in a ~1 MB gzip file: the old
    reader decompressed it all (2.1 GB for a 4.5 MB bomb); under a 512 MB address-space cap it
    must be refused with DatasetError."""
    path = tmp_path / "bomb-images-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + np.array([10, 28, 28], ">u4").tobytes()
    zeros = gzip.compress(bytes(64 << 20), 1)
    path.write_bytes(gzip.compress(header + bytes(7840)) + zeros * 12)
    out = _child(f"from benchmarks.fuzz import idx_outcome\nprint(idx_outcome({str(path)!r}))")
    assert out == "clean"


def test_dev_zero_and_a_fifo_neither_hang_nor_grow(tmp_path):
    (tmp_path / "zero").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    code = (
        "from benchmarks.fuzz import idx_outcome\n"
        f"print(idx_outcome({str(tmp_path / 'zero')!r}), "
        f"idx_outcome({str(tmp_path / 'fifo')!r}))"
    )
    assert _child(code, timeout=30) == "clean clean"


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_idx_files_load_cleanly_or_fail_cleanly(tmp_path, seed):
    """Truncations, bit flips, forged dimensions, ndim and dtype bytes, trailing bytes, gzip
    bombs and split members, corrupt gzip, FIFOs: read_idx raises DatasetError (one line) or
    returns a uint8 array of the declared shape."""
    rng = random.Random(seed)
    kind, data, compress = mutate_idx(template_idx(rng), rng)
    path = tmp_path / "case-idx"
    write_idx_case(path, data, compress)
    with time_limit(10), memory_cap(1024):
        assert idx_outcome(path) in ("clean", "valid"), kind


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    cut=st.integers(0, 10**6),
    compress=st.booleans(),
)
def test_read_idx_round_trips_or_names_the_truncation(tmp_path, shape, cut, compress):
    array = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
    raw = _raw_idx(array)
    path = tmp_path / "t-idx"
    data = raw[: cut % (len(raw) + 1)]
    path.write_bytes(gzip.compress(data) if compress else data)
    if len(data) == len(raw):
        np.testing.assert_array_equal(read_idx(path), array)
    else:
        with pytest.raises(DatasetError, match="truncated|too short"):
            read_idx(path)
