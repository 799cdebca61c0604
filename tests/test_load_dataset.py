"""coursekit.datasets.load_dataset: the choice of source, its arguments, and what it makes of a full data set.

The full data sets are the fixtures of full_mode_fixtures.py, downloaded once
from a server on 127.0.0.1 by coursekit's own code; the tests then read them
with ``download=False``.
"""

from __future__ import annotations

import numpy as np
import pytest
from full_mode_fixtures import serve_fixtures

from coursekit import datasets as ds
from coursekit.download import SOURCES_ENV
from coursekit.splits import _resize

N_TRAIN, N_TEST = 50, 30


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """The folder of the downloaded full data sets, and the sources file that names their md5s."""
    folder = tmp_path_factory.mktemp("load-dataset")
    with pytest.MonkeyPatch.context() as mp, serve_fixtures(folder, N_TRAIN, N_TEST) as sources:
        mp.setenv(SOURCES_ENV, str(sources))
        for name in ("mnist", "fashion_mnist", "cifar10"):
            ds.download_dataset(name, root=folder / "full")
    return folder / "full", sources


@pytest.fixture
def root(fixtures, monkeypatch):
    # the server is gone; the sources file still gives the fixtures' CIFAR-10 batch md5s
    monkeypatch.setenv(SOURCES_ENV, str(fixtures[1]))
    return fixtures[0]


def _load(root, name="mnist", **kwargs):
    return ds.load_dataset(name, root=root, download=False, **kwargs)


def _rows(X):
    return [x.tobytes() for x in X]


def test_the_training_pool_is_split_by_val_fraction_and_the_test_set_kept(root):
    s = _load(root, val_fraction=0.15)  # 50 * 0.15 = 7.5, rounded to 8
    assert [len(y) for _, y in (s.train, s.val, s.test)] == [42, 8, N_TEST]
    assert s.name == "mnist" and s.classes == ds.DIGIT_CLASSES and s.image_shape == (1, 28, 28)
    none = _load(root, "fashion_mnist", val_fraction=0.0)
    assert [len(y) for _, y in (none.train, none.val, none.test)] == [50, 0, N_TEST]
    assert none.name == "fashion_mnist" and none.classes == ds.FASHION_MNIST_CLASSES
    assert not np.array_equal(none.test[0], s.test[0])  # the fixtures differ
    whole = _load(root, val_fraction=0.0)
    assert sorted(_rows(whole.train[0])) == sorted(_rows(np.concatenate([s.train[0], s.val[0]])))


def test_the_split_depends_on_the_seed_and_the_test_set_does_not(root):
    a, b, c = _load(root, seed=3), _load(root, seed=3), _load(root, seed=4)
    np.testing.assert_array_equal(a.val[0], b.val[0])
    assert not np.array_equal(a.val[0], c.val[0])
    np.testing.assert_array_equal(a.test[0], c.test[0])
    np.testing.assert_array_equal(a.test[1], c.test[1])


def test_a_limit_takes_stratified_subsets_of_both_pools_in_order(root):
    full = _load(root, val_fraction=0.0)
    s = _load(root, limit=20, val_fraction=0.0)
    assert [len(y) for _, y in (s.train, s.val, s.test)] == [20, 0, 20]
    assert np.bincount(s.train[1], minlength=10).tolist() == [2] * 10
    assert np.bincount(s.test[1], minlength=10).tolist() == [2] * 10
    # the test subset keeps the official order
    position = {row: i for i, row in enumerate(_rows(full.test[0]))}
    order = [position[row] for row in _rows(s.test[0])]
    assert order == sorted(order)
    assert set(_rows(s.train[0])) <= set(_rows(full.train[0]))
    other = _load(root, limit=20, val_fraction=0.0, seed=1)
    assert not np.array_equal(other.test[0], s.test[0])


