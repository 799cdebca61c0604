"""Per-channel standardisation of images: statistics from the training split, then ``(X - mean) / std``.

(Not to be confused with :mod:`coursekit.normalization`, the batch and layer
normalisation *layers*.)
"""

from __future__ import annotations

import numpy as np

from coursekit._validate import as_float_array, check_ndim, check_shape

__all__ = ["normalization_stats", "normalize"]


def normalization_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of a set of images.

    Compute them on the training split only: using validation or test images
    would leak information about them into training.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W)

    Returns
    -------
    mean, std : ndarray of shape (C,), float64
        Over all images and pixels of each channel (population std, ddof=0).
    """
    X = as_float_array(X, "X")
    check_ndim(X, 4, "X", "(N, C, H, W)")
    if X.shape[0] == 0:
        raise ValueError(f"X must hold at least one image, got shape {X.shape}")
    # accumulate in float64: a float32 sum over millions of pixels loses digits
    mean = X.mean(axis=(0, 2, 3), dtype=np.float64)
    std = X.std(axis=(0, 2, 3), dtype=np.float64)
    return mean, std


def normalize(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise each channel: ``(X - mean[c]) / std[c]``.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W)
    mean, std : ndarray of shape (C,)

    Returns
    -------
    ndarray of shape (N, C, H, W), same float dtype as ``X`` (float64 for int input).
    """
    X = as_float_array(X, "X")
    check_ndim(X, 4, "X", "(N, C, H, W)")
    mean = as_float_array(mean, "mean")
    std = as_float_array(std, "std")
    check_shape(mean, (X.shape[1],), "mean")
    check_shape(std, (X.shape[1],), "std")
    if np.any(std <= 0):
        raise ValueError(f"std must be > 0 in every channel, got {std}")
    m = mean.astype(X.dtype)[None, :, None, None]
    s = std.astype(X.dtype)[None, :, None, None]
    return (X - m) / s
