"""Layers in NumPy, CS231n style: functional forward/backward pairs and Layer classes.

Functional API: ``name_forward(x, *params, **hyper) -> (out, cache)`` and
``name_backward(dout, cache) -> (dx, dparam1, ...)``, gradients in the order of
the inputs. The cache holds exactly what the backward pass needs.

Layer classes wrap them, with PyTorch's conventions: ``params`` and ``grads``
dicts with the same keys, ``forward`` / ``backward``, ``train()`` / ``eval()``
and ``parameters()`` giving ``(params, grads)`` pairs to a NumPy optimiser.
Weights use torch's layout: a Linear layer computing ``y = A x + b`` with
``x`` in R^N and ``y`` in R^M stores ``A`` as an (M, N) array (out, in), so a
batch is ``Y = X @ A.T + b``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_in,
    check_ndim,
    check_positive_int,
    check_probability,
    check_rng,
    check_shape,
)
from coursekit.activations import (
    leaky_relu,
    leaky_relu_grad,
    prelu,
    prelu_grad,
    relu,
    relu_grad,
    sigmoid,
    tanh,
)
from coursekit.base import RNG, Layer

__all__ = [
    "linear_forward",
    "linear_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "prelu_forward",
    "prelu_backward",
    "flatten_forward",
    "flatten_backward",
    "dropout_forward",
    "dropout_backward",
    "Layer",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "PReLU",
    "Flatten",
    "Dropout",
    "Sequential",
    "Residual",
    "MLP",
]

# ----------------------------------------------------------------------------
# functional layers
# ----------------------------------------------------------------------------


def linear_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None
) -> tuple[np.ndarray, tuple]:
    """Affine layer ``out = x @ w.T + b``.

    Parameters
    ----------
    x : ndarray of shape (N, D_in)
    w : ndarray of shape (D_out, D_in)  (torch layout: y = A x + b has A of shape (M, N))
    b : ndarray of shape (D_out,) or None

    Returns
    -------
    out : ndarray of shape (N, D_out)
    cache : (x, w, has_bias)
    """
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    check_ndim(x, 2, "x", "(N, D_in); use flatten_forward / Flatten for images")
    check_ndim(w, 2, "w", "(D_out, D_in)")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"x has {x.shape[1]} features but w of shape {w.shape} expects D_in = {w.shape[1]} "
            f"(w must be (D_out, D_in))"
        )
    out = x @ w.T
    if b is not None:
        b = as_float_array(b, "b")
        check_shape(b, (w.shape[0],), "b")
        out += b
    return out, (x, w, b is not None)


def linear_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of ``linear_forward``.

    Parameters
    ----------
    dout : ndarray of shape (N, D_out)
    cache : from ``linear_forward``

    Returns
    -------
    dx : ndarray of shape (N, D_in)
    dw : ndarray of shape (D_out, D_in)
    db : ndarray of shape (D_out,), or None without bias
    """
    x, w, has_bias = cache
    dout = as_float_array(dout, "dout")
    check_shape(dout, (x.shape[0], w.shape[0]), "dout")
    dx = dout @ w
    dw = dout.T @ x  # every example adds its own outer product dout_n x_n^T
    db = dout.sum(axis=0) if has_bias else None
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ReLU. x : ndarray of any shape S -> (out of shape S, cache = x)."""
    x = as_float_array(x, "x")
    return relu(x), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dout : ndarray of shape S -> dx of shape S (0 where x <= 0, like torch)."""
    return _elementwise_dout(dout, cache) * relu_grad(cache)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid. x : ndarray of any shape S -> (out of shape S, cache = out)."""
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dout : ndarray of shape S -> dx; uses sigma' = sigma (1 - sigma) from the cached output."""
    return _elementwise_dout(dout, cache) * cache * (1.0 - cache)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tanh. x : ndarray of any shape S -> (out of shape S, cache = out)."""
    out = tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dout : ndarray of shape S -> dx; uses tanh' = 1 - tanh^2 from the cached output."""
    return _elementwise_dout(dout, cache) * (1.0 - cache * cache)


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01) -> tuple[np.ndarray, tuple]:
    """Leaky ReLU. x : ndarray of any shape S -> (out of shape S, cache)."""
    x = as_float_array(x, "x")
    return leaky_relu(x, negative_slope), (x, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dout : ndarray of shape S -> dx of shape S."""
    x, slope = cache
    return _elementwise_dout(dout, x) * leaky_relu_grad(x, slope)


def prelu_forward(x: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, tuple]:
    """PReLU with learned slopes.

    Parameters
    ----------
    x : ndarray of shape (N, C, ...) (any shape when alpha has one element)
    alpha : ndarray of shape (C,) or (1,): one slope per channel (axis 1) or one shared

    Returns
    -------
    out : ndarray of the shape of x
    cache : (x, alpha)
    """
    x = as_float_array(x, "x")
    alpha = as_float_array(alpha, "alpha")
    return prelu(x, alpha), (x, alpha)


def prelu_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of ``prelu_forward``.

    Returns
    -------
    dx : ndarray of the shape of x
    dalpha : ndarray of the shape of alpha
        A slope is shared by a whole channel, so its gradient sums over every
        other axis.
    """
    x, alpha = cache
    dout = _elementwise_dout(dout, x)
    dy_dx, dy_dalpha = prelu_grad(x, alpha)
    if alpha.size == 1:
        dalpha = np.sum(dout * dy_dalpha).reshape(alpha.shape)
    else:
        axes = tuple(a for a in range(x.ndim) if a != 1)
        dalpha = np.sum(dout * dy_dalpha, axis=axes)
    return dout * dy_dx, dalpha


def flatten_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Flatten all but the batch axis: (N, d1, d2, ...) -> (N, d1 * d2 * ...)."""
    x = as_float_array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-D (N, ...), got {x.ndim}-D with shape {x.shape}")
    # the explicit size keeps a zero batch working (reshape(0, -1) cannot infer -1)
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:]))), x.shape


def flatten_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dout : ndarray of shape (N, D) -> dx : ndarray of the original shape (N, d1, d2, ...)."""
    dout = as_float_array(dout, "dout")
    check_shape(dout, (cache[0], int(np.prod(cache[1:]))), "dout")
    return dout.reshape(cache)


def dropout_forward(
    x: np.ndarray, p: float = 0.5, training: bool = True, rng: RNG = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout: zero each unit with probability ``p``, scale survivors by 1/(1-p).

    The scaling keeps ``E[out] = x`` at training time, so evaluation is the identity.

    Parameters
    ----------
    x : ndarray of any shape S
    p : float in [0, 1), the probability of dropping a unit
    training : bool; when False, out = x
    rng : seed or Generator

    Returns
    -------
    out : ndarray of shape S
    cache : the scaled mask of shape S (None in eval mode)
    """
    x = as_float_array(x, "x")
    p = check_probability(p, "p")
    training = check_bool(training, "training")
    gen = check_rng(rng)
    if not training or p == 0.0:
        return x, None
    mask = (gen.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """dout : ndarray of shape S -> dx of shape S (the same mask, the same scaling)."""
    dout = as_float_array(dout, "dout")
    if cache is None:
        return dout
    return _elementwise_dout(dout, cache) * cache


def _elementwise_dout(dout: Any, like: np.ndarray) -> np.ndarray:
    dout = as_float_array(dout, "dout")
    if dout.shape != like.shape:
        raise ValueError(
            f"dout must have the shape of the layer's output {like.shape}, got {dout.shape}"
        )
    return dout


# ----------------------------------------------------------------------------
# Layer classes
# ----------------------------------------------------------------------------


def _torch_uniform(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
    # torch's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape)


class Linear(Layer):
    """Fully connected layer ``y = x @ w.T + b``, like ``torch.nn.Linear``.

    ``params["w"]`` has shape (out_features, in_features), ``params["b"]`` shape
    (out_features,); both start as U(-1/sqrt(in), 1/sqrt(in)) like torch.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng: RNG = None):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        check_bool(bias, "bias")
        gen = check_rng(rng)
        self.params["w"] = _torch_uniform(gen, in_features, (out_features, in_features))
        if bias:
            self.params["b"] = _torch_uniform(gen, in_features, (out_features,))
        self._init_grads()

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x : (N, in_features) -> (N, out_features)."""
        out, self._cache = linear_forward(x, self.params["w"], self.params.get("b"))
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout : (N, out_features) -> dx : (N, in_features)."""
        dx, dw, db = linear_backward(dout, self._require_cache())
        self.grads["w"] = dw
        if db is not None:
            self.grads["b"] = db
        return dx

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={'b' in self.params}"
        )


