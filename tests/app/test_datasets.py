"""scratchnet.app.datasets: loading a split from tiny files written here, the search for the data,
the checked download, and the real Fashion-MNIST files as an integration test. The IDX reader
itself is tested in test_idx.py."""

import hashlib
import http.client
from pathlib import Path

import numpy as np
import pytest

from scratchnet.app import datasets
from scratchnet.app.datasets import (
    CLASS_NAMES,
    FETCH_COMMAND,
    FILES,
    DatasetError,
    download,
    fetch,
    find_data_dir,
    load_fashion_mnist,
    search_dirs,
    write_idx,
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


def test_wrong_image_geometry_is_refused(tmp_path):
    """(N, 14, 56) images used to load as 784 features each."""
    d = _write_split(tmp_path, images=IMAGES.reshape(7, 14, 56))
    with pytest.raises(DatasetError, match="images are 14x56, Fashion-MNIST images are 28x28"):
        load_fashion_mnist("train", data_dir=d)


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
