"""The ``Layer`` base class every NumPy layer derives from.

It lives in its own module so that the modules defining layers (``layers``,
``conv``, ``pooling``, ``normalization``) all import it from here, and none of
them has to import another to get it: no import cycles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coursekit._validate import check_bool

__all__ = ["Layer", "RNG"]

# what every random layer accepts: a seed, a Generator, or None for fresh entropy
RNG = int | np.random.Generator | None


class Layer:
    """Base class: ``params`` / ``grads`` dicts, a train/eval flag, forward and backward.

    Subclasses set ``params`` in ``__init__``, call ``_init_grads()``, and
    implement ``forward`` (keeping what ``backward`` needs) and ``backward``
    (filling ``grads`` and returning the gradient with respect to the input).
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self._cache: Any = None

    # --- the interface --------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # --- modes and parameters -------------------------------------------
    def children(self) -> list[tuple[str, Layer]]:
        """Named sub-layers (empty for a leaf layer)."""
        return []

    def train(self, mode: bool = True) -> Layer:
        """Switch this layer and its children to training mode (or eval with mode=False)."""
        self.training = check_bool(mode, "mode")
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Layer:
        """Switch to evaluation mode (dropout off, batch norm uses running statistics)."""
        return self.train(False)

    def parameters(self) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """``(params, grads)`` pairs, one per layer that has parameters, for an optimiser."""
        pairs = [(self.params, self.grads)] if self.params else []
        for _, child in self.children():
            pairs.extend(child.parameters())
        return pairs

    def num_parameters(self) -> int:
        """Total number of learnable scalars."""
        return sum(v.size for params, _ in self.parameters() for v in params.values())

    def zero_grad(self) -> None:
        for params, grads in self.parameters():
            for k, v in params.items():
                grads[k] = np.zeros_like(v)

    def astype(self, dtype: Any) -> Layer:
        """Cast every parameter (and buffer) to ``dtype`` in place, e.g. float32 for speed."""
        for name, value in list(vars(self).items()):
            is_buffer = isinstance(value, np.ndarray) and not name.startswith("_")
            if is_buffer and np.issubdtype(value.dtype, np.floating):  # e.g. running_mean
                setattr(self, name, value.astype(dtype))
        # replace the values, never the dicts: optimisers hold references to them
        for k in self.params:
            self.params[k] = self.params[k].astype(dtype)
            self.grads[k] = np.zeros_like(self.params[k])
        for _, child in self.children():
            child.astype(dtype)
        return self

    # --- helpers ---------------------------------------------------------
    def _init_grads(self) -> None:
        self.grads.clear()
        self.grads.update({k: np.zeros_like(v) for k, v in self.params.items()})

    def _require_cache(self) -> Any:
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: run forward(x) first"
            )
        return self._cache

    # --- printing, like torch -------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        kids = self.children()
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in kids:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        lines.append(")")
        return "\n".join(lines)
