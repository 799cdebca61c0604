"""A small colour image set cut from the shipped photographs.

The course ships no colour data set (CIFAR-10 is a download), yet what a CNN
learns from colour images is worth seeing without one. ``load_photo_crops``
cuts small square crops out of the colour photographs in ``data/images/`` and
labels every crop with the photograph it came from: "which photograph is this
patch from?" is a real, if easy, colour classification problem, small enough to
train a CNN on in seconds.

Each photograph is divided into a grid of square tiles, and every tile belongs
to one split (train, validation or test): crops are taken inside one tile, so
no pixel appears in two splits and the validation and test crops show parts of
the photographs the network never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coursekit._validate import check_positive_int, check_seed
from coursekit.datasets import Splits, list_sample_images, load_sample_image

__all__ = ["COLOUR_PHOTOS", "crop_boxes", "load_photo_crops"]

# the shipped colour photographs (camera.png is grey)
COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee")
SPLITS = ("train", "val", "test")


def _check_photos(photos: Sequence[str]) -> tuple[str, ...]:
    if isinstance(photos, str) or not isinstance(photos, Sequence):
        raise TypeError(f"photos must be a sequence of photograph names, got {photos!r}")
    photos = tuple(photos)
    known = list_sample_images()
    for name in photos:
        if name not in known:
            raise ValueError(f"photos must name shipped photographs {known}, got {name!r}")
    if len(photos) < 2 or len(set(photos)) != len(photos):
        raise ValueError(f"photos must name at least two different photographs, got {photos}")
    return photos


def _check_counts(counts: Sequence[int]) -> tuple[int, int, int]:
    if isinstance(counts, str) or not isinstance(counts, Sequence) or len(counts) != 3:
        raise TypeError(f"per_class must be (train, val, test) counts, got {counts!r}")
    return tuple(check_positive_int(n, f"per_class[{i}]") for i, n in enumerate(counts))


def crop_boxes(
    shape: tuple[int, int],
    size: int,
    per_split: tuple[int, int, int],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Top-left corners of random ``size`` x ``size`` crops of one photograph, by split.

    The photograph of height and width ``shape`` is cut into a grid of square
    tiles of side ``size + size // 4``; the tiles are shuffled and dealt to the
    splits in the proportions 60 : 20 : 20 (at least one tile each). Each crop
    lies inside one tile of its split, at a random offset.

    Returns
    -------
    dict mapping "train", "val", "test" to int arrays of shape (n, 2): (top, left)
    """
    tile = size + size // 4
    rows, cols = shape[0] // tile, shape[1] // tile
    if rows * cols < 3:
        raise ValueError(
            f"size must leave at least 3 tiles of {tile}x{tile} in a {shape[0]}x{shape[1]} "
            f"photograph, got size {size}"
        )
    order = rng.permutation(rows * cols)
    n_val = n_test = max(1, round(0.2 * len(order)))
    cuts = [len(order) - n_val - n_test, len(order) - n_test]
    tiles = dict(zip(SPLITS, np.split(order, cuts), strict=True))
    boxes = {}
    for split, n in zip(SPLITS, per_split, strict=True):
        chosen = rng.choice(tiles[split], size=n)  # tile index of every crop
        offsets = rng.integers(0, tile - size + 1, size=(n, 2))
        boxes[split] = np.stack([chosen // cols, chosen % cols], axis=1) * tile + offsets
    return boxes


def load_photo_crops(
    size: int = 32,
    per_class: Sequence[int] = (300, 100, 100),
    photos: Sequence[str] = COLOUR_PHOTOS,
    seed: int = 0,
) -> Splits:
    """Colour crops of the shipped photographs, labelled by photograph.

    Parameters
    ----------
    size : int
        Side of the square crops in pixels (the photographs are about 256x170).
    per_class : (int, int, int)
        Number of train, validation and test crops from each photograph.
    photos : sequence of str
        The photographs, one class each (default: the three colour ones).
    seed : int
        Seed of the tile assignment and the crop positions.

    Returns
    -------
    Splits
        ``X`` of shape (N, 3, size, size), float32 in [0, 1]; ``classes`` are the
        photographs' names.
    """
    size = check_positive_int(size, "size")
    per_class = _check_counts(per_class)
    photos = _check_photos(photos)
    rng = np.random.default_rng(check_seed(seed))
    parts = {split: ([], []) for split in SPLITS}
    for label, name in enumerate(photos):
        image = load_sample_image(name)  # (H, W, 3) or (H, W)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        boxes = crop_boxes(image.shape[:2], size, per_class, rng)
        for split in SPLITS:
            crops = [image[t : t + size, left : left + size] for t, left in boxes[split]]
            parts[split][0].append(np.stack(crops).transpose(0, 3, 1, 2))  # (n, 3, size, size)
            parts[split][1].append(np.full(len(crops), label))
    shuffled = {}
    for split, (xs, ys) in parts.items():
        X, y = np.concatenate(xs), np.concatenate(ys)
        order = rng.permutation(len(y))
        shuffled[split] = (X[order].astype(np.float32), y[order])
    return Splits(**shuffled, classes=list(photos), name=f"photo crops ({size}x{size})")
