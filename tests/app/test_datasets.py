"""scratchnet.app.datasets: the IDX reader on tiny files written here, the search for the data, the
checked download, and the real Fashion-MNIST files as an integration test."""

import gzip
import hashlib
import http.client
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnet.app import datasets
from scratchnet.app.datasets import (
    CLASS_NAMES,
    FETCH_COMMAND,
    FILES,
    DatasetError,
    download,
    fetch,
    find_data_dir,
    idx_dims,
    load_fashion_mnist,
    read_idx,
    search_dirs,
    write_idx,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ lives beside src/
from benchmarks.fuzz import (  # noqa: E402
    idx_outcome,
    memory_cap,
    mutate_idx,
    run_limited,
    template_idx,
    time_limit,
    write_idx_case,
)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
LABELS = np.array([0, 1, 2, 9, 5, 5, 3], dtype=np.uint8)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No data anywhere but where a test puts it: a fresh home (cache), no $SCRATCHNET_DATA,
    and an empty stand-in for the Debian directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setattr(datasets, "DEBIAN_DIR", tmp_path / "debian")
    return tmp_path


def _write_split(directory, kind="train", images=IMAGES, labels=LABELS, compress=True):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    images_name, labels_name = FILES[kind]
    write_idx(directory / images_name, images, compress=compress)
    write_idx(directory / labels_name, labels, compress=compress)
    return directory


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


def test_wrong_image_geometry_is_refused(tmp_path):
    """(N, 14, 56) images used to load as 784 features each."""
    d = _write_split(tmp_path, images=IMAGES.reshape(7, 14, 56))
    with pytest.raises(DatasetError, match="images are 14x56, Fashion-MNIST images are 28x28"):
        load_fashion_mnist("train", data_dir=d)


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


# --- loading a split -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["train", "test"])
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_load_tiny_split(tmp_path, kind, compress):
    d = _write_split(tmp_path, kind, compress=compress)
    X, y = load_fashion_mnist(kind, data_dir=d)
    assert X.shape == (7, 784) and X.dtype == np.uint8
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, IMAGES.reshape(7, -1))
    np.testing.assert_array_equal(y, LABELS)


@pytest.mark.parametrize(
    "images, labels, bad, match",
    [
        (IMAGES, LABELS[:-1], 1, "holds 6 labels but"),
        (IMAGES, np.array([0, 1, 2, 10, 5, 5, 3]), 1, "label 10 is outside 0..9"),
        (IMAGES.reshape(7, -1), LABELS, 0, "expected a 3-d image array"),
        (IMAGES, LABELS.reshape(7, 1), 1, "expected a 1-d label array"),
    ],
    ids=["count mismatch", "label out of range", "2-d images", "2-d labels"],
)
def test_load_rejects_inconsistent_files_naming_the_file(tmp_path, images, labels, bad, match):
    d = _write_split(tmp_path, images=images, labels=labels)
    with pytest.raises(DatasetError, match=match) as info:
        load_fashion_mnist("train", data_dir=d)
    assert str(d / FILES["train"][bad]) in str(info.value)


def test_load_rejects_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_fashion_mnist("validation", data_dir=tmp_path)


