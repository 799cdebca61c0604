"""Per-layer output shapes, parameter counts and multiply-accumulates of a PyTorch model.

``summary(model, (3, 32, 32))`` runs one forward pass on a dummy batch with forward
hooks attached, records what each layer produced, and prints a Keras-style table::

    Layer     Type       Output shape   Params
    conv1     Conv2d     6x28x28           456
    pool1     MaxPool2d  6x14x14             0
    ...

Only modules that are *called* appear (in the order they run); functional ops in a
``forward`` (``F.relu``) do not. Hooks are always removed and every module is put
back in its original train/eval mode, even if the forward pass fails.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from coursekit._validate import check_positive_int
from coursekit.device import _as_device
from coursekit.training import eval_mode

__all__ = ["ModelSummary", "summary", "count_macs", "format_shape"]

# layers whose multiply-accumulates are counted; BN, activations and pooling are
# cheap element-wise ops and conventionally left out
_MAC_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def format_shape(shape: Any) -> str:
    """``(6, 28, 28)`` -> ``"6x28x28"``; a list of shapes -> ``"[6x28x28, 10]"``."""
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    if not isinstance(shape, (tuple, torch.Size)):
        raise TypeError(f"shape must be a tuple of ints, a list of shapes or None, got {shape!r}")
    return "x".join(str(d) for d in shape) if shape else "scalar"


def _output_shape(out: Any) -> Any:
    """Shape of a module's output without the batch dimension."""
    if isinstance(out, torch.Tensor):
        return tuple(out.shape[1:])
    if isinstance(out, (tuple, list)):
        return [_output_shape(o) for o in out]
    return None


