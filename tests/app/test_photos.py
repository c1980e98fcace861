"""Photo preprocessing: real test images made photo-like, saved as files, read back, classified.

Each photo-like variant is built from a real Fashion-MNIST test image the way a phone photo
differs from the dataset: inverted (dark object on light paper), upscaled 10x with bicubic
interpolation, tinted colours, JPEG artefacts, off-centre on a larger canvas, transparent
background, uneven light and a soft shadow, sensor noise, EXIF rotation, and combinations. If
``load_photo`` undoes all that, a model trained on the dataset classifies the variants about as
well as the untouched images."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFilter

from scratchnet.app.photo_decode import open_image
from scratchnet.app.photos import (
    MAX_PIXELS,
    ImageTooLargeError,
    NotAnImageError,
    PhotoError,
    load_photo,
    load_photo_bytes,
    to_fashion_mnist,
)

N_PHOTOS = 200  # test images per variant
# Accuracy floors, measured with the fixture's model. On these 200 images: 87.0% untouched,
# 86.5-88.0% for every variant; on 500 images: 88.4% untouched, 87.8-88.6% for every variant
# but the shadow. A broken step costs far more: not cropping the off-centre canvas gives
# 27-38%; a light background left uninverted leaves nothing above the background (blank); one
# pixel of margin around the object (not filling the frame as the dataset does) gives 78-82%.
# Four points (8 images of 200) is well above the drops seen (at most 0.6 points; 2 with an
# earlier, higher crop threshold) and well below what a broken step costs.
MARGIN = 0.04
# A shadow is darker than the paper like the object, so it is cropped with it and the item
# comes out a little small: 86.5% here (-0.5), but 85.2% on 500 images (-3.2). A documented
# limitation, with its own floor; the other variants still catch a 1-pixel error in scale.
SHADOW_MARGIN = 0.07

DARK_BLUE, WARM = (20, 30, 60), (230, 170, 90)
PAPER, INK = (235, 225, 210), (40, 60, 140)


@pytest.fixture(scope="session")
def test_images(fashion_mnist_test):
    X, y = fashion_mnist_test
    idx = np.random.default_rng(0).choice(X.shape[0], N_PHOTOS, replace=False)
    return X[idx], y[idx]


@pytest.fixture(scope="session")
def model(test_images):
    from scratchnet.app.experiment import train_preset

    return train_preset("mlp", epochs=3, seed=0)  # all 55,000 training images: ~6 s


@pytest.fixture(scope="session")
def clean_accuracy(model, test_images):
    X, y = test_images
    return float(np.mean(model.predict(X) == y))


# --- photo-like variants of one dataset image a: (784,) uint8 -------------------------------
def _up(a, size=280):
    return Image.fromarray(a.reshape(28, 28)).resize((size, size), Image.Resampling.BICUBIC)


def _tint(gray, obj, bg):
    """RGB image: gray 0 becomes the colour ``bg``, gray 255 the colour ``obj``."""
    f = np.asarray(gray, dtype=np.float32)[..., None] / 255.0  # (H, W, 1)
    bg = np.asarray(bg, dtype=np.float32)
    rgb = bg + f * (np.asarray(obj, dtype=np.float32) - bg) + 0.5  # + 0.5: rounds below
    return Image.fromarray(rgb.astype(np.uint8))


def _on_canvas(img, rng, size=(400, 340), fill=0):
    canvas = Image.new(img.mode, size, fill)
    at = (int(rng.integers(0, size[0] - img.width)), int(rng.integers(0, size[1] - img.height)))
    canvas.paste(img, at)
    return canvas


def _noisy(img, sigma, rng):
    x = np.asarray(img, dtype=np.float32) + 0.5  # + 0.5: rounds below
    x += sigma * rng.standard_normal(x.shape, dtype=np.float32)
    return Image.fromarray(np.clip(x, 0, 255).astype(np.uint8))


def _cutout(a):
    """Dark-ink object on a transparent background: alpha is the object's intensity."""
    up = np.asarray(_up(a))
    rgba = np.dstack([np.asarray(_tint(up, INK, INK)), up])  # (280, 280, 4)
    return Image.fromarray(rgba)


def _exif_rotated(img):
    """Pixels stored turned 90 degrees left with EXIF orientation 6, as phones do."""
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    return img.transpose(Image.Transpose.ROTATE_90), {"exif": exif}


def _phone_photo(a, rng):
    """Everything at once: ink on paper, off-centre, noisy, rotated by EXIF, JPEG."""
    img = _on_canvas(_tint(_up(a, 300), INK, PAPER), rng, size=(480, 400), fill=PAPER)
    img, kw = _exif_rotated(_noisy(img, 3.0, rng))
    return img, ".jpg", {"quality": 75, **kw}


