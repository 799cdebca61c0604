"""Labelled image sets: class names, the :class:`Splits` container, stratified splits.

Every loader of the course (:mod:`coursekit.shipped` for the shipped digits,
:func:`coursekit.datasets.load_dataset` for the full data sets) ends here: raw
``uint8`` pools of (N, C, H, W) images are scaled to ``float32`` in [0, 1],
padded or resized, given 1 or 3 channels and packed into a :class:`Splits`.
Validation and test sets are stratified (each class keeps its share) and a
split is a pure function of its random generator's seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from coursekit._validate import (
    check_in,
    check_ndim,
    check_positive_int,
    check_probability,
    check_same_length,
    check_shape,
)

__all__ = [
    "DIGIT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "CLASS_NAMES",
    "Splits",
]

DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CLASS_NAMES = {
    "digits": DIGIT_CLASSES,
    "mnist5k": DIGIT_CLASSES,
    "digits8x8": DIGIT_CLASSES,
    "mnist": DIGIT_CLASSES,
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "cifar10": CIFAR10_CLASSES,
}

# ITU-R BT.601 luma, the weights torchvision's Grayscale transform uses
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------- splits


@dataclass
class Splits:
    """Train, validation and test images with their labels.

    Attributes
    ----------
    train, val, test : tuple (X, y)
        ``X`` ndarray of shape (N, C, H, W), float32 in [0, 1];
        ``y`` ndarray of shape (N,), int64 in [0, num_classes).
    classes : list of str
        Class names, ``classes[k]`` is the name of label ``k``.
    name : str
        Where the data came from (for ``summary``).
    """

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    classes: list[str]
    name: str = ""

    def __post_init__(self) -> None:
        shape = None
        for split in ("train", "val", "test"):
            pair = getattr(self, split)
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"{split} must be a tuple (X, y), got {type(pair).__name__}")
            X = np.ascontiguousarray(pair[0], dtype=np.float32)
            y = np.asarray(pair[1])
            check_ndim(X, 4, f"{split} X", "(N, C, H, W)")
            check_ndim(y, 1, f"{split} y", "(N,)")
            check_same_length(X, y, f"{split} X", f"{split} y")
            if shape is None:
                shape = X.shape[1:]
            check_shape(X, (None, *shape), f"{split} X")
            if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
                raise ValueError(
                    f"{split} y must hold labels in [0, {len(self.classes) - 1}] for "
                    f"{len(self.classes)} classes, got range [{y.min()}, {y.max()}]"
                )
            setattr(self, split, (X, y.astype(np.int64)))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train[0].shape[1:])

    def summary(self) -> str:
        """A few lines: sizes, image shape, pixel range and class balance."""
        c, h, w = self.image_shape
        lo = min(float(X.min()) for X, _ in (self.train, self.val, self.test) if X.size)
        hi = max(float(X.max()) for X, _ in (self.train, self.val, self.test) if X.size)
        lines = [
            f"{self.name or 'data'}: {self.num_classes} classes, images {c}x{h}x{w} (C x H x W), "
            f"pixels in [{lo:.2f}, {hi:.2f}]"
        ]
        for split in ("train", "val", "test"):
            X, y = getattr(self, split)
            counts = np.bincount(y, minlength=self.num_classes)
            per = f"{counts.min()}-{counts.max()} per class" if len(y) else "empty"
            lines.append(f"  {split:5s} {len(y):6d} images ({per})")
        return "\n".join(lines)


def _quota(counts: np.ndarray, total: int) -> np.ndarray:
    """Share ``total`` items among classes in proportion to ``counts`` (largest remainder)."""
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    # hand the leftover items to the classes that lost the most to rounding
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: total - quota.sum()]] += 1
    return quota


def _stratified_split(
    y: np.ndarray, sizes: Sequence[int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Cut the indices of ``y`` into parts of the given sizes plus the rest, class by class.

    Returns ``len(sizes) + 1`` disjoint index arrays, each shuffled; together they
    cover every index once. Each part keeps the class proportions of ``y``.
    """
    classes = np.unique(y)
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    used = np.zeros(len(classes), dtype=np.int64)
    parts = []
    for size in sizes:
        # quota from what is left, so a part never asks a class for more than it has
        q = _quota(np.array([len(p) for p in pools]) - used, size) if size else used * 0
        parts.append(np.concatenate([p[u : u + k] for p, u, k in zip(pools, used, q, strict=True)]))
        used += q
    parts.append(np.concatenate([p[u:] for p, u in zip(pools, used, strict=True)]))
    return [rng.permutation(part) for part in parts]


