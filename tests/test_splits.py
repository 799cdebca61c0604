"""coursekit.splits: the Splits container, stratified splitting and the shaping of images."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import splits as sp


def _X(n, c=1, h=2, w=2):
    return np.zeros((n, c, h, w), np.float32)


# --------------------------------------------------------------------------- Splits


def test_splits_converts_images_to_float32_and_labels_to_int64():
    X = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)  # integers
    s = sp.Splits(
        (X, np.array([1, 0], np.uint8)), (X[:1], [2]), (X[:0], np.zeros(0)), ["a", "b", "c"]
    )
    for X_, y_ in (s.train, s.val, s.test):
        assert X_.dtype == np.float32 and X_.flags.c_contiguous and y_.dtype == np.int64
    np.testing.assert_array_equal(s.train[0], X)
    assert s.val[1].tolist() == [2] and s.num_classes == 3 and s.image_shape == (3, 2, 2)
    assert s.name == ""


@pytest.mark.parametrize(
    ("pairs", "error", "match"),
    [
        (
            [[_X(2), np.zeros(2)], (_X(2), np.zeros(2)), (_X(2), np.zeros(2))],
            TypeError,
            r"^train must be a tuple \(X, y\), got list$",
        ),
        (
            [(_X(2), np.zeros(2)), (_X(2), np.zeros(2), 0), (_X(2), np.zeros(2))],
            TypeError,
            r"^val must be a tuple \(X, y\), got tuple$",
        ),
        (
            [(_X(2), np.zeros(2)), (_X(2), np.zeros(2)), (_X(2)[0], np.zeros(2))],
            ValueError,
            r"^test X must be 4-D \(N, C, H, W\), got 3-D",
        ),
        (
            [(_X(2), np.zeros((2, 1))), (_X(2), np.zeros(2)), (_X(2), np.zeros(2))],
            ValueError,
            r"^train y must be 1-D \(N,\), got 2-D",
        ),
        (
            [(_X(2), np.zeros(2)), (_X(2), np.array([0, -1])), (_X(2), np.zeros(2))],
            ValueError,
            r"^val y must hold labels in \[0, 1\] for 2 classes, got range \[-1, 0\]$",
        ),
        (
            [(_X(2), np.zeros(2)), (_X(2), np.zeros(2)), (_X(2), np.array([2, 1]))],
            ValueError,
            r"^test y must hold labels in \[0, 1\] for 2 classes, got range \[1, 2\]$",
        ),
        (
            [(_X(2), np.zeros(2)), (_X(2, c=2), np.zeros(2)), (_X(2), np.zeros(2))],
            ValueError,
            r"^val X must have shape \(\*, 1, 2, 2\), got \(2, 2, 2, 2\)$",
        ),
    ],
)
def test_splits_names_the_bad_split(pairs, error, match):
    with pytest.raises(error, match=match):
        sp.Splits(*pairs, classes=["a", "b"])


def test_the_summary_counts_every_split_and_the_pixel_range():
    X = np.full((4, 1, 2, 3), 0.25, np.float32)
    X[0, 0, 0, 0], X[1, 0, 1, 2] = 0.0, 0.75
    val = np.full((2, 1, 2, 3), 0.5, np.float32)
    s = sp.Splits(
        (X, np.array([0, 1, 1, 1])),
        (val, np.array([0, 1])),
        (_X(0, h=2, w=3), np.zeros(0)),
        ["a", "b"],
    )
    assert s.summary() == (
        "data: 2 classes, images 1x2x3 (C x H x W), pixels in [0.00, 0.75]\n"
        "  train      4 images (1-3 per class)\n"
        "  val        2 images (1-1 per class)\n"
        "  test       0 images (empty)"
    )
    # a class absent from a split counts 0 there, the last one too
    s.test = (X[:2], np.array([0, 0]))
    assert s.summary().endswith("\n  test       2 images (0-2 per class)")
    s.name = "toy"
    s.val = (val + 0.5, s.val[1])  # the largest pixel is in another split
    assert s.summary().startswith(
        "toy: 2 classes, images 1x2x3 (C x H x W), pixels in [0.00, 1.00]\n"
    )


# --------------------------------------------------------------------------- stratified splits


def test_quota_hands_the_leftovers_to_the_largest_remainders():
    assert sp._quota(np.array([5, 3, 2]), 5).tolist() == [3, 1, 1]  # 2.5 1.5 1.0: first tie wins
    assert sp._quota(np.array([1, 1, 8]), 5).tolist() == [1, 0, 4]  # 0.5 0.5 4.0
    assert sp._quota(np.array([3, 6, 1]), 7).tolist() == [2, 4, 1]  # 2.1 4.2 0.7
    assert sp._quota(np.array([4, 4]), 0).tolist() == [0, 0]
    assert sp._quota(np.array([4, 4]), 8).tolist() == [4, 4]


def test_stratified_split_cuts_each_class_in_proportion():
    y = np.array([0] * 10 + [1] * 6 + [2] * 4)
    parts = sp._stratified_split(y, [5, 0, 10], np.random.default_rng(0))
    assert [len(p) for p in parts] == [5, 0, 10, 5]
    assert parts[1].dtype == np.int64
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(20))
    assert np.bincount(y[parts[0]], minlength=3).tolist() == [3, 1, 1]  # 2.5 1.5 1.0
    assert np.bincount(y[parts[2]], minlength=3).tolist() == [5, 3, 2]
    assert np.bincount(y[parts[3]], minlength=3).tolist() == [2, 2, 1]  # the rest
    # each part is shuffled: not the classes one after the other
    assert not np.array_equal(parts[2], np.sort(parts[2]))


def test_a_part_never_asks_a_class_for_more_than_is_left():
    y = np.array([0] * 9 + [1] * 1)
    parts = sp._stratified_split(y, [9, 1], np.random.default_rng(0))
    assert [len(p) for p in parts] == [9, 1, 0]
    assert sorted(y[parts[1]].tolist()) == [0]  # class 1 was used up by the first part


def test_stratified_subset_keeps_the_order_and_needs_a_limit_below_the_size():
    y = np.array([0, 1] * 10)
    rng = np.random.default_rng(0)
    for limit in (None, 20, 25):
        np.testing.assert_array_equal(sp._stratified_subset(y, limit, rng), np.arange(20))
    sub = sp._stratified_subset(y, 6, rng)
    assert len(sub) == 6 and np.all(np.diff(sub) > 0)
    assert np.bincount(y[sub]).tolist() == [3, 3]
    assert len(sp._stratified_subset(y, 19, rng)) == 19
    # taking everything draws nothing: the split that follows is the same as without a limit
    rng, fresh = np.random.default_rng(5), np.random.default_rng(5)
    sp._stratified_subset(y, 20, rng)
    assert rng.random() == fresh.random()


# --------------------------------------------------------------------------- shaping images


def test_pixels_are_divided_by_the_largest_stored_value():
    images = np.array([[[[0, 8, 16]]]], np.uint8)
    out = sp._to_float(images, 16)
    assert out.dtype == np.float32 and out.tolist() == [[[[0.0, 0.5, 1.0]]]]


def test_padding_centres_the_images_and_refuses_to_shrink():
    X = np.arange(1, 1 + 2 * 3 * 4, dtype=np.float32).reshape(1, 2, 3, 4)
    out = sp._resize(X, 7, "pad")  # 4 rows, 3 columns of zeros around
    assert out.shape == (1, 2, 7, 7) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :, 2:5, 1:5], X)
    assert out.sum() == X.sum()
    assert sp._resize(X, None, "pad") is X
    square = X[:, :, :, :3]
    assert sp._resize(square, 3, "interpolate") is square
    # only the side that is smaller is padded
    np.testing.assert_array_equal(sp._resize(X, 4, "pad")[:, :, :3], X)
    tall = X.transpose(0, 1, 3, 2)  # 4x3
    np.testing.assert_array_equal(sp._resize(tall, 4, "pad")[:, :, :, :3], tall)
    for size in (3, 2):  # smaller than the width, or than both sides
        with pytest.raises(
            ValueError,
            match=rf"^image_size must be >= the images' size 3x4 to pad, got {size}; use resize='interpolate' to shrink$",
        ):
            sp._resize(X, size, "pad")


@pytest.mark.parametrize("size", [3, 12])
def test_interpolation_is_torchs_bilinear_antialiased_when_shrinking(size):
    X = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    out = sp._resize(X, size, "interpolate")
    t = torch.from_numpy(X)
    expected = F.interpolate(
        t, size=(size, size), mode="bilinear", align_corners=False, antialias=size < 8
    )
    assert out.shape == (2, 1, size, size) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected.clamp(0, 1).numpy(), rtol=0, atol=1e-7)
    if size < 8:  # antialiasing changes a shrunk image (an enlarged one, not at all)
        plain = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
        assert np.abs(out - plain.numpy()).max() > 1e-3


def test_channels_repeat_grey_or_weigh_rgb_with_bt601():
    rng = np.random.default_rng(0)
    grey = rng.random((2, 1, 3, 3)).astype(np.float32)
    rgb = np.repeat(grey, 3, axis=1)
    np.testing.assert_array_equal(sp._set_channels(grey, 3), rgb)
    assert sp._set_channels(grey, 1) is grey and sp._set_channels(grey, None) is grey
    colour = rng.random((2, 3, 3, 3)).astype(np.float32)
    out = sp._set_channels(colour, 1)
    assert out.shape == (2, 1, 3, 3) and out.dtype == np.float32 and out.flags.c_contiguous
    expected = 0.299 * colour[:, 0] + 0.587 * colour[:, 1] + 0.114 * colour[:, 2]
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"^channels must be 1 or 3 for images with 2 channels, got 3$"
    ):
        sp._set_channels(rng.random((1, 2, 3, 3)), 3)
    with pytest.raises(
        ValueError, match=r"^channels must be 1 or 3 for images with 2 channels, got 1$"
    ):
        sp._set_channels(rng.random((1, 2, 3, 3)), 1)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, None, "auto"), r"^image_size must be an integer >= 1, got 0$"),
        ((None, 2, "auto"), r"^channels must be one of \[1, 3\], got 2$"),
        (
            (None, None, "crop"),
            r"^resize must be one of \['auto', 'pad', 'interpolate'\], got 'crop'$",
        ),
    ],
)
def test_image_arguments_are_checked(args, match):
    with pytest.raises(ValueError, match=match):
        sp._check_image_args(*args)
    sp._check_image_args(32, 3, "pad")
    sp._check_image_args(None, None, "interpolate")


@pytest.mark.parametrize(
    ("fractions", "match"),
    [
        (
            (0.5, 0.5),
            r"^val_fraction \+ test_fraction must be < 1 so that training data remain, got 0\.5 \+ 0\.5 = 1\.0$",
        ),
        ((0.1, 1.0), r"^test_fraction must lie in \[0, 1\), got 1\.0$"),
        ((1.0, 0.1), r"^val_fraction must lie in \[0, 1\), got 1\.0$"),
    ],
)
def test_fractions_must_leave_training_data(fractions, match):
    with pytest.raises(ValueError, match=match):
        sp._check_fractions(*fractions)
    assert sp._check_fractions(0.25, 0.5) == (0.25, 0.5)


def test_make_splits_scales_shapes_and_names():
    pools = [(np.full((2, 1, 2, 2), 255, np.uint8), np.array([1, 0], np.int32))] * 3
    s = sp._make_splits(pools, 255, ("x", "y"), "mine", 4, 3, "pad")
    assert s.name == "mine" and s.classes == ["x", "y"] and s.image_shape == (3, 4, 4)
    assert s.test[1].dtype == np.int64 and s.train[0][:, :, 1:3, 1:3].min() == 1.0
    assert s.train[0].sum() == 2 * 3 * 4


def test_the_class_names_of_each_data_set():
    assert sp.CLASS_NAMES["digits"] == sp.DIGIT_CLASSES == [str(d) for d in range(10)]
    assert (
        sp.CLASS_NAMES["fashion_mnist"][0] == "T-shirt/top" and len(sp.FASHION_MNIST_CLASSES) == 10
    )
    assert re.fullmatch(
        r"airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck", ",".join(sp.CIFAR10_CLASSES)
    )


@pytest.mark.parametrize(("side", "size"), [(32, 5), (28, 13), (8, 40)])
def test_interpolated_white_stays_at_one(side, size):
    # float32 rounding makes torch's bilinear weights sum to a hair over 1: clamped back
    t = torch.ones(1, 1, side, side)
    raw = F.interpolate(
        t, size=(size, size), mode="bilinear", align_corners=False, antialias=size < side
    )
    assert raw.max().item() > 1.0
    out = sp._resize(np.ones((1, 1, side, side), np.float32), size, "interpolate")
    assert out.max() == 1.0 and out.min() > 0.99


def test_a_part_of_size_zero_after_all_is_used_is_empty():
    y = np.array([0, 0, 1, 1])
    parts = sp._stratified_split(y, [4, 0], np.random.default_rng(0))
    assert [len(p) for p in parts] == [4, 0, 0]
    np.testing.assert_array_equal(np.sort(parts[0]), np.arange(4))