def _lit_from_one_side(a, rng):
    """Dark ink on paper under a lamp: the paper darkens from 235 to 165 across the photo, the
    object casts a soft shadow (12% darker) down and right, the sensor adds noise; JPEG."""
    ink = np.asarray(_up(a), dtype=np.float32) / 255.0  # (280, 280) how much ink
    blurred = _up(a).filter(ImageFilter.GaussianBlur(8))
    h, w, drop = 340, 400, 16
    top, left = int(rng.integers(0, h - 280 - drop)), int(rng.integers(0, w - 280 - drop))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paper = 235.0 - 50.0 * xx / w - 20.0 * yy / h  # (H, W)
    shadow = np.zeros((h, w), dtype=np.float32)
    shadow[top + drop : top + drop + 280, left + drop : left + drop + 280] = \
        np.asarray(blurred, dtype=np.float32) / 255.0
    obj = np.zeros((h, w), dtype=np.float32)
    obj[top : top + 280, left : left + 280] = ink
    gray = paper * (1.0 - 0.12 * shadow) * (1.0 - obj) + 40.0 * obj
    return _noisy(Image.fromarray(gray.astype(np.uint8)), 3.0, rng), ".jpg", {"quality": 85}


VARIANTS = {
    "inverted": lambda a, rng: (Image.fromarray(255 - a.reshape(28, 28)), ".png", {}),
    "upscaled": lambda a, rng: (_up(a), ".png", {}),
    "coloured": lambda a, rng: (_tint(_up(a), WARM, DARK_BLUE), ".png", {}),
    "jpeg": lambda a, rng: (_up(a), ".jpg", {"quality": 70}),
    "off_centre": lambda a, rng: (_on_canvas(_up(a), rng), ".png", {}),
    "off_centre_light_background": lambda a, rng: (
        _on_canvas(_tint(_up(a), (0, 0, 0), (255, 255, 255)), rng, fill=(255, 255, 255)),
        ".png", {}),
    "coloured_jpeg_off_centre": lambda a, rng: (
        _on_canvas(_tint(_up(a), WARM, DARK_BLUE), rng, fill=DARK_BLUE), ".jpg", {"quality": 80}),
    "transparent_cutout": lambda a, rng: (_cutout(a), ".png", {}),
    "lit_from_one_side_with_shadow": _lit_from_one_side,
    "phone_photo": _phone_photo,
}


def _write(img, path, kw):
    if path.suffix == ".png":
        kw = {"compress_level": 1, **kw}  # fast: the tests write thousands of files
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_photo_like_images_keep_the_accuracy(variant, tmp_path, model, test_images,
                                             clean_accuracy):
    X, y = test_images
    rng = np.random.default_rng(1)
    pixels = []
    for i, a in enumerate(X):
        img, suffix, kw = VARIANTS[variant](a, rng)
        pixels.append(load_photo(_write(img, tmp_path / f"{i}{suffix}", kw)))
    pixels = np.stack(pixels)  # (N, 784)
    assert pixels.dtype == np.uint8 and pixels.shape == (N_PHOTOS, 784)
    accuracy = float(np.mean(model.predict(pixels) == y))
    margin = SHADOW_MARGIN if "shadow" in variant else MARGIN
    assert accuracy >= clean_accuracy - margin, (variant, accuracy, clean_accuracy)


def test_dataset_images_round_trip_nearly_unchanged(model, test_images, clean_accuracy):
    X, y = test_images
    out = np.stack([to_fashion_mnist(a) for a in X])  # (N, 784)
    same = np.all(out == X, axis=1)
    # Four in five come back bit for bit (measured: 80.5% here, 80.7% of all 10,000). In the
    # rest, faint edge pixels below the box threshold put the box a pixel inside the dataset's,
    # so the item moves or grows by a pixel: a textured item then correlates less with its
    # shifted self (5th percentile 0.88), but the picture stays.
    assert same.mean() > 0.7
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(X.astype(float), out.astype(float),
                                                     strict=True)]
    assert np.percentile(corr, 10) > 0.99 and np.percentile(corr, 5) > 0.75
    # Measured: 86.5% against 87.0% here, and equal (87.33%) on all 10,000 test images.
    assert float(np.mean(model.predict(out) == y)) >= clean_accuracy - 0.02


def test_a_saved_dataset_image_loads_as_itself(tmp_path, test_images):
    a = test_images[0][0]
    path = tmp_path / "item.png"
    Image.fromarray(a.reshape(28, 28)).save(path)
    out = load_photo(path)
    assert np.corrcoef(a.astype(float), out.astype(float))[0, 1] > 0.95