class ReLU(Layer):
    """max(x, 0), element-wise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = relu_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return relu_backward(dout, self._require_cache())


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), element-wise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = sigmoid_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return sigmoid_backward(dout, self._require_cache())


class Tanh(Layer):
    """tanh(x), element-wise."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = tanh_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return tanh_backward(dout, self._require_cache())


class LeakyReLU(Layer):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        leaky_relu(np.zeros(1), negative_slope)  # validates the slope now, not at first use
        self.negative_slope = negative_slope

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = leaky_relu_forward(x, self.negative_slope)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return leaky_relu_backward(dout, self._require_cache())

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Layer):
    """Leaky ReLU with learned slopes ``params["alpha"]`` of shape (num_parameters,).

    ``num_parameters=1`` shares one slope; ``num_parameters=C`` learns one per
    channel (axis 1), like ``torch.nn.PReLU``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        self.num_parameters = check_positive_int(num_parameters, "num_parameters")
        self.params["alpha"] = np.full(self.num_parameters, float(init))
        self._init_grads()

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = prelu_forward(x, self.params["alpha"])
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx, self.grads["alpha"] = prelu_backward(dout, self._require_cache())
        return dx

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = flatten_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return flatten_backward(dout, self._require_cache())


class Dropout(Layer):
    """Inverted dropout: drop with probability p, scale by 1/(1-p) in training; eval: identity."""

    def __init__(self, p: float = 0.5, rng: RNG = None):
        super().__init__()
        self.p = check_probability(p, "p")
        self.rng = check_rng(rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, mask = dropout_forward(x, self.p, self.training, self.rng)
        self._cache = (mask,)  # a tuple, so an eval-mode None mask still counts as cached
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dropout_backward(dout, self._require_cache()[0])

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Layer):
    """A chain of layers; backward runs them in reverse.

    >>> net = Sequential(Linear(2, 16, rng=0), ReLU(), Linear(16, 2, rng=1))
    """

    def __init__(self, *layers: Layer):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layers[{i}] must be a coursekit Layer, got {type(layer).__name__}: {layer!r}"
                )
        self.layers: list[Layer] = list(layers)

    def children(self) -> list[tuple[str, Layer]]:
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)


def _activation(name: str) -> Layer:
    choices = {
        "relu": ReLU,
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "leaky_relu": LeakyReLU,
        "prelu": PReLU,
    }
    check_in(name, list(choices), "activation")
    return choices[name]()


class Residual(Layer):
    """``activation(block(x) + shortcut(x))``; the shortcut is the identity by default.

    The sum's gradient flows unchanged into both branches, so
    ``dx = block.backward(d) + shortcut.backward(d)`` (``+ d`` for the identity):
    this direct path is why deep residual networks still train.

    Parameters
    ----------
    block : Layer, maps x to F(x) of the same shape as shortcut(x)
    shortcut : Layer or None (identity)
    activation : Layer, "relu" (default) or None for no activation after the sum
    """

    def __init__(
        self, block: Layer, shortcut: Layer | None = None, activation: Layer | str | None = "relu"
    ):
        super().__init__()
        for name, value in (("block", block), ("shortcut", shortcut)):
            if value is not None and not isinstance(value, Layer):
                raise TypeError(f"{name} must be a coursekit Layer, got {type(value).__name__}")
        if isinstance(activation, str):
            activation = _activation(activation)
        elif activation is not None and not isinstance(activation, Layer):
            raise TypeError(
                f"activation must be a Layer, an activation name or None, got {activation!r}"
            )
        self.block = block
        self.shortcut = shortcut
        self.activation = activation

    def children(self) -> list[tuple[str, Layer]]:
        kids = [("block", self.block)]
        if self.shortcut is not None:
            kids.append(("shortcut", self.shortcut))
        if self.activation is not None:
            kids.append(("activation", self.activation))
        return kids

    def forward(self, x: np.ndarray) -> np.ndarray:
        fx = self.block.forward(x)
        sx = x if self.shortcut is None else self.shortcut.forward(x)
        if fx.shape != sx.shape:
            raise ValueError(
                f"block output {fx.shape} and shortcut output {sx.shape} must have the same "
                f"shape; use a projection shortcut when the block changes the shape"
            )
        out = fx + sx
        return out if self.activation is None else self.activation.forward(out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        d = dout if self.activation is None else self.activation.backward(dout)
        dx = self.block.backward(d)
        return dx + (d if self.shortcut is None else self.shortcut.backward(d))


class MLP(Sequential):
    """Multi-layer perceptron: Linear + activation per hidden layer, a plain Linear at the end.

    Parameters
    ----------
    sizes : sequence of int, e.g. (784, 128, 10): input, hidden..., output sizes
    activation : "relu", "sigmoid", "tanh", "leaky_relu" or "prelu"
    rng : seed or Generator

    Input (N, sizes[0]) -> logits (N, sizes[-1]).
    """

    def __init__(
        self,
        sizes: tuple[int, ...] | list[int] = (784, 128, 10),
        activation: str = "relu",
        rng: RNG = None,
    ):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) < 2:
            raise ValueError(f"sizes must be a sequence of at least 2 layer sizes, got {sizes!r}")
        sizes = [check_positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
        check_in(activation, ["relu", "sigmoid", "tanh", "leaky_relu", "prelu"], "activation")
        gen = check_rng(rng)
        layers: list[Layer] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Linear(d_in, d_out, rng=gen))
            if i < len(sizes) - 2:
                layers.append(_activation(activation))
        super().__init__(*layers)
        self.sizes = sizes
