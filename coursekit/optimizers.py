"""NumPy optimisers with ``torch.optim``'s exact update rules (notebook 02).

An optimiser holds ``(param_dict, grad_dict)`` pairs, as yielded by
``layer.parameters()``. ``step()`` reads ``grad_dict[key]`` and updates
``param_dict[key]`` **in place**, so the model sees the new values without any
copying. The arithmetic follows ``torch/optim/*.py`` (single-tensor path)
operation by operation, so in float64 both agree step for step to rounding
error (torch's CPU kernels fuse multiply-adds, so the last bit can differ).

Notation in the docstrings: ``theta`` parameter, ``g`` gradient, ``lr`` the
learning rate, ``t`` the step count starting at 1, ``lambda`` weight decay.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from coursekit._validate import as_float_array, check_bool, check_positive, check_probability

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]

Pair = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def _as_pairs(params: Any) -> list[Pair]:
    """Normalise ``params`` to a list of (param_dict, grad_dict) pairs and check them."""
    if isinstance(params, tuple) and len(params) == 2 and all(isinstance(d, dict) for d in params):
        pairs = [params]
    else:
        try:
            pairs = list(params)
        except TypeError:
            raise TypeError(
                "params must be a list of (param_dict, grad_dict) pairs or one such pair, "
                f"got {params!r}"
            ) from None
    if not pairs:
        raise ValueError("params must contain at least one (param_dict, grad_dict) pair, got []")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"params[{i}] must be a (param_dict, grad_dict) pair, got {pair!r}")
        p_dict, g_dict = pair
        if not isinstance(p_dict, dict) or not isinstance(g_dict, dict):
            raise TypeError(
                f"params[{i}] must hold two dicts, got ({type(p_dict).__name__}, "
                f"{type(g_dict).__name__})"
            )
        for key, p in p_dict.items():
            # Updating in place is the whole contract, so the parameter must be a float array.
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(
                    f"params[{i}][{key!r}] must be a floating-point np.ndarray (updated in place), "
                    f"got {type(p).__name__}"
                    + (f" of dtype {p.dtype}" if isinstance(p, np.ndarray) else "")
                )
            if key not in g_dict:
                raise ValueError(
                    f"params[{i}] has parameter {key!r} but its grad_dict has no such key "
                    f"(keys: {sorted(g_dict)})"
                )
    return [tuple(pair) for pair in pairs]  # type: ignore[misc]


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start <- start + weight * (end - start)`` in place, rounded exactly like ``torch.lerp``.

    torch switches formula at weight 0.5 so that weight = 1 returns ``end`` exactly.
    """
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def _check_nonneg(v: Any, name: str) -> float:
    return check_positive(v, name, allow_zero=True)


