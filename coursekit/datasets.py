"""Data for the course: one place to import the shipped digits, the full data sets, splits and loaders.

The code lives in modules named for their concept; every name is importable
from here, as the notebooks do:

* :mod:`coursekit.shipped`: the data that ships with the course (works offline):
  ``data/mnist5k.npz`` (5,000 real MNIST digits, 28x28), ``data/digits8x8.npz``
  (scikit-learn's 1,797 8x8 digits) and a few photographs in ``data/images/``.
  See ``data/README.md``.
* :mod:`coursekit.download`: the full data sets (MNIST, Fashion-MNIST,
  CIFAR-10), fetched with :func:`download_and_verify` from the URLs and md5
  checksums in torchvision's own resource tables (or a mirror configured with
  ``$COURSEKIT_DATA_SOURCES``), extracted where torchvision looks, then read by
  the real ``torchvision.datasets`` classes.
* :mod:`coursekit.splits`: class names, :class:`Splits`, stratified splitting.
* :mod:`coursekit.standardization`: per-channel statistics and standardisation.
* :mod:`coursekit.loaders`: PyTorch DataLoaders and NumPy views of a :class:`Splits`.

:func:`load_dataset`, defined here, picks a source by name. Every loader
returns a :class:`Splits` of NCHW ``float32`` images in [0, 1] and ``int64``
labels. Validation and test sets are stratified (each class keeps its share)
and the split is a pure function of ``seed``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from coursekit._validate import (
    check_in,
    check_nonneg_int,
    check_positive,
    check_positive_int,
    check_probability,
)
from coursekit.download import (
    ChecksumError,
    DownloadError,
    download_and_verify,
    download_dataset,
    load_full_pools,
    md5sum,
)
from coursekit.loaders import ImageTensorDataset, as_numpy, check_images_and_labels, make_loaders
from coursekit.shipped import data_dir, list_sample_images, load_digits, load_sample_image
from coursekit.splits import (
    CIFAR10_CLASSES,
    CLASS_NAMES,
    DIGIT_CLASSES,
    FASHION_MNIST_CLASSES,
    Splits,
    _check_image_args,
    _make_splits,
    _stratified_split,
    _stratified_subset,
)
from coursekit.standardization import normalization_stats, normalize

__all__ = [
    "DIGIT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "CLASS_NAMES",
    "DATASETS",
    "DownloadError",
    "ChecksumError",
    "Splits",
    "ImageTensorDataset",
    "check_images_and_labels",
    "data_dir",
    "load_digits",
    "load_dataset",
    "download_dataset",
    "download_and_verify",
    "md5sum",
    "normalization_stats",
    "normalize",
    "make_loaders",
    "as_numpy",
    "load_sample_image",
    "list_sample_images",
]

DATASETS = ("digits", "digits8x8", "mnist", "fashion_mnist", "cifar10")


def load_dataset(
    name: str = "digits",
    root: str | os.PathLike | None = None,
    download: bool = True,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    *,
    test_fraction: float = 0.2,
    image_size: int | None = None,
    channels: int | None = None,
    resize: str = "auto",
    timeout: float = 30,
) -> Splits:
    """Load a data set by name: the shipped default or a full torchvision data set.

    Parameters
    ----------
    name : {"digits", "digits8x8", "mnist", "fashion_mnist", "cifar10"}
        ``"digits"`` is the shipped 5,000-image MNIST subset (offline default).
    root : path, optional
        Folder for the full data sets (default ``data_dir() / "full"``).
    download : bool
        Download missing full data sets (md5-verified; from torchvision's servers
        or the mirrors that ``$COURSEKIT_DATA_SOURCES`` configures, see
        :func:`coursekit.download.data_sources`).
    val_fraction : float
        Share of the training pool held out for validation (stratified).
    seed : int
        Seeds the splits and the ``limit`` subsets.
    limit : int, optional
        Quick runs: a stratified subset of at most ``limit`` images of the shipped
        set, or of each official split (train pool, test) of a full data set.
    test_fraction : float
        Test share, only for the shipped sets (the full ones have an official test set).
    image_size, channels, resize
        As in :func:`load_digits`; ``channels=None`` keeps the native number
        (1 for digits, 3 for CIFAR-10), 1 turns colour into grey.
    timeout : float
        Seconds to wait for a download server.

    Returns
    -------
    Splits
        ``X`` of shape (N, C, H, W) float32 in [0, 1], ``y`` of shape (N,) int64.
    """
    check_in(name, DATASETS, "name")
    if name in ("digits", "digits8x8"):
        return load_digits(
            "mnist5k" if name == "digits" else "digits8x8",
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
            image_size=image_size,
            channels=1 if channels is None else channels,
            limit=limit,
            resize=resize,
        )
    val_fraction = check_probability(val_fraction, "val_fraction")
    seed = check_nonneg_int(seed, "seed")
    if limit is not None:
        limit = check_positive_int(limit, "limit")
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    timeout = check_positive(timeout, "timeout")
    _check_image_args(image_size, channels, resize)
    root = Path(root) if root is not None else data_dir() / "full"

    (train_images, train_labels), (test_images, test_labels) = load_full_pools(
        name, root, download, timeout
    )
    rng = np.random.default_rng(seed)
    keep = _stratified_subset(train_labels, limit, rng)
    train_images, train_labels = train_images[keep], train_labels[keep]
    keep = _stratified_subset(test_labels, limit, rng)
    test_images, test_labels = test_images[keep], test_labels[keep]
    val, train = _stratified_split(train_labels, [round(len(train_labels) * val_fraction)], rng)
    pools = [
        (train_images[train], train_labels[train]),
        (train_images[val], train_labels[val]),
        (test_images, test_labels),  # official test set, in its own order
    ]
    h = train_images.shape[2]
    mode = resize
    if resize == "auto":
        digits_like = name != "cifar10" and (image_size is None or image_size >= h)
        mode = "pad" if digits_like else "interpolate"
    return _make_splits(pools, 255, CLASS_NAMES[name], name, image_size, channels, mode)
