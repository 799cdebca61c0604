"""Pick a device, move data and models to it, and choose the precision policy.

The course runs unchanged on a laptop CPU, an Apple GPU (MPS) and an NVIDIA GPU
(CUDA). Everything device-specific lives here, so the notebooks only ever call
``get_device()`` once and hand the result around.

Selection order of ``get_device``: an explicit argument, then the environment
variable ``COURSEKIT_DEVICE``, then CUDA, then MPS, then the CPU.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from coursekit._validate import check_bool

__all__ = [
    "ENV_VAR",
    "available_devices",
    "get_device",
    "describe_device",
    "to_device",
    "amp_dtype",
    "autocast",
    "needs_grad_scaler",
    "make_grad_scaler",
    "use_channels_last",
    "prepare_model",
    "prepare_batch",
]

ENV_VAR = "COURSEKIT_DEVICE"


def _mps_available() -> bool:
    # torch.backends.mps exists on every build, but older builds lack is_available
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Names of the devices this machine can use, e.g. ``["cpu", "cuda:0", "mps"]``."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def _as_device(device: Any, name: str = "device") -> torch.device:
    """Parse ``device`` (str or torch.device) without checking it is available."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(
            f"{name} must be a str such as 'cpu', 'cuda', 'cuda:1' or 'mps', or a "
            f"torch.device, got {device!r} ({type(device).__name__})"
        )
    try:
        return torch.device(device.strip().lower())
    except RuntimeError as exc:
        raise ValueError(
            f"{name} must name a device such as 'cpu', 'cuda', 'cuda:1' or 'mps', got "
            f"{device!r}; available here: {', '.join(available_devices())}"
        ) from exc


def _check_available(device: torch.device, requested: Any, source: str) -> torch.device:
    """Return ``device`` (with a CUDA index filled in) or raise if this machine lacks it."""
    available = ", ".join(available_devices())
    unavailable = ValueError(
        f"{source} requested device {requested!r}, which is not available on this "
        f"machine; available: {available}"
    )
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise unavailable
        # a bare "cuda" means the current CUDA device; make the index explicit
        index = torch.cuda.current_device() if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise unavailable
        return torch.device("cuda", index)
    if device.type == "mps":
        if not _mps_available():
            raise unavailable
        return torch.device("mps")
    raise ValueError(
        f"{source} requested device {requested!r}, which coursekit does not support "
        f"(it uses cpu, cuda or mps); available: {available}"
    )


def describe_device(device: str | torch.device) -> str:
    """One human-readable phrase for ``device``.

    Examples: ``"cpu"``, ``"cuda:0 (NVIDIA H100 80GB HBM3)"``, ``"mps (Apple GPU)"``.
    """
    device = _as_device(device)
    if device.type == "cuda":
        index = 0 if device.index is None else device.index
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return str(device)


def get_device(device: str | torch.device | None = None, verbose: bool = True) -> torch.device:
    """Choose the device to compute on.

    Parameters
    ----------
    device : str or torch.device, optional
        Explicit choice (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). It wins over
        everything; when omitted, ``$COURSEKIT_DEVICE`` is used if set, otherwise the
        first of cuda, mps and cpu that this machine has.
    verbose : bool
        Print one line saying which device was chosen and why.

    Returns
    -------
    torch.device
        CUDA devices always carry an index (``cuda:0``), so results compare equal.

    Raises
    ------
    ValueError
        If the requested device is unknown or not available here; the message lists
        the devices that are.
    """
    check_bool(verbose, "verbose")
    if device is not None:
        chosen = _check_available(_as_device(device), device, "the device argument")
        reason = "requested"
    elif os.environ.get(ENV_VAR, "").strip():
        value = os.environ[ENV_VAR]
        chosen = _check_available(_as_device(value, ENV_VAR), value, f"${ENV_VAR}")
        reason = f"from ${ENV_VAR}"
    elif torch.cuda.is_available():
        chosen = _check_available(torch.device("cuda"), "cuda", "auto-selection")
        reason = None
    elif _mps_available():
        chosen, reason = torch.device("mps"), None
    else:
        chosen, reason = torch.device("cpu"), "no CUDA or MPS device found"
    if verbose:
        text = describe_device(chosen)
        if reason is not None:
            # "cuda:0 (NVIDIA ...)" already has brackets; add the reason after them
            text = f"{text}, {reason}" if text.endswith(")") else f"{text} ({reason})"
        print(f"coursekit: using {text}")
    return chosen


