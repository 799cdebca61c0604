"""Tests for coursekit.photo_crops: colour crops of the shipped photographs."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.datasets import load_sample_image
from coursekit.photo_crops import COLOUR_PHOTOS, crop_boxes, load_photo_crops


@pytest.fixture(scope="module")
def crops():
    return load_photo_crops(size=32, per_class=(30, 10, 10), seed=0)


def test_shapes_labels_and_range(crops):
    assert crops.classes == list(COLOUR_PHOTOS)
    assert crops.image_shape == (3, 32, 32)
    for (X, y), n in zip((crops.train, crops.val, crops.test), (30, 10, 10), strict=True):
        assert X.dtype == np.float32 and X.shape == (3 * n, 3, 32, 32)
        assert 0.0 <= X.min() and X.max() <= 1.0
        assert np.array_equal(np.bincount(y, minlength=3), [n, n, n])
        assert not np.array_equal(y, np.sort(y)), "the classes are shuffled"


def test_every_crop_is_a_piece_of_its_photograph(crops):
    X, y = crops.train
    for k in range(6):
        photo = load_sample_image(crops.classes[y[k]]).astype(np.float32)  # (H, W, 3)
        crop = X[k].transpose(1, 2, 0)
        windows = np.lib.stride_tricks.sliding_window_view(photo, (32, 32, 3))[:, :, 0]
        assert np.any(np.all(windows == crop, axis=(2, 3, 4))), k


def test_same_seed_same_crops_other_seed_other_crops(crops):
    again = load_photo_crops(size=32, per_class=(30, 10, 10), seed=0)
    other = load_photo_crops(size=32, per_class=(30, 10, 10), seed=1)
    assert np.array_equal(crops.train[0], again.train[0])
    assert np.array_equal(crops.val[1], again.val[1])
    assert not np.array_equal(crops.train[0], other.train[0])


def test_splits_never_share_a_pixel():
    rng = np.random.default_rng(0)
    size = 16
    boxes = crop_boxes((170, 256), size, (200, 60, 60), rng)
    covered = {}
    for split, corners in boxes.items():
        mask = np.zeros((170, 256), dtype=bool)
        for top, left in corners:
            assert 0 <= top <= 170 - size and 0 <= left <= 256 - size
            mask[top : top + size, left : left + size] = True
        covered[split] = mask
    assert not (covered["train"] & covered["val"]).any()
    assert not (covered["train"] & covered["test"]).any()
    assert not (covered["val"] & covered["test"]).any()


def test_other_sizes_and_photographs():
    small = load_photo_crops(size=16, per_class=(4, 2, 2), photos=("camera", "coffee"), seed=3)
    assert small.image_shape == (3, 16, 16) and small.classes == ["camera", "coffee"]
    grey = small.train[0][small.train[1] == 0]
    assert np.array_equal(grey[:, 0], grey[:, 1]), "a grey photograph gives grey crops"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(size=0), ValueError),
        (dict(size=2.5), TypeError),
        (dict(size=200), ValueError),
        (dict(per_class=(10, 0, 5)), ValueError),
        (dict(per_class=(10, 5)), TypeError),
        (dict(per_class="abc"), TypeError),
        (dict(photos=("coffee",)), ValueError),
        (dict(photos=("coffee", "coffee")), ValueError),
        (dict(photos=("coffee", "mona lisa")), ValueError),
        (dict(photos="coffee"), TypeError),
        (dict(seed=-1), ValueError),
    ],
)
def test_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        load_photo_crops(**kwargs)
