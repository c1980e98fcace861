"""Fashion-MNIST: the IDX reader, where the files are looked for, and how they are fetched.

The files are the official gzip'd IDX files (``train-images-idx3-ubyte.gz`` and friends). They
are looked for, in order, in ``data_dir``, ``$SCRATCHNET_DATA``,
``~/.cache/scratchnet/fashion-mnist`` and ``/usr/share/datasets/fashion-mnist``
(Debian's package ``dataset-fashion-mnist``).

IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian header ``0x00 0x00 <type> <ndim>``
(type ``0x08`` = unsigned byte), then ``ndim`` big-endian uint32 sizes, then the data.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import subprocess
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from scratchnet.estimator.atomic import atomic_write_bytes

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# The MD5 sums published in the dataset's README, for the files on its official mirror.
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
FETCH_COMMAND = "scratchnet data fetch"

_UBYTE = 0x08


class DatasetError(Exception):
    """A data file is missing, truncated, corrupt or does not match its partner."""


def cache_dir() -> Path:
    return Path.home() / ".cache" / "scratchnet" / "fashion-mnist"


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The directories looked in, in order."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    if os.environ.get("SCRATCHNET_DATA"):
        dirs.append(Path(os.environ["SCRATCHNET_DATA"]))
    dirs += [cache_dir(), DEBIAN_DIR]
    return dirs


def find_data_dir(kind: str = "train", data_dir=None) -> Path:
    """First directory holding both files of ``kind``; ``DatasetError`` with the fix otherwise.

    An explicit ``data_dir`` is authoritative: when it lacks the files, the search stops there.
    """
    images, labels = _files(kind)
    if data_dir is not None:
        d = Path(data_dir)
        missing = [f for f in (images, labels) if not (d / f).is_file()]
        if missing:
            raise DatasetError(f"{d / missing[0]}: file not found; put the Fashion-MNIST files "
                               f"there or run `{FETCH_COMMAND} --dir {d}`")
        return d
    for d in search_dirs():
        if (d / images).is_file() and (d / labels).is_file():
            return d
    looked = ", ".join(str(d) for d in search_dirs())
    raise DatasetError(f"Fashion-MNIST {kind} files not found (looked in {looked}); "
                       f"run `{FETCH_COMMAND}` to get them")


def load_fashion_mnist(kind: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Load the Fashion-MNIST ``"train"`` (60,000) or ``"test"`` (10,000) split.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), uint8
        Pixels row by row, 0 = background (black), 255 = full ink.
    y : ndarray of shape (n_samples,), int64
        Labels 0..9, named by ``CLASS_NAMES``.
    """
    d = find_data_dir(kind, data_dir)
    images_file, labels_file = (d / f for f in _files(kind))
    images = read_idx(images_file)
    labels = read_idx(labels_file)
    if images.ndim != 3:
        raise DatasetError(f"{images_file}: expected a 3-d image array, got {images.ndim}-d")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_file}: expected a 1-d label array, got {labels.ndim}-d")
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{labels_file}: holds {labels.shape[0]} labels but {images_file.name} "
                           f"holds {images.shape[0]} images")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DatasetError(f"{labels_file}: label {int(labels.max())} is outside 0..9")
    X = images.reshape(images.shape[0], -1)  # (N, 784)
    return X, labels.astype(np.int64)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a (gzip'd or plain) IDX file of unsigned bytes into an array of its dimensions.

    Checks the magic number, that the sizes are positive, and that the payload has exactly the
    length the header promises; raises ``DatasetError`` naming the file otherwise.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found; run `{FETCH_COMMAND}`") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc}); delete it and "
                           f"run `{FETCH_COMMAND}`") from None
    if len(raw) < 4:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path}: bad magic number {raw[:4].hex()} (an IDX file starts "
                           "with two zero bytes)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != _UBYTE:
        raise DatasetError(f"{path}: data type 0x{dtype_code:02x} is not unsigned byte (0x08)")
    if not 1 <= ndim <= 4:
        raise DatasetError(f"{path}: {ndim} dimensions is not a valid image or label file")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(f"{path}: truncated header ({len(raw)} of {header_len} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if any(d == 0 for d in dims):
        raise DatasetError(f"{path}: header declares an empty dimension {dims}")
    expected = int(np.prod(dims))
    got = len(raw) - header_len
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DatasetError(f"{path}: {what}: header {dims} needs {expected} data bytes, "
                           f"found {got}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool = True) -> None:
    """Write a uint8 array as an IDX file (gzip'd when ``compress``); used by tests and tools."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    atomic_write_bytes(path, gzip.compress(data) if compress else data)


# --- fetching ------------------------------------------------------------------------------
def fetch(dest: str | os.PathLike | None = None, use_apt: bool = True,
          mirror: str = MIRROR, log=print) -> Path:
    """Make the four files available and return the directory holding them.

    With no ``dest``: through ``apt-get install dataset-fashion-mnist`` when this is Debian and
    we are root, else by download into ``~/.cache/scratchnet/fashion-mnist``. Downloads are checked
    against the published MD5 sums and written atomically: a failed download leaves nothing.
    """
    if dest is None and use_apt and _can_use_apt():
        if all((DEBIAN_DIR / f).is_file() for pair in FILES.values() for f in pair):
            log(f"Fashion-MNIST is already installed in {DEBIAN_DIR}")
            return DEBIAN_DIR
        log(f"installing Debian package {DEBIAN_PACKAGE} ...")
        ok = _apt_install()
        if ok and all((DEBIAN_DIR / f).is_file() for pair in FILES.values() for f in pair):
            log(f"Fashion-MNIST installed in {DEBIAN_DIR}")
            return DEBIAN_DIR
        log("apt-get did not provide the files; downloading instead")
    target = Path(dest) if dest is not None else cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name, md5 in MD5.items():
        path = target / name
        if path.is_file() and _md5(path) == md5:
            log(f"{path}: present, MD5 ok")
            continue
        log(f"downloading {mirror}{name} ...")
        download(mirror + name, path, md5)
    return target


def download(url: str, path: Path, md5: str | None = None, timeout: float = 60.0) -> None:
    """Download ``url`` to ``path`` through a temp file in the same directory, check its MD5,
    then rename. On any failure the temp file is removed and ``DatasetError`` is raised."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        if md5 is not None:
            got = _md5(Path(tmp))
            if got != md5:
                raise DatasetError(f"{url}: MD5 {got} does not match the published {md5}")
        os.replace(tmp, path)
    except DatasetError:
        os.unlink(tmp)
        raise
    # A connection cut mid-body raises http.client.IncompleteRead, which is not an OSError.
    except (OSError, ValueError, http.client.HTTPException) as exc:
        os.unlink(tmp)
        raise DatasetError(f"{url}: download failed ({exc}); check the network or install "
                           f"the Debian package {DEBIAN_PACKAGE}") from None
    except BaseException:  # Ctrl-C: still leave no partial file behind
        os.unlink(tmp)
        raise


def _can_use_apt() -> bool:
    return (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None
            and Path("/etc/debian_version").exists())


def _apt_install() -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", DEBIAN_PACKAGE]
    try:
        if subprocess.run(cmd, env=env, capture_output=True).returncode == 0:
            return True
        # The package lists may be stale or empty on a fresh machine.
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        return subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    except OSError:
        return False


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(kind: str) -> tuple[str, str]:
    if kind not in FILES:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    return FILES[kind]