# --- where the files are looked for ----------------------------------------------------------
def test_search_order(isolated, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_DATA", str(isolated / "env"))
    assert search_dirs(isolated / "given") == [
        isolated / "given",
        isolated / "env",
        isolated / "home" / ".cache" / "scratchnet" / "fashion-mnist",
        isolated / "debian",
    ]
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert search_dirs() == [
        isolated / "home" / ".cache" / "scratchnet" / "fashion-mnist",
        isolated / "debian",
    ]


def test_the_first_directory_with_both_files_wins(isolated, monkeypatch):
    given, env = isolated / "given", isolated / "env"
    cache, debian = datasets.cache_dir(), isolated / "debian"
    for d in (given, env, cache, debian):
        _write_split(d)
    monkeypatch.setenv("SCRATCHNET_DATA", str(env))
    assert find_data_dir("train", given) == given
    assert find_data_dir("train") == env
    monkeypatch.delenv("SCRATCHNET_DATA")
    assert find_data_dir("train") == cache
    for f in FILES["train"]:
        (cache / f).unlink()
    assert find_data_dir("train") == debian


def test_a_directory_with_only_one_of_the_two_files_is_passed_over(isolated, monkeypatch):
    env = _write_split(isolated / "env")
    (env / FILES["train"][1]).unlink()
    _write_split(isolated / "debian")
    monkeypatch.setenv("SCRATCHNET_DATA", str(env))
    assert find_data_dir("train") == isolated / "debian"


def test_the_env_directory_is_used_by_load(isolated, monkeypatch):
    env = _write_split(isolated / "env", labels=np.full(7, 4, dtype=np.uint8))
    _write_split(isolated / "debian")
    monkeypatch.setenv("SCRATCHNET_DATA", str(env))
    _, y = load_fashion_mnist("train")
    assert set(y) == {4}


def test_an_explicit_data_dir_is_authoritative(isolated, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_DATA", str(_write_split(isolated / "env")))
    given = isolated / "given"
    given.mkdir()
    with pytest.raises(DatasetError) as info:
        find_data_dir("train", given)
    message = str(info.value)
    assert str(given / FILES["train"][0]) in message
    assert f"{FETCH_COMMAND} --dir {given}" in message


def test_missing_data_says_how_to_fetch_it(isolated):
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist("test")
    message = str(info.value)
    assert FETCH_COMMAND in message and "scratchnet data fetch" in message
    assert str(isolated / "debian") in message  # it says where it looked


# --- downloading -----------------------------------------------------------------------------
def _md5(data):
    return hashlib.md5(data).hexdigest()


def test_download_lands_the_file_atomically(tmp_path):
    src, dest_dir = tmp_path / "mirror" / "f.gz", tmp_path / "dest"
    src.parent.mkdir()
    dest_dir.mkdir()
    src.write_bytes(b"payload" * 1000)
    download(src.as_uri(), dest_dir / "f.gz", md5=_md5(b"payload" * 1000))
    assert (dest_dir / "f.gz").read_bytes() == b"payload" * 1000
    assert [p.name for p in dest_dir.iterdir()] == ["f.gz"]  # no temp file left


def test_download_with_wrong_md5_leaves_nothing_behind(tmp_path):
    src, dest_dir = tmp_path / "mirror" / "f.gz", tmp_path / "dest"
    src.parent.mkdir()
    dest_dir.mkdir()
    src.write_bytes(b"tampered")
    with pytest.raises(DatasetError, match="MD5") as info:
        download(src.as_uri(), dest_dir / "f.gz", md5=_md5(b"original"))
    assert src.as_uri() in str(info.value)
    assert list(dest_dir.iterdir()) == []


def test_a_failed_download_keeps_the_old_file(tmp_path):
    src, target = tmp_path / "f.gz", tmp_path / "dest" / "f.gz"
    target.parent.mkdir()
    src.write_bytes(b"new")
    target.write_bytes(b"old")
    with pytest.raises(DatasetError):
        download(src.as_uri(), target, md5=_md5(b"something else"))
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["f.gz"]


def test_download_of_a_missing_url_raises_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="download failed"):
        download((tmp_path / "absent.gz").as_uri(), tmp_path / "x.gz")
    assert list(tmp_path.iterdir()) == []


class _BrokenResponse:
    """An HTTP response that delivers a few bytes, then fails with ``exc``."""

    def __init__(self, exc):
        self.exc, self.sent = exc, False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def read(self, size=-1):
        if not self.sent:
            self.sent = True
            return b"partial"
        raise self.exc


@pytest.mark.parametrize(
    "exc, raised",
    [
        (http.client.IncompleteRead(b"partial", 100), DatasetError),
        (ConnectionResetError("reset by peer"), DatasetError),
        (TimeoutError("timed out"), DatasetError),
        (KeyboardInterrupt(), KeyboardInterrupt),
    ],
    ids=["incomplete read", "connection reset", "timeout", "ctrl-c"],
)
def test_an_interrupted_download_leaves_nothing_behind(tmp_path, monkeypatch, exc, raised):
    monkeypatch.setattr(
        datasets.urllib.request, "urlopen", lambda url, timeout: _BrokenResponse(exc)
    )
    target = tmp_path / "f.gz"
    target.write_bytes(b"old")
    with pytest.raises(raised):
        download("http://example.invalid/f.gz", target, md5=_md5(b"new"))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.gz"]


def test_fetch_downloads_checks_and_skips_what_is_present(tmp_path, monkeypatch):
    mirror = _write_split(_write_split(tmp_path / "mirror", "train"), "test")
    sums = {f.name: _md5(f.read_bytes()) for f in mirror.iterdir()}
    monkeypatch.setattr(datasets, "MD5", sums)
    log = []
    dest = fetch(tmp_path / "dest", use_apt=False, mirror=mirror.as_uri() + "/", log=log.append)
    assert dest == tmp_path / "dest"
    assert sorted(p.name for p in dest.iterdir()) == sorted(sums)
    X, y = load_fashion_mnist("test", data_dir=dest)
    np.testing.assert_array_equal(y, LABELS)
    assert sum("downloading" in line for line in log) == 4

    log.clear()
    fetch(dest, use_apt=False, mirror=mirror.as_uri() + "/", log=log.append)
    assert sum("MD5 ok" in line for line in log) == 4 and not any("downloading" in x for x in log)


# --- class names and the real data -----------------------------------------------------------
def test_class_names():
    assert CLASS_NAMES == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


def _real(kind):
    try:
        find_data_dir(kind)
    except DatasetError as exc:
        pytest.skip(f"the real Fashion-MNIST files are not installed: {exc}")
    return load_fashion_mnist(kind)


@pytest.mark.parametrize("kind, n", [("train", 60000), ("test", 10000)])
def test_real_fashion_mnist(kind, n):
    X, y = _real(kind)
    assert X.shape == (n, 784) and X.dtype == np.uint8
    assert y.shape == (n,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, n // 10))
    assert X.min() == 0 and X.max() == 255
