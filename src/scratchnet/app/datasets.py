"""Fashion-MNIST: where the files are looked for, how they are loaded and fetched.

The files are the official gzip'd IDX files (``train-images-idx3-ubyte.gz`` and friends). They
are looked for, in order, in ``data_dir``, ``$SCRATCHNET_DATA``,
``~/.cache/scratchnet/fashion-mnist`` and ``/usr/share/datasets/fashion-mnist``
(Debian's package ``dataset-fashion-mnist``).

The IDX reader itself is :mod:`scratchnet.app.idx`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from scratchnet.app.idx import (  # noqa: F401  (re-exported: the reader's public names)
    FETCH_COMMAND,
    MAX_IDX_BYTES,
    DatasetError,
    idx_dims,
    read_idx,
    write_idx,
)

CLASS_NAMES: tuple[str, ...] = (
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

IMAGE_SHAPE = (28, 28)


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
            raise DatasetError(
                f"{d / missing[0]}: file not found; put the Fashion-MNIST files "
                f"there or run `{FETCH_COMMAND} --dir {d}`"
            )
        return d
    for d in search_dirs():
        if (d / images).is_file() and (d / labels).is_file():
            return d
    looked = ", ".join(str(d) for d in search_dirs())
    raise DatasetError(
        f"Fashion-MNIST {kind} files not found (looked in {looked}); "
        f"run `{FETCH_COMMAND}` to get them"
    )


def load_fashion_mnist(kind: str = "train", data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Load the Fashion-MNIST ``"train"`` (60,000) or ``"test"`` (10,000) split.

    Both headers are checked first -- 28x28 images, one label per image -- so a wrong file is
    refused before its payload is read.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), uint8
        Pixels row by row, 0 = background (black), 255 = full ink.
    y : ndarray of shape (n_samples,), int64
        Labels 0..9, named by ``CLASS_NAMES``.
    """
    d = find_data_dir(kind, data_dir)
    images_file, labels_file = (d / f for f in _files(kind))
    image_dims, label_dims = idx_dims(images_file), idx_dims(labels_file)
    if len(image_dims) != 3:
        raise DatasetError(f"{images_file}: expected a 3-d image array, got {len(image_dims)}-d")
    if image_dims[1:] != IMAGE_SHAPE:
        raise DatasetError(
            f"{images_file}: images are {image_dims[1]}x{image_dims[2]}, Fashion-MNIST images "
            f"are {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}"
        )
    if len(label_dims) != 1:
        raise DatasetError(f"{labels_file}: expected a 1-d label array, got {len(label_dims)}-d")
    if image_dims[0] != label_dims[0]:
        raise DatasetError(
            f"{labels_file}: holds {label_dims[0]} labels but {images_file.name} "
            f"holds {image_dims[0]} images"
        )
    images = read_idx(images_file, shape=image_dims)
    labels = read_idx(labels_file, shape=label_dims)
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DatasetError(f"{labels_file}: label {int(labels.max())} is outside 0..9")
    X = images.reshape(images.shape[0], -1)  # (N, 784)
    return X, labels.astype(np.int64)


# --- fetching ------------------------------------------------------------------------------
def fetch(
    dest: str | os.PathLike | None = None, use_apt: bool = True, mirror: str = MIRROR, log=print
) -> Path:
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
        raise DatasetError(
            f"{url}: download failed ({exc}); check the network or install "
            f"the Debian package {DEBIAN_PACKAGE}"
        ) from None
    except BaseException:  # Ctrl-C: still leave no partial file behind
        os.unlink(tmp)
        raise


def _can_use_apt() -> bool:
    return (
        hasattr(os, "geteuid")
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
        and Path("/etc/debian_version").exists()
    )


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