def _macs_of_call(module: nn.Module, out: torch.Tensor) -> int:
    """Multiply-accumulates of one call, summed over the whole batch."""
    if isinstance(module, nn.Linear):
        # every output element is a dot product of length in_features
        return out.numel() * module.in_features
    # conv: every output element is a dot product over (C_in / groups) x kernel
    kernel = 1
    for k in module.kernel_size:
        kernel *= k
    return out.numel() * (module.in_channels // module.groups) * kernel


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass
class ModelSummary:
    """Result of :func:`summary`.

    Attributes
    ----------
    model_name : str
    input_shape : tuple of int
        One example's shape, without the batch dimension, e.g. (3, 32, 32).
    rows : list of dict
        One per recorded call, in execution order, with keys ``name``, ``type``,
        ``output_shape`` (tuple without the batch dimension), ``params`` (int) and
        ``macs`` (per example; 0 for layers that are not Conv/Linear or contain none).
    total_params, trainable_params : int
        From ``model.parameters()``; shared parameters counted once.
    macs : int
        Multiply-accumulates of Conv and Linear layers for one example.
    trace : list of tuple
        Output shapes of the top-level children, in the order they ran.
    """

    model_name: str
    input_shape: tuple[int, ...]
    rows: list[dict] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    macs: int = 0
    trace: list[Any] = field(default_factory=list)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def trace_str(self) -> str:
        """The shape trace as text, input first: ``"3x32x32 -> 6x28x28 -> ... -> 10"``."""
        return " -> ".join(format_shape(s) for s in [self.input_shape, *self.trace])

    def _table(self) -> tuple[list[str], list[list[str]], list[str]]:
        header = ["Layer", "Type", "Output shape", "Params"]
        body = [
            [r["name"], r["type"], format_shape(r["output_shape"]), f"{r['params']:,}"]
            for r in self.rows
        ]
        footer = [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"MACs per example: {self.macs:,} ({self.macs / 1e6:.2f}M)",
            f"Input shape: {format_shape(self.input_shape)}",
        ]
        return header, body, footer

    def __str__(self) -> str:
        header, body, footer = self._table()
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

        def line(cells: Sequence[str]) -> str:
            # text columns left-aligned, the parameter count right-aligned
            left = [c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
            return "  ".join([*left, cells[-1].rjust(widths[-1])])

        rule = "-" * len(line(header))
        lines = [self.model_name, rule, line(header), rule, *map(line, body), rule, *footer]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header, body, footer = self._table()
        esc = html.escape
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{esc(c)}</td>" for c in r[:-1])
            + f"<td style='text-align:right'>{esc(r[-1])}</td></tr>"
            for r in body
        )
        foot = "<br>".join(esc(f) for f in footer)
        return (
            f"<b>{esc(self.model_name)}</b><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table><p>{foot}</p>"
        )


def _check_input_size(input_size: Any) -> tuple[int, ...]:
    if isinstance(input_size, int) or not isinstance(input_size, (tuple, list)):
        raise TypeError(
            f"input_size must be a tuple of ints without the batch dimension, "
            f"e.g. (3, 32, 32), got {input_size!r}"
        )
    return tuple(check_positive_int(d, f"input_size[{i}]") for i, d in enumerate(input_size))


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        if p.is_floating_point():
            return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def _hooked_forward(
    model: nn.Module,
    input_size: tuple[int, ...],
    batch_size: int,
    device: str | torch.device | None,
    targets: dict[str, nn.Module],
    on_call,
) -> None:
    """Run one forward pass with ``on_call(name, module, output)`` hooked on ``targets``.

    The model runs in eval mode (BatchNorm uses running statistics and is not
    updated) under no_grad; hooks and each module's mode are restored afterwards.
    """
    model_device, dtype = _model_device_dtype(model)
    if device is None:
        device = model_device
    device = torch.device(device)
    if any(p.device != device for p in model.parameters()):
        raise ValueError(
            f"device must be where the model's parameters are ({model_device}), got "
            f"{device}; move the model first or pass device=None"
        )
    x = torch.zeros((batch_size, *input_size), device=device, dtype=dtype)

    handles = []
    running: list[tuple[str, nn.Module, Any]] = []  # the leaf layer being run, for errors
    try:
        for name, module in targets.items():
            hook = lambda mod, inp, out, name=name: on_call(name, mod, out)
            handles.append(module.register_forward_hook(hook))
        for name, module in model.named_modules():
            if next(module.children(), None) is None:
                pre = lambda mod, inp, name=name: running.append((name, mod, inp))
                handles.append(module.register_forward_pre_hook(pre))
        with eval_mode(model), torch.no_grad():
            model(x)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as exc:
        raise ValueError(_shape_error(model, x, running, exc)) from exc
    finally:
        for h in handles:
            h.remove()


def _shape_error(
    model: nn.Module, x: torch.Tensor, running: list[tuple[str, nn.Module, Any]], exc: Exception
) -> str:
    """Explain a failed dummy forward pass: which layer, what it got, what it expects."""
    head = (
        f"input_size must fit the model: {type(model).__name__} cannot run on input_size "
        f"{tuple(x.shape[1:])} (a batch of shape {tuple(x.shape)})"
    )
    if not running:
        return f"{head}. PyTorch said: {exc}"
    name, module, inputs = running[-1]
    got = _output_shape(inputs[0]) if inputs else "no input"
    expects = ""
    if isinstance(module, nn.Linear):
        expects = f", but it expects {module.in_features} features per example"
    elif isinstance(module, nn.modules.conv._ConvNd):
        expects = f", but it expects {module.in_channels} input channels"
    return (
        f"{head}: layer {name} ({type(module).__name__}) got an input of shape {got}"
        f"{expects}; check input_size (the model may be built for another image size). "
        f"PyTorch said: {exc}"
    )


def count_macs(
    model: nn.Module,
    input_size: Sequence[int] = (3, 32, 32),
    device: str | torch.device | None = None,
) -> int:
    """Multiply-accumulates (MACs) of the Conv and Linear layers for one example.

    A conv output element costs (C_in / groups) * kh * kw MACs, a Linear output
    element in_features MACs; biases, BatchNorm, activations and pooling are not
    counted. FLOPs are roughly 2 x MACs.

    Parameters
    ----------
    model : nn.Module
    input_size : tuple of int
        One example's shape without the batch dimension, e.g. (3, 32, 32).
    device : str or torch.device, optional
        Where to run the dummy forward pass; None = where the model's parameters are.

    Returns
    -------
    int
    """
    return summary(model, input_size, device=device).macs


def summary(
    model: nn.Module,
    input_size: Sequence[int] = (3, 32, 32),
    batch_size: int = 1,
    device: str | torch.device | None = None,
    depth: int | None = None,
) -> ModelSummary:
    """Trace one forward pass and tabulate every layer's output shape and parameters.

    Parameters
    ----------
    model : nn.Module
    input_size : tuple of int
        One example's shape without the batch dimension, e.g. (3, 32, 32) or (784,).
    batch_size : int
        Batch size of the dummy input (all-zero, in the model's parameter dtype).
    device : str or torch.device, optional
        Where to run; None (default) = where the model's parameters are. The model is
        never moved.
    depth : int, optional
        None: one row per leaf module (no children). k >= 1: one row per module k
        levels down (``depth=1`` gives the top-level children), with leaves above
        that level listed as themselves.

    Returns
    -------
    ModelSummary
        ``print(result)`` shows the table; ``result.trace`` the top-level shapes.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    input_size = _check_input_size(input_size)
    batch_size = check_positive_int(batch_size, "batch_size")
    if depth is not None:
        depth = check_positive_int(depth, "depth")
    if device is not None:
        _as_device(device)

    row_modules: dict[str, nn.Module] = {}
    mac_modules: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if not name:
            continue
        level = name.count(".") + 1
        is_leaf = next(module.children(), None) is None
        if (depth is None and is_leaf) or (
            depth is not None and (level == depth or (level < depth and is_leaf))
        ):
            row_modules[name] = module
        if isinstance(module, _MAC_LAYERS):
            mac_modules[name] = module
    top_level = dict(model.named_children())

    # a model that is itself a single leaf (nn.Linear) is its own row and trace
    if not top_level:
        top_level = row_modules = {type(model).__name__: model}
        if isinstance(model, _MAC_LAYERS):
            mac_modules = {type(model).__name__: model}

    rows: list[dict] = []
    trace: list[Any] = []
    mac_calls: list[tuple[str, int]] = []

    def on_call(key: str, module: nn.Module, out: Any) -> None:
        kind, name = key.split(":", 1)
        if kind == "row":
            rows.append(
                {
                    "name": name,
                    "type": type(module).__name__,
                    "output_shape": _output_shape(out),
                    "params": _own_params(module),
                    "macs": 0,
                    "_calls_before": len(mac_calls),
                }
            )
        elif kind == "top":
            trace.append(_output_shape(out))
        elif isinstance(out, torch.Tensor):
            mac_calls.append((name, _macs_of_call(module, out) // batch_size))

    # one dict of hook targets; a module may be hooked for several purposes
    targets: dict[str, nn.Module] = {}
    targets.update({f"mac:{n}": m for n, m in mac_modules.items()})
    targets.update({f"row:{n}": m for n, m in row_modules.items()})
    targets.update({f"top:{n}": m for n, m in top_level.items()})
    _hooked_forward(model, input_size, batch_size, device, targets, on_call)

    # Attribute each Conv/Linear call to the first row whose hook fired after it.
    # Forward hooks fire when a module finishes, so a container's row comes after
    # all the layers inside it, and a leaf's MAC hook (registered first) precedes
    # its own row hook.
    start = 0
    for row in rows:
        end = row.pop("_calls_before")
        row["macs"] = sum(m for _, m in mac_calls[start:end])
        start = end

    return ModelSummary(
        model_name=type(model).__name__,
        input_shape=input_size,
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        macs=sum(m for _, m in mac_calls),
        trace=trace,
    )