def _stratified_subset(y: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``limit`` items of ``y``, class proportions kept, original order."""
    if limit is None or limit >= len(y):
        return np.arange(len(y))
    subset, _ = _stratified_split(y, [limit], rng)
    return np.sort(subset)


# --------------------------------------------------------------------------- image shaping


def _to_float(images: np.ndarray, high: int) -> np.ndarray:
    """uint8 images in [0, high] -> float32 in [0, 1]."""
    return images.astype(np.float32) / np.float32(high)


def _resize(X: np.ndarray, image_size: int | None, mode: str) -> np.ndarray:
    """Pad (centred, zeros) or bilinearly resize (N, C, H, W) images to (N, C, S, S)."""
    if image_size is None or X.shape[2:] == (image_size, image_size):
        return X
    h, w = X.shape[2:]
    if mode == "pad":
        if image_size < h or image_size < w:
            raise ValueError(
                f"image_size must be >= the images' size {h}x{w} to pad, got {image_size}; "
                "use resize='interpolate' to shrink"
            )
        top, left = (image_size - h) // 2, (image_size - w) // 2
        out = np.zeros((*X.shape[:2], image_size, image_size), dtype=X.dtype)
        out[:, :, top : top + h, left : left + w] = X
        return out
    # antialias only matters when shrinking: it low-pass filters so small digits do not alias
    t = F.interpolate(
        torch.from_numpy(X),
        size=(image_size, image_size),
        mode="bilinear",
        align_corners=False,
        antialias=image_size < max(h, w),
    )
    return t.clamp_(0.0, 1.0).numpy()


def _set_channels(X: np.ndarray, channels: int | None) -> np.ndarray:
    """Repeat a grey channel 3 times, or turn RGB into grey (BT.601 luma)."""
    c = X.shape[1]
    if channels is None or channels == c:
        return X
    if c == 1 and channels == 3:
        return np.repeat(X, 3, axis=1)
    if c == 3 and channels == 1:
        grey = np.tensordot(_LUMA.astype(np.float32), X, axes=([0], [1]))  # (N, H, W)
        return np.ascontiguousarray(grey[:, None])
    raise ValueError(f"channels must be 1 or 3 for images with {c} channels, got {channels}")


def _check_image_args(image_size, channels, resize) -> None:
    if image_size is not None:
        check_positive_int(image_size, "image_size")
    if channels is not None:
        check_in(channels, (1, 3), "channels")
    check_in(resize, ("auto", "pad", "interpolate"), "resize")


def _make_splits(
    pools: list[tuple[np.ndarray, np.ndarray]],
    high: int,
    classes: list[str],
    name: str,
    image_size: int | None,
    channels: int | None,
    mode: str,
) -> Splits:
    """uint8 (N, C, H, W) pools for train, val, test -> float32 Splits, shaped as asked."""
    out = []
    for images, labels in pools:
        X = _set_channels(_resize(_to_float(images, high), image_size, mode), channels)
        out.append((X, labels.astype(np.int64)))
    return Splits(*out, classes=list(classes), name=name)


def _check_fractions(val_fraction: float, test_fraction: float) -> tuple[float, float]:
    val_fraction = check_probability(val_fraction, "val_fraction")
    test_fraction = check_probability(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "val_fraction + test_fraction must be < 1 so that training data remain, "
            f"got {val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    return val_fraction, test_fraction