def test_auto_pads_digits_and_interpolates_what_must_shrink_or_is_colour(root):
    plain = _load(root)
    padded = _load(root, image_size=32)
    np.testing.assert_array_equal(padded.test[0][:, :, 2:30, 2:30], plain.test[0])
    assert padded.test[0][:, :, :2].max() == 0 and padded.test[0][:, :, :, 30:].max() == 0
    shrunk = _load(root, image_size=20)
    np.testing.assert_array_equal(shrunk.test[0], _resize(plain.test[0], 20, "interpolate"))
    stretched = _load(root, image_size=32, resize="interpolate")
    np.testing.assert_array_equal(stretched.test[0], _resize(plain.test[0], 32, "interpolate"))
    cifar = _load(root, "cifar10")
    assert cifar.image_shape == (3, 32, 32) and cifar.classes == ds.CIFAR10_CLASSES
    big = _load(root, "cifar10", image_size=40)
    np.testing.assert_array_equal(big.test[0], _resize(cifar.test[0], 40, "interpolate"))
    boxed = _load(root, "cifar10", image_size=40, resize="pad")
    np.testing.assert_array_equal(boxed.test[0][:, :, 4:36, 4:36], cifar.test[0])
    grey = _load(root, "cifar10", channels=1)
    assert grey.image_shape == (1, 32, 32)


def test_the_full_data_sets_default_to_the_data_folder(root, tmp_path, monkeypatch):
    (tmp_path / "full").symlink_to(root, target_is_directory=True)
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    s = ds.load_dataset("mnist", download=False)
    np.testing.assert_array_equal(s.test[0], _load(root).test[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_fraction": 1.0}, ValueError, r"^val_fraction must lie in \[0, 1\), got 1\.0$"),
        ({"seed": -1}, ValueError, r"^seed must be an integer >= 0, got -1$"),
        ({"limit": 0}, ValueError, r"^limit must be an integer >= 1, got 0$"),
        ({"download": "yes"}, TypeError, r"^download must be True or False, got 'yes'$"),
        ({"download": 1}, TypeError, r"^download must be True or False, got 1$"),
        ({"timeout": -1}, ValueError, r"^timeout must be a finite number > 0, got -1\.0$"),
        ({"image_size": 0}, ValueError, r"^image_size must be an integer >= 1, got 0$"),
        ({"channels": 2}, ValueError, r"^channels must be one of \[1, 3\], got 2$"),
        (
            {"resize": "crop"},
            ValueError,
            r"^resize must be one of \['auto', 'pad', 'interpolate'\]",
        ),
    ],
)
def test_load_dataset_names_the_bad_argument_before_touching_the_disk(
    tmp_path, kwargs, error, match
):
    with pytest.raises(error, match=match):
        ds.load_dataset("cifar10", root=tmp_path / "full", **kwargs)
    assert not (tmp_path / "full").exists()


def test_the_shipped_sets_take_the_same_arguments_as_load_digits():
    kwargs = dict(
        val_fraction=0.2, test_fraction=0.3, seed=4, limit=100, image_size=12, resize="interpolate"
    )
    a = ds.load_dataset("digits", **kwargs)
    b = ds.load_digits("mnist5k", **kwargs)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, split)[0], getattr(b, split)[0])
        np.testing.assert_array_equal(getattr(a, split)[1], getattr(b, split)[1])
    assert [len(y) for _, y in (a.train, a.val, a.test)] == [50, 20, 30]
    eight = ds.load_dataset("digits8x8", channels=3, limit=60)
    np.testing.assert_array_equal(
        eight.test[0], ds.load_digits("digits8x8", channels=3, limit=60).test[0]
    )
    assert eight.image_shape == (3, 8, 8) and ds.load_dataset("digits8x8").image_shape == (1, 8, 8)
    assert ds.load_dataset().name == "mnist5k"
    padded = ds.load_dataset(
        "digits8x8", image_size=12, resize="pad", limit=60
    )  # auto would interpolate
    np.testing.assert_array_equal(
        padded.test[0][:, :, 2:10, 2:10], ds.load_digits("digits8x8", limit=60).test[0]
    )
