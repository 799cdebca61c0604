"""Batch and layer normalisation in NumPy (notebook 05).

Batch norm normalises each channel with the mean and variance of the current
mini-batch of K values (both over the mini-batch, 1/K, not over the data set):

    x_hat = (x - mu_B) / sqrt(var_B + eps),    out = gamma * x_hat + beta

At evaluation time it uses running averages collected during training, updated
exactly like ``torch.nn.BatchNorm``: ``running = (1 - momentum) running +
momentum * batch_stat``, with the *unbiased* batch variance (K / (K - 1)) for
``running_var``. Layer norm uses the same formula with statistics per example,
over the last axes, and has no running averages.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_ndim,
    check_positive,
    check_positive_int,
    check_probability,
    check_shape,
)
from coursekit.base import Layer

__all__ = [
    "batchnorm_forward",
    "batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
]


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) -> (1, C, 1, ..., 1) so it lines up with axis 1 of an ndim-D input."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _channel_sum(*arrays: np.ndarray) -> np.ndarray:
    """Per channel (axis 1), the sum of ``a`` or of the product ``a * b``, of shape (C,).

    einsum multiplies and adds in one pass without building the product array,
    and sums 3-4x faster than ``a.sum(axis=(0, 2, 3))`` here.
    """
    a = arrays[0]
    shape = (a.shape[0], a.shape[1], int(np.prod(a.shape[2:])))  # (N, C, L); N may be 0
    subscripts = ",".join(["ncl"] * len(arrays)) + "->c"
    return np.einsum(subscripts, *(v.reshape(shape) for v in arrays))


def _check_running(v: Any, name: str, c: int) -> np.ndarray | None:
    if v is None:
        return None
    if not isinstance(v, np.ndarray) or not np.issubdtype(v.dtype, np.floating):
        raise TypeError(
            f"{name} must be a float ndarray of shape ({c},) (it is updated in place), got {v!r}"
        )
    check_shape(v, (c,), name, f"(one per channel of x, {c} channels)")
    return v


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[np.ndarray, tuple]:
    """Batch normalisation, per feature / channel (axis 1).

    Parameters
    ----------
    x : ndarray of shape (N, C), (N, C, L) or (N, C, H, W)
        Statistics are taken over every axis except 1 (K = N, N*L or N*H*W values).
    gamma, beta : ndarray of shape (C,)
    running_mean, running_var : ndarray of shape (C,) or None
        Updated in place in training mode; used instead of the batch statistics
        in eval mode. ``None`` means no running statistics (always batch stats).
    training : bool
    momentum : float in [0, 1]
    eps : float > 0, added to the variance inside the square root

    Returns
    -------
    out : ndarray of the shape of x
    cache : tuple for ``batchnorm_backward``
    """
    x = as_float_array(x, "x")
    check_ndim(x, (2, 3, 4), "x", "(N, C), (N, C, L) or (N, C, H, W)")
    c = x.shape[1]
    gamma = as_float_array(gamma, "gamma")
    beta = as_float_array(beta, "beta")
    why = f"(one per channel of x, axis 1 of shape {x.shape})"
    check_shape(gamma, (c,), "gamma", why)
    check_shape(beta, (c,), "beta", why)
    running_mean = _check_running(running_mean, "running_mean", c)
    running_var = _check_running(running_var, "running_var", c)
    training = check_bool(training, "training")
    momentum = check_probability(momentum, "momentum", allow_one=True)
    eps = check_positive(eps, "eps")
    k = x.shape[0] * math.prod(x.shape[2:])  # values per channel (also when C = 0)
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        if k < 2:
            raise ValueError(
                f"batch norm in training mode needs more than 1 value per channel, got x of "
                f"shape {x.shape}; use a larger batch or eval()"
            )
        # Every pass over a full-size array (4 MB in the benchmark) costs about as
        # much as its arithmetic, and every new temporary adds one: so the centred
        # x is built once, its squares are summed without a squared copy (x.var
        # would build two temporaries), and it is normalised in place.
        mean = _channel_sum(x) / k
        x_hat = x - _per_channel(mean, x.ndim)
        var = _channel_sum(x_hat, x_hat) / k  # biased (1/K): what normalises the batch
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= _per_channel(inv_std, x.ndim)  # mean, var and x share one dtype
        if training and running_mean is not None and running_var is not None:
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean
            running_var *= 1.0 - momentum
            running_var += momentum * var * (k / (k - 1))  # unbiased, like torch
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        x_hat = (x - _per_channel(running_mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    out = np.multiply(x_hat, _per_channel(gamma, x.ndim), dtype=np.result_type(x_hat, gamma, beta))
    out += _per_channel(beta, x.ndim)
    return out, (x_hat, gamma, inv_std, use_batch)


def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``batchnorm_forward``, with the compact formula.

    In training mode each x_hat depends on the whole batch through mu and var;
    working through the chain rule collapses to

        dx = gamma / (K sqrt(var + eps)) * (K dout - sum(dout) - x_hat * sum(dout * x_hat))

    (sums over the K values of a channel). In eval mode the statistics are
    constants and ``dx = gamma * dout / sqrt(running_var + eps)``.

    Parameters
    ----------
    dout : ndarray of the shape of x
    cache : from ``batchnorm_forward``

    Returns
    -------
    dx : ndarray of the shape of x
    dgamma, dbeta : ndarray of shape (C,)
    """
    x_hat, gamma, inv_std, use_batch = cache
    dout = as_float_array(dout, "dout")
    check_shape(dout, x_hat.shape, "dout")
    nd = x_hat.ndim
    dbeta = _channel_sum(dout)
    dgamma = _channel_sum(dout, x_hat)
    scale = _per_channel(gamma * inv_std, nd)
    if not use_batch:
        return dout * scale, dgamma, dbeta
    k = x_hat.shape[0] * math.prod(x_hat.shape[2:])
    # the formula above as one new array updated in place (4 passes, no temporaries);
    # its dtype is the one the whole expression would promote to
    dtype = np.result_type(dout, x_hat, scale)
    dx = x_hat * _per_channel((-dgamma / k).astype(dtype, copy=False), nd)
    dx += dout
    dx -= _per_channel(dbeta / k, nd)
    dx *= scale
    return dx, dgamma, dbeta


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, tuple]:
    """Layer normalisation over the last ``gamma.ndim`` axes, like ``F.layer_norm``.

    Parameters
    ----------
    x : ndarray of shape (..., *S)
    gamma, beta : ndarray of shape S (the normalized_shape)
    eps : float > 0

    Returns
    -------
    out : ndarray of the shape of x
    cache : tuple for ``layernorm_backward``
    """
    x = as_float_array(x, "x")
    gamma = as_float_array(gamma, "gamma")
    beta = as_float_array(beta, "beta")
    if gamma.shape != beta.shape:
        raise ValueError(
            f"gamma and beta must have the same shape, got {gamma.shape} and {beta.shape}"
        )
    m = gamma.ndim
    if m == 0 or x.ndim < m or x.shape[x.ndim - m :] != gamma.shape:
        raise ValueError(
            f"x of shape {x.shape} must end with the normalized shape {gamma.shape} of gamma"
        )
    eps = check_positive(eps, "eps")
    axes = tuple(range(x.ndim - m, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, axes)


def layernorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``layernorm_forward``: batch norm's formula, per example.

    Parameters
    ----------
    dout : ndarray of the shape of x
    cache : from ``layernorm_forward``

    Returns
    -------
    dx : ndarray of the shape of x
    dgamma, dbeta : ndarray of the normalized shape S
    """
    x_hat, gamma, inv_std, axes = cache
    dout = as_float_array(dout, "dout")
    check_shape(dout, x_hat.shape, "dout")
    lead = tuple(range(x_hat.ndim - len(axes)))
    dbeta = dout.sum(axis=lead)
    dgamma = (dout * x_hat).sum(axis=lead)
    dx_hat = dout * gamma
    d = int(np.prod([x_hat.shape[a] for a in axes]))
    dx = (inv_std / d) * (
        d * dx_hat
        - dx_hat.sum(axis=axes, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=axes, keepdims=True)
    )
    return dx, dgamma, dbeta


class _BatchNorm(Layer):
    _ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_positive(eps, "eps")
        self.momentum = check_probability(momentum, "momentum", allow_one=True)
        self.params["gamma"] = np.ones(self.num_features)
        self.params["beta"] = np.zeros(self.num_features)
        self.running_mean = np.zeros(self.num_features)
        self.running_var = np.ones(self.num_features)
        self._init_grads()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x : (N, C, ...) -> out of the same shape."""
        x = as_float_array(x, "x")
        check_ndim(x, self._ndims, "x", self._layout)
        if x.shape[1] != self.num_features:
            # blame the input, not gamma: the layer was built for num_features channels
            raise ValueError(
                f"x must have {self.num_features} channels (axis 1) for "
                f"{type(self).__name__}({self.num_features}), got x of shape {x.shape}"
            )
        out, self._cache = batchnorm_forward(
            x,
            self.params["gamma"],
            self.params["beta"],
            self.running_mean,
            self.running_var,
            self.training,
            self.momentum,
            self.eps,
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, self.grads["gamma"], self.grads["beta"] = batchnorm_backward(
            dout, self._require_cache()
        )
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm for (N, C) features or (N, C, L) sequences; params gamma, beta of shape (C,)."""

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm for (N, C, H, W) images: statistics per channel over N, H and W."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"


class LayerNorm(Layer):
    """Layer norm over the last axes, of shape ``normalized_shape`` (also gamma's and beta's)."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5):
        super().__init__()
        shape = (
            (normalized_shape,)
            if not isinstance(normalized_shape, (tuple, list))
            else normalized_shape
        )
        self.normalized_shape = tuple(check_positive_int(s, "normalized_shape") for s in shape)
        self.eps = check_positive(eps, "eps")
        self.params["gamma"] = np.ones(self.normalized_shape)
        self.params["beta"] = np.zeros(self.normalized_shape)
        self._init_grads()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x : (..., *normalized_shape) -> out of the same shape."""
        out, self._cache = layernorm_forward(x, self.params["gamma"], self.params["beta"], self.eps)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, self.grads["gamma"], self.grads["beta"] = layernorm_backward(
            dout, self._require_cache()
        )
        return dx

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