# --- the steps on synthetic images ------------------------------------------------------------
def test_object_is_cropped_centred_and_fills_the_frame():
    img = np.zeros((300, 400), dtype=np.uint8)  # (H, W)
    img[40:140, 250:300] = 180  # a 100 x 50 dim rectangle, off-centre
    out = to_fashion_mnist(img).reshape(28, 28)
    assert out.max() == 255  # contrast stretched
    # Above gray 30 (below it lie Lanczos' faint ripples), as measured on the dataset:
    rows, cols = np.flatnonzero(out.max(axis=1) > 30), np.flatnonzero(out.max(axis=0) > 30)
    assert rows[0] == 0 and rows[-1] == 27  # the long side spans the frame
    assert 12 <= cols.size <= 16  # the short side keeps the aspect ratio
    assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 0.5  # centred


def test_polarity_is_undone_and_colour_ignored():
    rng = np.random.default_rng(0)
    img = np.zeros((200, 200), dtype=np.uint8)
    img[30:170, 60:140] = rng.integers(120, 256, (140, 80))
    light = to_fashion_mnist(img)
    dark_on_paper = np.asarray(_tint(255 - img, (245, 240, 230), (30, 30, 30)))  # (H, W, 3)
    assert np.corrcoef(light, to_fashion_mnist(dark_on_paper))[0, 1] > 0.95
    as_floats = img.astype(np.float64) / 255.0  # floats in 0..1 are accepted too
    np.testing.assert_array_equal(to_fashion_mnist(as_floats), light)


def test_alpha_background_contrasts_with_the_object():
    up = np.asarray(_up(np.tile(np.arange(28, dtype=np.uint8) * 9, 28)))  # a gradient
    white_shirt = np.dstack([np.full(up.shape + (3,), 255, np.uint8), up])  # white, alpha = up
    out = to_fashion_mnist(Image.fromarray(white_shirt))
    out = out.reshape(28, 28)
    assert out.max() == 255 and out[:, :3].mean() < out[:, -3:].mean()


def test_exif_orientation_is_applied(tmp_path, test_images):
    a = test_images[0][3]
    img, kw = _exif_rotated(_up(a))
    path = _write(img, tmp_path / "rotated.jpg", {"quality": 95, **kw})
    upright = _write(_up(a), tmp_path / "upright.jpg", {"quality": 95})
    assert np.corrcoef(load_photo(path), load_photo(upright))[0, 1] > 0.98


def test_sixteen_bit_png(tmp_path):
    img = np.zeros((120, 90), dtype=np.uint16)
    img[20:100, 30:60] = 40000
    path = tmp_path / "scan.png"
    Image.fromarray(img).save(path)
    out = load_photo(path).reshape(28, 28)
    assert out.max() == 255 and out[:, 0].max() == 0
    assert out[0].max() > 200 and out[-1].max() > 200  # the long side spans the frame


# --- errors -----------------------------------------------------------------------------------
def _png_bytes(size=(64, 64)):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)).save(buf,
                                                                                         "PNG")
    return buf.getvalue()


