"""PyTorch datasets and loaders for :class:`~coursekit.splits.Splits`, and plain NumPy views of them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from coursekit._validate import check_nonneg_int, check_positive_int, check_same_length
from coursekit.splits import Splits
from coursekit.standardization import normalization_stats, normalize

__all__ = ["check_images_and_labels", "ImageTensorDataset", "make_loaders", "as_numpy"]

# make_loaders has a parameter called ``normalize``, which hides the function there
_standardize = normalize


def check_images_and_labels(X: torch.Tensor, y: torch.Tensor) -> None:
    """Raise a clear error unless X is (N, C, H, W) and y is (N,) integer class labels, N >= 1."""
    if X.ndim != 4:
        raise ValueError(f"X must be 4-D (N, C, H, W), got {X.ndim}-D with shape {tuple(X.shape)}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (N,), got {y.ndim}-D with shape {tuple(y.shape)}")
    check_same_length(X, y, "X", "y")
    if len(X) == 0:
        raise ValueError("X must hold at least one image, got 0")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")


class ImageTensorDataset(Dataset):
    """Images and labels held as tensors, with an optional per-image transform.

    Parameters
    ----------
    X : Tensor of shape (N, C, H, W)
    y : Tensor of shape (N,)
    transform : callable, optional
        Applied to each image tensor of shape (C, H, W) when it is fetched
        (e.g. random crops and flips for training).
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError(
                f"X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}"
            )
        check_images_and_labels(X, y)
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}")
        self.X, self.y, self.transform = X, y, transform
        self.mean: np.ndarray | None = None  # set by make_loaders when it normalises
        self.std: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.X[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[index]


def make_loaders(
    splits: Splits,
    batch_size: int = 64,
    normalize: bool = True,
    train_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    num_workers: int = 0,
    device: str | torch.device | None = None,
) -> dict[str, DataLoader]:
    """PyTorch DataLoaders for the three splits.

    Parameters
    ----------
    splits : Splits
    batch_size : int
    normalize : bool
        Standardise with per-channel statistics of the *training* split; the
        statistics are kept as ``loader.dataset.mean`` / ``.std`` (shape (C,)).
    train_transform : callable, optional
        Per-image augmentation of (C, H, W) tensors, training split only.
    seed : int
        Seeds the shuffling of the training split: same seed, same batches.
    num_workers : int
        Worker processes per loader (0 = load in the main process).
    device : str or torch.device, optional
        Where the batches will go; pinned memory is used only for CUDA
        (default: CUDA if available).

    Returns
    -------
    dict {"train", "val", "test"} of DataLoader
        Batches ``(x, y)``: x of shape (B, C, H, W) float32, y of shape (B,) int64.
    """
    if not isinstance(splits, Splits):
        raise TypeError(f"splits must be a Splits, got {type(splits).__name__}")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    if train_transform is not None and not callable(train_transform):
        raise TypeError(f"train_transform must be callable or None, got {train_transform!r}")
    seed = check_nonneg_int(seed, "seed")
    num_workers = check_nonneg_int(num_workers, "num_workers")
    if device is None:
        pin = torch.cuda.is_available()
    else:
        try:
            pin = torch.device(device).type == "cuda"
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device must be a torch device such as 'cpu', got {device!r}"
            ) from exc

    stats = normalization_stats(splits.train[0]) if normalize else None
    loaders = {}
    for split in ("train", "val", "test"):
        X, y = getattr(splits, split)
        if stats is not None:
            X = _standardize(X, *stats)
        ds = ImageTensorDataset(
            torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
            torch.from_numpy(y),
            train_transform if split == "train" else None,
        )
        if stats is not None:
            ds.mean, ds.std = stats[0].astype(np.float32), stats[1].astype(np.float32)
        is_train = split == "train"
        loaders[split] = DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=is_train,
            # a private generator: the order depends on seed only, not on global RNG state
            generator=torch.Generator().manual_seed(seed) if is_train else None,
            num_workers=num_workers,
            pin_memory=pin,
        )
    return loaders


def as_numpy(
    splits: Splits, flatten: bool = False, dtype: type = np.float64
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The splits as plain NumPy arrays for the NumPy notebooks.

    Parameters
    ----------
    splits : Splits
    flatten : bool
        Return X of shape (N, C*H*W) (e.g. (N, 784) for an MLP) instead of (N, C, H, W).
    dtype : numpy float type
        float64 by default, the NumPy half's convention.

    Returns
    -------
    dict {"train", "val", "test"} of (X, y)
        X of shape (N, C, H, W) or (N, C*H*W); y of shape (N,) int64.
    """
    if not isinstance(splits, Splits):
        raise TypeError(f"splits must be a Splits, got {type(splits).__name__}")
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a float type, got {dtype!r}")
    out = {}
    for split in ("train", "val", "test"):
        X, y = getattr(splits, split)
        X = X.astype(dtype)
        out[split] = (X.reshape(len(X), -1) if flatten else X, y.copy())
    return out
