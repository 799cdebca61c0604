"""Loss-landscape slices along filter-normalised random directions (notebook 08).

Li, Xu, Taylor, Studer and Goldstein, "Visualizing the Loss Landscape of Neural
Nets" (NeurIPS 2018): pick a random direction ``d`` in parameter space, scale
each filter of ``d`` to the norm of the same filter of the trained weights
``theta``, and plot the loss at ``theta + alpha * d`` (a 1-D slice) or at
``theta + alpha * d1 + beta * d2`` (a 2-D slice). Without the per-filter
scaling, the picture would depend on the arbitrary scale of each filter
(batch normalisation makes a filter's scale irrelevant to the function), and
two networks could not be compared.

    d1 = random_direction(model, seed=0)
    alphas = np.linspace(-1, 1, 41)
    losses = loss_along(model, [d1], [alphas], X, y)   # shape (41,)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit._validate import as_float_array, check_labels, check_ndim, check_seed
from coursekit.training import eval_mode

__all__ = ["random_direction", "filter_normalize", "loss_along"]


def filter_normalize(
    direction: Sequence[torch.Tensor], params: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """Scale every filter of ``direction`` to the norm of the same filter of ``params``.

    A "filter" is one slice along the first dimension: one output channel of a
    convolution kernel (C_out, C_in, k, k), one row of a linear layer's weight
    (out, in). One-dimensional parameters (biases, BatchNorm's gamma and beta)
    get a zero direction: Li et al. leave them at their trained values.

    Parameters
    ----------
    direction, params : sequences of Tensor, the same shapes in the same order

    Returns
    -------
    normalised : list of Tensor
        ``d_i * ||theta_i|| / ||d_i||`` filter by filter (0 where ``d_i`` is 0).
    """
    if len(direction) != len(params):
        raise ValueError(
            f"direction must hold one tensor per parameter ({len(params)}), got "
            f"{len(direction)} tensors"
        )
    out = []
    for i, (d, p) in enumerate(zip(direction, params, strict=True)):
        if d.shape != p.shape:
            raise ValueError(
                f"direction[{i}] must have the shape of params[{i}], {tuple(p.shape)}, got "
                f"{tuple(d.shape)}"
            )
        if p.dim() <= 1:
            out.append(torch.zeros_like(d))
            continue
        d_norm = d.flatten(1).norm(dim=1)  # (C_out,): one norm per filter
        p_norm = p.detach().flatten(1).norm(dim=1)
        scale = torch.where(d_norm > 0, p_norm / d_norm.clamp_min(1e-30), torch.zeros_like(d_norm))
        out.append(d * scale.view(-1, *([1] * (d.dim() - 1))))
    return out


def random_direction(model: nn.Module, seed: int = 0) -> list[torch.Tensor]:
    """A Gaussian random direction for ``model``'s parameters, filter-normalised.

    Returns
    -------
    direction : list of Tensor
        One tensor per parameter (``model.parameters()`` order), on the
        parameters' devices.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    gen = torch.Generator().manual_seed(check_seed(seed, for_torch=True))
    params = [p.detach() for p in model.parameters()]
    raw = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
    return filter_normalize(raw, params)


@torch.no_grad()
def loss_along(
    model: nn.Module,
    directions: Sequence[Sequence[torch.Tensor]],
    coords: Sequence[Sequence[float]],
    X: torch.Tensor,
    y: torch.Tensor,
) -> np.ndarray:
    """Cross-entropy of ``model`` at ``theta + sum_k c_k d_k`` on a grid of coordinates.

    The model is evaluated in eval mode (BatchNorm uses its running statistics)
    and its weights are restored afterwards, also on an error.

    Parameters
    ----------
    model : nn.Module
        (N, C, H, W) -> logits (N, K), trained weights ``theta``.
    directions : sequence of 1 or 2 directions (from ``random_direction``)
    coords : sequence of 1-D arrays, one per direction
        The step sizes along each direction, e.g. ``np.linspace(-1, 1, 41)``.
    X : Tensor of shape (N, C, H, W)
    y : Tensor of shape (N,), int64 labels

    Returns
    -------
    losses : ndarray of shape (len(coords[0]),) or (len(coords[0]), len(coords[1]))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if len(directions) not in (1, 2):
        raise ValueError(f"directions must hold one or two directions, got {len(directions)}")
    if len(coords) != len(directions):
        raise ValueError(
            f"coords must hold one coordinate array per direction ({len(directions)}), got "
            f"{len(coords)}"
        )
    for i, c in enumerate(coords):
        c = as_float_array(c, f"coords[{i}]")
        check_ndim(c, 1, f"coords[{i}]", "(steps,)")
        if not np.all(np.isfinite(c)):
            raise ValueError(f"coords[{i}] must hold finite step sizes, got {c.tolist()}")
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(
            f"X and y must be torch.Tensors, got {type(X).__name__} and {type(y).__name__}"
        )
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must have shape ({len(X)},) to match X, got {tuple(y.shape)}")
    check_labels(y, None, "y")
    params = list(model.parameters())
    theta = [p.detach().clone() for p in params]
    grids = [np.asarray(c, dtype=np.float64) for c in coords]
    losses = np.zeros([len(g) for g in grids])
    device = theta[0].device
    X, y = X.to(device), y.to(device)
    try:
        with eval_mode(model):
            for index in np.ndindex(*losses.shape):
                for p, t, *ds in zip(params, theta, *directions, strict=True):
                    step = sum(float(g[i]) * d for g, i, d in zip(grids, index, ds, strict=True))
                    p.copy_(t + step)
                losses[index] = F.cross_entropy(model(X), y).item()
    finally:
        for p, t in zip(params, theta, strict=True):
            p.copy_(t)
    return losses