class Optimizer:
    """Base class: keeps the parameter pairs, the learning rate and per-parameter state.

    Parameters
    ----------
    params : list of (dict[str, ndarray], dict[str, ndarray]) or one such pair
        Parameter dicts and their matching gradient dicts (same keys, same shapes).
    lr : float >= 0
        Learning rate; a schedule may overwrite ``self.lr`` between steps.
    """

    def __init__(self, params: Iterable[Pair] | Pair, lr: float) -> None:
        self.pairs: list[Pair] = _as_pairs(params)
        self.lr = _check_nonneg(lr, "lr")
        # State per parameter, keyed by (pair index, key): momentum buffers, moments, step count.
        self.state: dict[tuple[int, str], dict[str, Any]] = {}

    def _items(self) -> Iterable[tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
        for i, (p_dict, g_dict) in enumerate(self.pairs):
            for key, p in p_dict.items():
                g = as_float_array(g_dict[key], f"grad {key!r}")
                if g.shape != p.shape:
                    raise ValueError(
                        f"grad {key!r} must have the parameter's shape {p.shape}, got {g.shape}"
                    )
                yield p, g.astype(p.dtype, copy=False), self.state.setdefault((i, key), {})

    def step(self) -> None:
        """Update every parameter in place from its gradient."""
        for p, g, state in self._items():
            self._update(p, g, state)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every gradient array to 0 in place (layers accumulate into them)."""
        for _, g_dict in self.pairs:
            for g in g_dict.values():
                g[...] = 0.0

    def __repr__(self) -> str:
        hyper = ", ".join(
            f"{k}={v}" for k, v in self.__dict__.items() if k not in ("pairs", "state")
        )
        return f"{type(self).__name__}({hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay.

    Update rule (``torch.optim.SGD``)::

        g   <- g + lambda * theta                        (if weight_decay != 0)
        b_1 <- g;  b_t <- mu * b_{t-1} + (1 - dampening) * g   (if momentum mu != 0)
        g   <- g + mu * b_t  (nesterov)   or   g <- b_t  (classical momentum)
        theta <- theta - lr * g

    Parameters
    ----------
    params : list of (param_dict, grad_dict) pairs
    lr : float >= 0
    momentum : float >= 0
    dampening : float >= 0
    nesterov : bool
        Needs ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float >= 0
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_nonneg(momentum, "momentum")
        self.dampening = _check_nonneg(dampening, "dampening")
        check_bool(nesterov, "nesterov")
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "nesterov must be False unless momentum > 0 and dampening == 0, "
                f"got momentum={momentum} and dampening={dampening}"
            )
        self.nesterov = nesterov
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")

    def _update(self, p, g, state):
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # torch starts the buffer at the first gradient, not at 0 (no dampening then).
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adagrad(Optimizer):
    """AdaGrad: per-coordinate step sizes shrink with the sum of squared gradients.

    Update rule (``torch.optim.Adagrad``)::

        g     <- g + lambda * theta                      (if weight_decay != 0)
        lr_t  <- lr / (1 + (t - 1) * lr_decay)
        s_t   <- s_{t-1} + g^2           (s_0 = initial_accumulator_value)
        theta <- theta - lr_t * g / (sqrt(s_t) + eps)

    Parameters
    ----------
    params : list of (param_dict, grad_dict) pairs
    lr, lr_decay, weight_decay, initial_accumulator_value : float >= 0
    eps : float > 0
    """

    def __init__(
        self,
        params,
        lr: float = 0.01,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        self.lr_decay = _check_nonneg(lr_decay, "lr_decay")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.initial_accumulator_value = _check_nonneg(
            initial_accumulator_value, "initial_accumulator_value"
        )
        self.eps = _check_nonneg(eps, "eps")

    def _update(self, p, g, state):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, self.initial_accumulator_value)
        state["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        state["sum"] += g * g
        std = np.sqrt(state["sum"]) + self.eps
        p -= clr * g / std


class RMSprop(Optimizer):
    """RMSProp: divide by a running root-mean-square of recent gradients.

    Update rule (``torch.optim.RMSprop``)::

        g     <- g + lambda * theta                      (if weight_decay != 0)
        v_t   <- alpha * v_{t-1} + (1 - alpha) * g^2
        m_t   <- alpha * m_{t-1} + (1 - alpha) * g       (centered only)
        d     <- sqrt(v_t - m_t^2) + eps  (centered)   or   sqrt(v_t) + eps
        b_t   <- mu * b_{t-1} + g / d;  theta <- theta - lr * b_t   (if momentum mu > 0)
        theta <- theta - lr * g / d                                  (otherwise)

    Parameters
    ----------
    params : list of (param_dict, grad_dict) pairs
    lr, weight_decay, momentum : float >= 0
    alpha : float in [0, 1)
        Decay of the running average of g^2.
    eps : float >= 0
    centered : bool
        Subtract the running mean of g (estimates the variance, not the second moment).
    """

    def __init__(
        self,
        params,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.alpha = check_probability(alpha, "alpha")
        self.eps = _check_nonneg(eps, "eps")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        self.momentum = _check_nonneg(momentum, "momentum")
        check_bool(centered, "centered")
        self.centered = centered

    def _update(self, p, g, state):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            state["grad_avg"] = np.zeros_like(p)
            state["momentum_buffer"] = np.zeros_like(p)
        state["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        sq = state["square_avg"]
        sq *= self.alpha
        sq += (1 - self.alpha) * g * g
        if self.centered:
            ga = state["grad_avg"]
            _lerp_(ga, g, 1 - self.alpha)  # ga <- alpha * ga + (1 - alpha) * g
            avg = np.sqrt(sq - ga * ga)
        else:
            avg = np.sqrt(sq)
        avg += self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / avg
            p -= self.lr * buf
        else:
            p -= self.lr * g / avg


class Adam(Optimizer):
    """Adam: momentum on g and RMSProp scaling, both bias-corrected.

    Update rule (``torch.optim.Adam``)::

        g     <- g + lambda * theta                      (L2, if weight_decay != 0)
        m_t   <- beta1 * m_{t-1} + (1 - beta1) * g
        v_t   <- beta2 * v_{t-1} + (1 - beta2) * g^2
        theta <- theta - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    The bias corrections ``1 - beta^t`` undo the pull towards the zero
    initialisation of m and v in the first steps. Defaults: lr 0.001,
    beta1 0.9, beta2 0.999, eps 1e-8.

    Parameters
    ----------
    params : list of (param_dict, grad_dict) pairs
    lr, weight_decay : float >= 0
    betas : (float, float), each in [0, 1)
    eps : float >= 0
    """

    _decoupled = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            check_probability(betas[0], "betas[0]"),
            check_probability(betas[1], "betas[1]"),
        )
        self.eps = _check_nonneg(eps, "eps")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")

    def _update(self, p, g, state):
        beta1, beta2 = self.betas
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if self.weight_decay != 0:
            if self._decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(m, g, 1 - beta1)  # m <- beta1 * m + (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        step_size = self.lr / (1 - beta1**t)
        denom = np.sqrt(v) / (1 - beta2**t) ** 0.5 + self.eps
        p -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter).

    Update rule (``torch.optim.AdamW``): first shrink the weights,
    ``theta <- theta * (1 - lr * lambda)``, then take the Adam step with the
    *raw* gradient. With L2 in Adam the decay term is divided by sqrt(v) like
    everything else, so weights with large gradients are barely decayed; the
    decoupled form decays every weight at the same rate.

    Parameters
    ----------
    params : list of (param_dict, grad_dict) pairs
    lr : float >= 0
    betas : (float, float), each in [0, 1)
    eps : float >= 0
    weight_decay : float >= 0 (default 1e-2)
    """

    _decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