def _jpeg_bytes():
    buf = io.BytesIO()
    _noisy(Image.new("RGB", (128, 128), (200, 100, 50)), 20, np.random.default_rng(0)).save(
        buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.mark.parametrize("case, expected", [
    ("missing", "no such file"),
    ("directory", "directory"),
    ("text", "not an image"),
    ("empty_file", "not an image"),
    ("truncated_png", "corrupt or truncated"),
    ("truncated_jpeg", "corrupt or truncated"),
    ("corrupt_png", "corrupt or truncated"),
    ("white", "blank"),
    ("black", "blank"),
    ("gray_noise", "blank"),
    ("transparent", "blank"),
])
def test_photo_errors_are_one_line_naming_the_file(case, expected, tmp_path):
    path = tmp_path / f"{case}.png"
    if case == "directory":
        path.mkdir()
    elif case == "text":
        path.write_text("this is not a picture\n")
    elif case == "empty_file":
        path.write_bytes(b"")
    elif case == "truncated_png":
        path.write_bytes(_png_bytes()[:300])
    elif case == "truncated_jpeg":
        path = tmp_path / "truncated.jpg"
        path.write_bytes(_jpeg_bytes()[:600])
    elif case == "corrupt_png":
        blob = bytearray(_png_bytes())
        blob[100:200] = bytes(100)  # zeroed compressed data: the checksum fails
        path.write_bytes(bytes(blob))
    elif case == "white":
        Image.new("L", (50, 40), 255).save(path)
    elif case == "black":
        Image.new("RGB", (50, 40), 0).save(path)
    elif case == "gray_noise":
        _noisy(Image.new("L", (200, 150), 128), 3.0, np.random.default_rng(0)).save(path)
    elif case == "transparent":
        Image.new("RGBA", (30, 30), (255, 0, 0, 0)).save(path)
    with pytest.raises(PhotoError) as info:
        load_photo(path)
    message = str(info.value)
    assert str(path) in message and expected in message and "\n" not in message


# --- hostile files: bombs, FIFOs, devices (issue 10, item 3) ----------------------------------
def _png_bomb(path, width, height):
    """A real, valid PNG of ``width x height`` black pixels: a few hundred KB of zlib that
    decodes to ``width * height`` bytes. Written row by row, so the test never holds it."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then black pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [
    7_000,  # 49 megapixels: under Pillow's limits, over ours
    12_000,  # 144 megapixels: Pillow only warns (the 150 KB file that cost 2.7 GB and 7.8 s)
    20_000,  # 400 megapixels: Pillow refuses with its own two-line message
])
def test_a_pixel_bomb_is_refused_from_its_header_in_milliseconds(side, tmp_path, capfd):
    path = _png_bomb(tmp_path / f"bomb{side}.png", side, side)
    assert path.stat().st_size < 2_000_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        with pytest.raises(ImageTooLargeError) as info:
            load_photo(path)
        elapsed = time.perf_counter() - start
    message = str(info.value)
    assert str(path) in message and "too large" in message and "\n" not in message
    assert f"{side * side:,} pixels); scratchnet takes at most {MAX_PIXELS:,}:" in message
    assert elapsed < 0.5, elapsed  # measured: about 1 ms; decoding the 12000 x 12000 took 8 s
    assert not caught  # no DecompressionBombWarning, nor any other
    out, err = capfd.readouterr()
    assert out == err == ""
    with pytest.raises(ImageTooLargeError):
        load_photo_bytes(path.read_bytes(), "upload.png")


def test_an_image_at_the_pixel_limit_is_accepted(tmp_path):
    path = _png_bomb(tmp_path / "edge.png", 8_000, MAX_PIXELS // 8_000)
    with pytest.raises(PhotoError, match="blank"):  # decoded, then found empty: not refused
        load_photo(path)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    img = Image.new("L", (4_000, 3_000), 230)
    img.paste(40, (1_500, 600, 2_500, 2_400))  # a dark item on light paper
    path = tmp_path / "big.jpg"
    img.save(path, quality=90)
    with path.open("rb") as f, open_image(f, str(path)) as opened:
        assert opened.size == (2_000, 1_500)  # draft: 1/2 scale, still above MAX_SIDE
    small = tmp_path / "small.png"
    img.resize((400, 300), Image.Resampling.BOX).save(small)
    assert np.corrcoef(load_photo(path), load_photo(small))[0, 1] > 0.98


def test_a_large_image_is_reduced_before_it_becomes_floats(tmp_path):
    """20 megapixels of RGBA (a 100 KB PNG, under the pixel limit): decoded, then averaged in
    blocks in Pillow before any float64 array exists. Before, the float64 copy alone was 640
    MB (a 40-megapixel one peaked at 3 GB); now the process grows by about 170 MB."""
    w, h = 5_000, 4_000
    row_bg = bytes(4 * w)  # transparent
    row_obj = bytes(4 * 1_500) + bytes([200, 30, 30, 255]) * 2_000 + bytes(4 * 1_500)
    packer = zlib.compressobj(1)
    idat = b"".join(packer.compress(b"\0" + (row_obj if 500 <= y < 3_500 else row_bg))
                    for y in range(h)) + packer.flush()

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    path = tmp_path / "large.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6,
                     0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    code = ("import resource, sys; from scratchnet.app.photos import load_photo; "
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
            "out = load_photo(sys.argv[1]).reshape(28, 28); "
            "grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base; "
            "print(grew // 1024, int(out[14, 8:20].min()), int(out[:, 0].max()))")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                            text=True, timeout=60, check=True)
    grew_mb, inside, border = map(int, result.stdout.split())
    assert inside > 200 and border == 0  # the 2:3 box spans the height, the sides are clean
    assert grew_mb < 400, grew_mb


def _in_thread(fn, timeout=5.0):
    """Run ``fn`` in a daemon thread; the test fails (instead of hanging) if it blocks."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "load_photo blocked"
    return result


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    result = _in_thread(lambda: load_photo(fifo))
    error = result.get("error")
    assert isinstance(error, PhotoError), result
    assert str(fifo) in str(error) and "not a regular file (a FIFO)" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero on this system")
def test_a_device_is_refused_without_reading_it():
    result = _in_thread(lambda: load_photo("/dev/zero"))
    assert isinstance(result.get("error"), PhotoError), result
    assert "character device" in str(result["error"])


def test_bytes_and_files_give_the_same_pixels(tmp_path, test_images):
    path = tmp_path / "item.jpg"
    _up(test_images[0][5]).save(path, quality=85)
    np.testing.assert_array_equal(load_photo_bytes(path.read_bytes()), load_photo(path))
    with pytest.raises(NotAnImageError, match="^notes.txt: not an image"):
        load_photo_bytes(b"hello, this is text\n", "notes.txt")
