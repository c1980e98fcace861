"""Data augmentation: in place, shape- and dtype-preserving, reproducible, and it really shifts
and flips."""

import pickle

import numpy as np
import pytest

from scratchnet.nn.augment import ShiftFlip, augment, shift_flip


def dot_images(n, row=3, col=4, shape=(8, 8)):
    """``n`` images with one lit pixel at ``(row, col)``, as (n, H * W) float32 rows."""
    images = np.zeros((n,) + shape, dtype=np.float32)
    images[:, row, col] = 1.0
    return images.reshape(n, -1)


@pytest.mark.parametrize("shape", [(16, 784), (16, 1, 28, 28)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_shape_dtype_and_works_in_place(shape, dtype):
    rng = np.random.default_rng(0)
    batch = rng.random(shape).astype(dtype)
    original = batch.copy()
    result = shift_flip()(batch, rng)
    assert result is None
    assert batch.shape == shape and batch.dtype == dtype
    assert not np.array_equal(batch, original)


def test_reproducible_with_a_seeded_rng():
    batch = np.random.default_rng(1).random((32, 784), dtype=np.float32)
    a, b = batch.copy(), batch.copy()
    augment(a, np.random.default_rng(7))
    augment(b, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    augment(b, np.random.default_rng(8))
    assert not np.array_equal(a, b)


def test_shifts_move_pixels_by_at_most_max_shift():
    n, s = 200, 2
    batch = dot_images(n, row=3, col=4, shape=(8, 8))
    augment(batch, np.random.default_rng(2), max_shift=s, flip=False, image_shape=(8, 8))
    images = batch.reshape(n, 8, 8)
    assert np.all(images.sum(axis=(1, 2)) == 1)  # the dot stays inside, nothing else appears
    rows, cols = np.nonzero(images)[1:]
    dy, dx = rows - 3, cols - 4
    assert np.abs(dy).max() == s and np.abs(dx).max() == s  # every offset in range is used
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) == (2 * s + 1) ** 2


@pytest.mark.parametrize("background", [0.0, -0.75])
def test_shift_brings_in_the_background(background):
    """By default the pixels moved in take the batch's smallest value: 0 for raw pixels, the
    standardised 0 (here -0.75) after a global standardisation."""
    batch = np.full((50, 6, 6), 1.0, dtype=np.float32)
    batch[0, 0, 0] = background  # the background, somewhere in the batch
    batch = batch.reshape(50, 36)
    augment(batch, np.random.default_rng(3), max_shift=1, flip=False, image_shape=(6, 6))
    images = batch.reshape(50, 6, 6)
    assert set(np.unique(images)) == {background, 1.0}
    assert np.all(images[1:, 1:-1, 1:-1] == 1.0)  # a shift of 1 never reaches the centre
    assert np.any(images[1:] == background)


def test_shift_fills_with_a_given_value():
    batch = np.ones((20, 16), dtype=np.float32)
    augment(batch, np.random.default_rng(4), max_shift=1, flip=False, image_shape=(4, 4),
            fill=-2.0)
    assert set(np.unique(batch)) == {-2.0, 1.0}
    with pytest.raises(ValueError, match="fill"):
        augment(batch, np.random.default_rng(4), image_shape=(4, 4), fill="edge")


def test_flips_mirror_about_half_of_the_images():
    n = 400
    batch = dot_images(n, row=2, col=1, shape=(8, 8))
    augment(batch, np.random.default_rng(4), max_shift=0, flip=True, image_shape=(8, 8))
    images = batch.reshape(n, 8, 8)
    kept = images[:, 2, 1] == 1
    flipped = images[:, 2, 6] == 1
    assert np.all(kept ^ flipped)
    assert 150 < flipped.sum() < 250


def test_nothing_to_do_leaves_the_batch_alone():
    batch = np.random.default_rng(5).random((4, 784), dtype=np.float32)
    original = batch.copy()
    augment(batch, np.random.default_rng(0), max_shift=0, flip=False)
    np.testing.assert_array_equal(batch, original)


def test_rejects_batches_it_cannot_write_or_read():
    with pytest.raises(ValueError, match="contiguous"):
        augment(np.zeros((784, 4), dtype=np.float32).T, np.random.default_rng(0))
    with pytest.raises(ValueError, match="28x28"):
        augment(np.zeros((4, 100), dtype=np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError):
        ShiftFlip(max_shift=-1)


def test_shift_flip_pickles_and_prints_its_settings():
    aug = pickle.loads(pickle.dumps(shift_flip(max_shift=3, flip=False, fill=0)))
    assert (aug.max_shift, aug.flip, aug.image_shape, aug.fill) == (3, False, (28, 28), 0.0)
    assert "max_shift=3" in repr(aug)
