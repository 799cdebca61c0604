"""``$COURSEKIT_DATA_SOURCES``: the full data sets from another server, still md5-verified.

A classroom mirror, a shared folder (``file://``) or the test suite's fixtures
replace torchvision's servers through a JSON file; nothing is monkeypatched
here, so these tests run the same code as a learner's download.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from full_mode_fixtures import serve_fixtures, write_fixtures

from coursekit import datasets
from coursekit.download import SOURCES_ENV, DataSource, data_sources


def _write(tmp_path, config) -> str:
    path = tmp_path / "sources.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return str(path)


def test_no_variable_means_no_sources(monkeypatch):
    monkeypatch.delenv(SOURCES_ENV, raising=False)
    assert data_sources() == {}


def test_a_config_is_read_with_slashes_added_and_md5s_in_lower_case(tmp_path, monkeypatch):
    md5 = "0123456789ABCDEF0123456789ABCDEF"
    config = {
        "mnist": {"mirrors": ["http://mirror/mnist", "file:///srv/mnist/"]},
        "cifar10": {"mirrors": ["http://mirror/c/"], "md5": {"data_batch_1": md5}},
    }
    monkeypatch.setenv(SOURCES_ENV, _write(tmp_path, config))
    assert data_sources() == {
        "mnist": DataSource("mnist", ("http://mirror/mnist/", "file:///srv/mnist/"), {}),
        "cifar10": DataSource("cifar10", ("http://mirror/c/",), {"data_batch_1": md5.lower()}),
    }


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ("{not json", ValueError, r"is not valid JSON"),
        ([], ValueError, r"must hold a JSON object keyed by data set name, got list"),
        ({"svhn": {"mirrors": ["http://m/"]}}, ValueError, r"'svhn' is not a full data set"),
        ({"mnist": {"url": "http://m/"}}, ValueError, r"'mnist' must be an object with 'mirrors'"),
        ({"mnist": {"mirrors": []}}, ValueError, r"'mirrors' must be a non-empty list of URLs"),
        ({"mnist": {"mirrors": "http://m/"}}, ValueError, r"'mirrors' must be a non-empty list"),
        (
            {"mnist": {"mirrors": ["http://m/"], "md5": {"train.gz": "0" * 32}}},
            ValueError,
            r"'mnist' has no file 'train\.gz', expected one of \['train-images-idx3-ubyte\.gz'",
        ),
        (
            {"cifar10": {"mirrors": ["http://m/"], "md5": {"test_batch": "abc"}}},
            ValueError,
            r"md5 of 'test_batch' must be 32 hexadecimal digits, got 'abc'",
        ),
    ],
)
def test_a_bad_config_says_what_is_wrong(tmp_path, monkeypatch, config, error, match):
    monkeypatch.setenv(SOURCES_ENV, _write(tmp_path, config))
    with pytest.raises(error, match=match) as info:
        data_sources()
    assert SOURCES_ENV in str(info.value)


def test_a_missing_config_file_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.json"
    monkeypatch.setenv(SOURCES_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=rf"{SOURCES_ENV}=.*must name a JSON file"):
        datasets.load_dataset("mnist", root=tmp_path / "full")


def test_mnist_and_cifar10_come_from_the_configured_server(tmp_path, monkeypatch):
    with serve_fixtures(tmp_path, n_train=50, n_test=20) as sources:
        monkeypatch.setenv(SOURCES_ENV, str(sources))
        root = tmp_path / "full"
        mnist = datasets.load_dataset("mnist", root=root, val_fraction=0.2)
        cifar = datasets.load_dataset("cifar10", root=root, val_fraction=0.2)
    assert [len(y) for _, y in (mnist.train, mnist.val, mnist.test)] == [40, 10, 20]
    assert [len(y) for _, y in (cifar.train, cifar.val, cifar.test)] == [40, 10, 20]
    assert cifar.image_shape == (3, 32, 32) and cifar.classes == datasets.CIFAR10_CLASSES
    # the server is gone: the verified files on disk are used, nothing is downloaded
    again = datasets.load_dataset("cifar10", root=root, val_fraction=0.2, download=False)
    np.testing.assert_array_equal(again.train[0], cifar.train[0])


def test_a_shared_folder_works_as_a_file_url(tmp_path, monkeypatch):
    config = write_fixtures(tmp_path / "share", n_train=50, n_test=10)
    config["fashion_mnist"]["mirrors"] = [(tmp_path / "share" / "fashion_mnist").as_uri()]
    monkeypatch.setenv(SOURCES_ENV, _write(tmp_path, {"fashion_mnist": config["fashion_mnist"]}))
    splits = datasets.load_dataset("fashion_mnist", root=tmp_path / "full", val_fraction=0.2)
    assert len(splits.test[1]) == 10 and splits.classes[9] == "Ankle boot"


def test_a_wrong_checksum_in_the_config_is_caught(tmp_path, monkeypatch):
    with serve_fixtures(tmp_path, n_train=50, n_test=10) as sources:
        config = json.loads(sources.read_text())
        real = config["mnist"]["md5"]["train-labels-idx1-ubyte.gz"]
        config["mnist"]["md5"]["train-labels-idx1-ubyte.gz"] = "0" * 32
        monkeypatch.setenv(SOURCES_ENV, _write(tmp_path, config))
        pattern = (
            rf"checksum mismatch for train-labels-idx1-ubyte\.gz: expected md5 0{{32}}, got {real}"
        )
        with pytest.raises(datasets.ChecksumError, match=pattern):
            datasets.load_dataset("mnist", root=tmp_path / "full")
    raw = tmp_path / "full" / "MNIST" / "raw"
    assert not (raw / "train-labels-idx1-ubyte.gz").exists()
    assert not [p for p in raw.iterdir() if re.search(r"\.part$|extract", p.name)]
