"""How the sandbox exercises a student's solution (runs inside it, next to the student's code).

A driver takes the object the solution cell defined (a function or a class)
and the call's decoded inputs, and returns plain data for the grader. Drivers
import no reference implementation: the grader computes every expected value
itself, outside the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DRIVERS"]


def call(obj: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function: ``obj(*args, **kwargs)``."""
    return obj(*args, **kwargs)


def module_forward(
    cls: Callable, init_args: tuple, state_dict: dict, x: Any, seed: int = 0
) -> dict[str, Any]:
    """Build ``cls(*init_args)`` in float64, load ``state_dict``, run ``x`` in train and eval mode.

    Returns ``{"is_module": bool, "keys": sorted state-dict keys, "train": output,
    "eval": output, "submodules": {name: type name}}``; the outputs are None when
    the weights cannot be loaded (the keys then say why).
    """
    import torch

    torch.manual_seed(seed)
    block = cls(*init_args)
    out: dict[str, Any] = {"is_module": isinstance(block, torch.nn.Module)}
    if not out["is_module"]:
        return out
    block = block.double()
    out["keys"] = sorted(block.state_dict().keys())
    out["submodules"] = {name: type(m).__name__ for name, m in block.named_children()}
    out["train"] = out["eval"] = None
    if out["keys"] != sorted(state_dict):
        return out
    block.load_state_dict(state_dict)
    with torch.no_grad():
        block.train()
        out["train"] = block(x.clone())
        block.eval()
        out["eval"] = block(x.clone())
    return out


#: name -> driver; a call names its driver.
DRIVERS: dict[str, Callable[..., Any]] = {"call": call, "module_forward": module_forward}