def to_device(obj: Any, device: str | torch.device, non_blocking: bool = False) -> Any:
    """Move tensors and modules, also inside (nested) tuples, lists and dicts, to ``device``.

    Parameters
    ----------
    obj : Tensor, nn.Module, or tuple / list / dict of them (any nesting)
        Other leaves (numbers, strings, None) are returned unchanged.
    device : str or torch.device
    non_blocking : bool
        Asynchronous host-to-device copy; only helps with pinned CPU memory.

    Returns
    -------
    The same structure (same container types) on ``device``. Modules are moved in
    place, as ``nn.Module.to`` does, and returned.
    """
    device = _as_device(device)
    check_bool(non_blocking, "non_blocking")
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, nn.Module):
        return obj.to(device)
    if isinstance(obj, np.ndarray):
        # silently leaving an array behind would fail much later, far from the cause
        raise TypeError(
            f"obj contains a NumPy array of shape {obj.shape}; convert it with "
            "torch.from_numpy(...) before moving it to a device"
        )
    if isinstance(obj, Mapping):
        return type(obj)({k: to_device(v, device, non_blocking) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(v, device, non_blocking) for v in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, device, non_blocking) for v in obj)
    return obj


def amp_dtype(device: str | torch.device) -> torch.dtype | None:
    """The autocast dtype the course uses on ``device``, or None for full float32.

    bfloat16 on CUDA GPUs that support it (Ampere and newer: same range as float32,
    so no loss scaling), float16 on older CUDA GPUs, None on CPU and MPS (where
    mixed precision gains little or is not supported by every op).
    """
    device = _as_device(device)
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: str | torch.device, enabled: bool | None = None):
    """Context manager for mixed precision on ``device``.

    Parameters
    ----------
    device : str or torch.device
    enabled : bool, optional
        None (default): on exactly when ``amp_dtype(device)`` is not None.
        True on a device without mixed-precision support raises ValueError.

    Returns
    -------
    ``torch.autocast`` with ``amp_dtype(device)``, or ``contextlib.nullcontext()``.
    """
    device = _as_device(device)
    check_bool(enabled, "enabled", allow_none=True)
    dtype = amp_dtype(device)
    if enabled is None:
        enabled = dtype is not None
    if not enabled:
        return contextlib.nullcontext()
    if dtype is None:
        raise ValueError(
            f"enabled must be False or None on device {str(device)!r}: coursekit uses "
            f"mixed precision only on CUDA, got enabled={enabled!r}"
        )
    return torch.autocast(device_type=device.type, dtype=dtype)


def needs_grad_scaler(device: str | torch.device) -> bool:
    """True when autocast on ``device`` uses float16, whose small range needs loss scaling."""
    return amp_dtype(device) == torch.float16


def make_grad_scaler(
    device: str | torch.device, enabled: bool | None = None
) -> torch.amp.GradScaler:
    """A ``torch.amp.GradScaler`` that is active only where float16 autocast is used.

    A disabled scaler passes losses and steps straight through, so one training loop
    works for float32, bfloat16 and float16.
    """
    device = _as_device(device)
    check_bool(enabled, "enabled", allow_none=True)
    active = needs_grad_scaler(device) and (enabled is None or enabled)
    return torch.amp.GradScaler(device.type if active else "cpu", enabled=active)


def use_channels_last(device: str | torch.device) -> bool:
    """True only on CUDA, where NHWC memory layout speeds up convolutions with tensor cores."""
    return _as_device(device).type == "cuda"


def compile_available(device: str | torch.device) -> bool:
    """True when ``torch.compile`` is worth trying on ``device``: CUDA with Triton installed."""
    # Inductor's GPU code generation needs Triton; without it compile fails at
    # the first call, so do not even try.
    device = _as_device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    return importlib.util.find_spec("triton") is not None


def prepare_model(
    model: nn.Module, device: str | torch.device, channels_last: bool | None = None
) -> nn.Module:
    """Move ``model`` to ``device`` in place (and to channels_last memory on CUDA).

    Parameters
    ----------
    model : nn.Module
    device : str or torch.device
    channels_last : bool, optional
        None (default): ``use_channels_last(device)``.

    Returns
    -------
    nn.Module
        The same model object.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    device = _as_device(device)
    check_bool(channels_last, "channels_last", allow_none=True)
    if channels_last is None:
        channels_last = use_channels_last(device)
    model.to(device)
    if channels_last:
        # only 4-D tensors (conv weights) change layout; the rest are untouched
        model.to(memory_format=torch.channels_last)
    return model


def prepare_batch(
    x: torch.Tensor, device: str | torch.device, channels_last: bool | None = None
) -> torch.Tensor:
    """Move an input batch to ``device`` (channels_last for 4-D batches on CUDA).

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W) or any other shape
    device : str or torch.device
    channels_last : bool, optional
        None (default): ``use_channels_last(device)``. Ignored unless ``x`` is 4-D.

    Returns
    -------
    Tensor of the same shape on ``device``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    device = _as_device(device)
    check_bool(channels_last, "channels_last", allow_none=True)
    if channels_last is None:
        channels_last = use_channels_last(device)
    # non_blocking overlaps the copy with compute when the source is pinned memory
    x = x.to(device, non_blocking=device.type == "cuda")
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
