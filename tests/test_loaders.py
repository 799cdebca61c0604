"""coursekit.loaders and coursekit.standardization: datasets, DataLoaders and NumPy views of a Splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit import loaders as L
from coursekit import standardization as S
from coursekit.splits import Splits


@pytest.fixture(scope="module")
def splits() -> Splits:
    """40 / 12 / 9 random RGB 4x5 images, labels 0..3."""
    rng = np.random.default_rng(0)

    def part(n):
        return rng.random((n, 3, 4, 5)), rng.integers(0, 4, n)

    return Splits(part(40), part(12), part(9), classes=list("abcd"), name="toy")


def _all(loader):
    xs, ys = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ys)


# --------------------------------------------------------------------------- check_images_and_labels


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (
            torch.zeros(4, 8, 8),
            torch.zeros(4, dtype=torch.int64),
            ValueError,
            r"^X must be 4-D \(N, C, H, W\), got 3-D with shape \(4, 8, 8\)$",
        ),
        (
            torch.zeros(4, 1, 8, 8),
            torch.zeros(4, 1, dtype=torch.int64),
            ValueError,
            r"^y must be 1-D \(N,\), got 2-D with shape \(4, 1\)$",
        ),
        (
            torch.zeros(0, 1, 8, 8),
            torch.zeros(0, dtype=torch.int64),
            ValueError,
            r"^X must hold at least one image, got 0$",
        ),
        (
            torch.zeros(4, 1, 8, 8),
            torch.zeros(4),
            TypeError,
            r"^y must hold integer class labels, got dtype torch\.float32$",
        ),
        (
            torch.zeros(4, 1, 8, 8),
            torch.zeros(4, dtype=torch.bool),
            TypeError,
            r"^y must hold integer class labels, got dtype torch\.bool$",
        ),
    ],
)
def test_check_images_and_labels_names_what_is_wrong(X, y, error, match):
    with pytest.raises(error, match=match):
        L.check_images_and_labels(X, y)


def test_integer_labels_of_any_width_are_accepted():
    for dtype in (torch.uint8, torch.int32, torch.int64):
        L.check_images_and_labels(torch.zeros(2, 1, 3, 3), torch.zeros(2, dtype=dtype))


# --------------------------------------------------------------------------- ImageTensorDataset


def test_image_tensor_dataset_returns_image_and_label_transformed_on_fetch():
    X = torch.arange(3 * 2 * 2 * 2, dtype=torch.float32).reshape(3, 2, 2, 2)
    y = torch.tensor([2, 0, 1])
    plain = L.ImageTensorDataset(X, y)
    assert len(plain) == 3 and plain.mean is None and plain.std is None
    x1, y1 = plain[1]
    torch.testing.assert_close(x1, X[1])
    assert y1.item() == 0
    calls = []

    def negate(x):
        calls.append(x.shape)
        return -x

    neg = L.ImageTensorDataset(X, y, negate)
    assert calls == []  # applied when an image is fetched, not before
    x2, y2 = neg[2]
    torch.testing.assert_close(x2, -X[2])
    assert y2.item() == 1 and calls == [torch.Size([2, 2, 2])]


@pytest.mark.parametrize(
    ("X", "y", "transform", "error", "match"),
    [
        (
            np.zeros((2, 1, 2, 2)),
            torch.zeros(2, dtype=torch.int64),
            None,
            TypeError,
            r"^X and y must be torch tensors, got ndarray and Tensor$",
        ),
        (
            torch.zeros(2, 1, 2, 2),
            [0, 1],
            None,
            TypeError,
            r"^X and y must be torch tensors, got Tensor and list$",
        ),
        (
            torch.zeros(2, 1, 2, 2),
            torch.zeros(2, dtype=torch.int64),
            "flip",
            TypeError,
            r"^transform must be callable or None, got 'flip'$",
        ),
    ],
)
def test_image_tensor_dataset_rejects_what_is_not_tensors_or_callable(
    X, y, transform, error, match
):
    with pytest.raises(error, match=match):
        L.ImageTensorDataset(X, y, transform)


# --------------------------------------------------------------------------- make_loaders


def test_every_split_is_standardised_with_the_training_statistics(splits):
    loaders = L.make_loaders(splits, batch_size=5)
    mean, std = S.normalization_stats(splits.train[0])
    for name in ("train", "val", "test"):
        ds = loaders[name].dataset
        assert ds.mean.dtype == np.float32 and ds.std.dtype == np.float32
        np.testing.assert_array_equal(ds.mean, mean.astype(np.float32))
        np.testing.assert_array_equal(ds.std, std.astype(np.float32))
        assert ds.X.dtype == torch.float32 and ds.X.is_contiguous()
        np.testing.assert_allclose(
            ds.X.numpy(), S.normalize(getattr(splits, name)[0], mean, std), rtol=1e-6, atol=1e-6
        )
    x, y = _all(loaders["test"])
    np.testing.assert_allclose(
        x.numpy(), S.normalize(splits.test[0], mean, std), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(y.numpy(), splits.test[1])


def test_loaders_take_the_batch_size_workers_and_order_asked_for(splits):
    loaders = L.make_loaders(splits, batch_size=5, num_workers=2, device="cpu", normalize=False)
    for name in ("train", "val", "test"):
        assert loaders[name].batch_size == 5 and loaders[name].num_workers == 2
        assert loaders[name].pin_memory is False
    assert [len(y) for _, y in L.make_loaders(splits, batch_size=5)["val"]] == [5, 5, 2]
    # validation and test in their own order, every epoch
    for name in ("val", "test"):
        x, y = _all(loaders[name])
        np.testing.assert_array_equal(x.numpy(), getattr(splits, name)[0].astype(np.float32))
        np.testing.assert_array_equal(y.numpy(), getattr(splits, name)[1])


def test_the_training_order_depends_on_the_seed_only(splits):
    torch.manual_seed(1)
    first = _all(L.make_loaders(splits, batch_size=8, seed=5)["train"])[1]
    torch.manual_seed(2)  # the global generator plays no part
    again = _all(L.make_loaders(splits, batch_size=8, seed=5)["train"])[1]
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert sorted(first.tolist()) == sorted(splits.train[1].tolist())


@pytest.mark.parametrize(
    ("device", "pin"),
    [
        ("cpu", False),
        (torch.device("cpu"), False),
        ("cuda", True),
        ("cuda:0", True),
        (None, torch.cuda.is_available()),
    ],
)
def test_memory_is_pinned_for_cuda_only(splits, device, pin):
    loaders = L.make_loaders(splits, device=device)
    assert [loaders[s].pin_memory for s in ("train", "val", "test")] == [pin] * 3


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"normalize": 1}, TypeError, r"^normalize must be True or False, got 1$"),
        ({"seed": -1}, ValueError, r"^seed must be an integer >= 0, got -1$"),
        ({"num_workers": -2}, ValueError, r"^num_workers must be an integer >= 0, got -2$"),
        (
            {"device": "gpu0"},
            ValueError,
            r"^device must be a torch device such as 'cpu', got 'gpu0'$",
        ),
        ({"device": 3.5}, ValueError, r"^device must be a torch device such as 'cpu', got 3\.5$"),
        ({"batch_size": 0}, ValueError, r"^batch_size must be an integer >= 1, got 0$"),
        ({"train_transform": 3}, TypeError, r"^train_transform must be callable or None, got 3$"),
    ],
)
def test_make_loaders_names_the_bad_argument(splits, kwargs, error, match):
    with pytest.raises(error, match=match):
        L.make_loaders(splits, **kwargs)
    with pytest.raises(TypeError, match=r"^splits must be a Splits, got dict$"):
        L.make_loaders({})


# --------------------------------------------------------------------------- as_numpy


def test_as_numpy_copies_into_the_dtype_asked_for(splits):
    arrays = L.as_numpy(splits)
    assert set(arrays) == {"train", "val", "test"}
    for name in ("train", "val", "test"):
        X, y = arrays[name]
        assert X.dtype == np.float64 and X.shape == getattr(splits, name)[0].shape
        np.testing.assert_array_equal(X, getattr(splits, name)[0])
        np.testing.assert_array_equal(y, getattr(splits, name)[1])
    arrays["train"][1][:] = 3  # a copy: the splits keep their labels
    assert not np.all(splits.train[1] == 3)
    X, y = L.as_numpy(splits, flatten=True, dtype=np.float32)["val"]
    assert X.shape == (12, 60) and X.dtype == np.float32
    np.testing.assert_array_equal(X[3], splits.val[0][3].ravel())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"flatten": 1}, r"^flatten must be True or False, got 1$"),
        ({"dtype": np.int64}, r"^dtype must be a float type, got <class 'numpy\.int64'>$"),
    ],
)
def test_as_numpy_names_the_bad_argument(splits, kwargs, match):
    with pytest.raises(TypeError, match=match):
        L.as_numpy(splits, **kwargs)
    with pytest.raises(TypeError, match=r"^splits must be a Splits, got tuple$"):
        L.as_numpy((1, 2))


# --------------------------------------------------------------------------- standardization


def test_statistics_are_float64_even_for_float32_images():
    rng = np.random.default_rng(1)
    X = rng.random((6, 2, 3, 3)).astype(np.float32)
    mean, std = S.normalization_stats(X)
    assert mean.dtype == np.float64 and std.dtype == np.float64 and mean.shape == (2,)
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, X.astype(np.float64).std(axis=(0, 2, 3)), rtol=1e-12)
    with pytest.raises(
        ValueError, match=r"^X must hold at least one image, got shape \(0, 2, 3, 3\)$"
    ):
        S.normalization_stats(X[:0])
    for fn in (S.normalization_stats, lambda X: S.normalize(X, [0.0], [1.0])):
        with pytest.raises(
            TypeError, match=r"^X must hold real numbers \(float or int\), got dtype <U1 "
        ):
            fn([[[["a"]]]])


def test_normalize_keeps_a_float_dtype_and_makes_ints_float64():
    X32 = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    out = S.normalize(X32, np.array([1.0, 2.0]), np.array([2.0, 4.0]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 0], (X32[0, 0] - 1) / 2)
    np.testing.assert_array_equal(out[0, 1], (X32[0, 1] - 2) / 4)
    ints = S.normalize(np.arange(8).reshape(1, 2, 2, 2), [0.0, 1.0], [1.0, 1.0])
    assert ints.dtype == np.float64
    np.testing.assert_array_equal(ints.ravel(), [0, 1, 2, 3, 3, 4, 5, 6])


@pytest.mark.parametrize(
    ("mean", "std", "match"),
    [
        ([0.0, 0.0], [1.0], r"^std must have shape \(2,\), got \(1,\)$"),
        ([0.0, 0.0], [1.0, -1.0], r"^std must be > 0 in every channel, got \[ 1\. -1\.\]$"),
        ([0.0, 0.0], [0.0, 1.0], r"^std must be > 0 in every channel, got \[0\. 1\.\]$"),
    ],
)
def test_normalize_names_the_bad_statistics(mean, std, match):
    with pytest.raises(ValueError, match=match):
        S.normalize(np.zeros((1, 2, 2, 2)), mean, std)


def test_images_that_are_not_4d_are_named():
    for fn in (S.normalization_stats, lambda X: S.normalize(X, [0.0] * 3, [1.0] * 3)):
        with pytest.raises(
            ValueError, match=r"^X must be 4-D \(N, C, H, W\), got 3-D with shape \(2, 3, 4\)$"
        ):
            fn(np.zeros((2, 3, 4)))


def test_statistics_that_are_not_numbers_are_named():
    X = np.zeros((1, 2, 2, 2))
    with pytest.raises(
        TypeError, match=r"^mean must hold real numbers \(float or int\), got dtype <U1 "
    ):
        S.normalize(X, ["a", "b"], [1.0, 1.0])
    with pytest.raises(
        TypeError, match=r"^std must hold real numbers \(float or int\), got dtype <U1 "
    ):
        S.normalize(X, [0.0, 0.0], ["a", "b"])


def test_make_loaders_defaults_and_the_length_message(splits):
    plain, explicit = L.make_loaders(splits), L.make_loaders(splits, batch_size=64, seed=0)
    assert plain["train"].batch_size == 64 and plain["train"].num_workers == 0
    np.testing.assert_array_equal(
        _all(plain["train"])[1].numpy(), _all(explicit["train"])[1].numpy()
    )
    with pytest.raises(ValueError, match=r"^X and y must have the same batch size, got 2 and 3 "):
        L.check_images_and_labels(torch.zeros(2, 1, 2, 2), torch.zeros(3, dtype=torch.int64))
