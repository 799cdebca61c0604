"""The PyTorch training loop of notebooks 04-09.

``fit`` is the classic loop (forward, loss, backward, step) plus what a course needs
around it: a progress bar, validation after every epoch, a ``History`` of the
curves, learning-rate schedules, early stopping, gradient-norm logging, atomic
checkpoints, mixed precision and channels_last on CUDA, and clear errors when the
first batch does not fit the model.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from coursekit._validate import (
    check_bool,
    check_in,
    check_labels,
    check_nonneg_int,
    check_positive,
    check_positive_int,
    check_seed,
    user_stacklevel,
)
from coursekit.device import (
    _as_device,
    amp_dtype,
    autocast,
    compile_available,
    get_device,
    make_grad_scaler,
    prepare_batch,
    prepare_model,
)

__all__ = [
    "seed_everything",
    "History",
    "accuracy",
    "grad_norms",
    "fit",
    "evaluate",
    "predict",
    "save_checkpoint",
    "load_checkpoint",
]

_CHECKPOINT_FORMAT = "coursekit-checkpoint-v1"
_METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


# --------------------------------------------------------------------------- seeds


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and all GPUs).

    Parameters
    ----------
    seed : int >= 0
    deterministic : bool
        Also make cuDNN pick deterministic algorithms and turn off its auto-tuner
        (cheap for course-sized models; pass False when timing for speed).

    Returns
    -------
    torch.Generator
        Seeded with ``seed``; pass it as ``DataLoader(..., generator=g)`` so the
        shuffling order is reproducible too.
    """
    seed = check_seed(seed, for_torch=True)
    check_bool(deterministic, "deterministic")
    random.seed(seed)
    # legacy global RNG: old code and some libraries still draw from it
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy seed must fit in 32 bits)
    torch.manual_seed(seed)  # seeds every CUDA device as well
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- history


@dataclass
class History:
    """Per-epoch training curves returned by :func:`fit`.

    Each list has one entry per completed epoch. ``val_*`` stay empty without a
    validation loader; ``*_acc`` are NaN when the task is not classification.

    Attributes
    ----------
    train_loss, train_acc, val_loss, val_acc : list of float
        Mean loss per example and accuracy in [0, 1].
    lr : list of float
        Learning rate of the first parameter group at the start of each epoch.
    epoch_time : list of float
        Wall-clock seconds per epoch (training and validation).
    grad_norms : dict of str -> list of float
        Per parameter name, the mean over the epoch's batches of the L2 norm of its
        gradient (only with ``fit(..., log_grad_norms=True)``).
    stopped_early : bool
        True when early stopping ended training before ``epochs``.
    compiled : bool
        True when training ran through ``torch.compile`` (``fit(..., compile=...)``).
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    stopped_early: bool = False
    compiled: bool = False

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def best_epoch(self, metric: str = "val_acc") -> int:
        """0-based index of the best epoch: highest accuracy or lowest loss.

        ``history.val_acc[history.best_epoch()]`` is the best validation accuracy.
        NaN entries are ignored.
        """
        check_in(metric, _METRICS, "metric")
        values = np.asarray(getattr(self, metric), dtype=np.float64)
        if values.size == 0 or np.all(np.isnan(values)):
            raise ValueError(
                f"metric must name a curve with recorded values (was there a validation "
                f"loader, and is this a classification task?), got {metric!r} with values "
                f"{list(values)}"
            )
        return int(np.nanargmax(values) if metric.endswith("acc") else np.nanargmin(values))

    def as_dict(self) -> dict[str, Any]:
        """A plain-dict deep copy (JSON-serialisable)."""
        return asdict(self)

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the history to ``path`` as JSON (NaN is written as JSON ``NaN``)."""
        _check_path(path)
        Path(path).write_text(json.dumps(self.as_dict(), indent=1))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a History from :meth:`as_dict` output."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict from History.as_dict(), got {data!r:.80}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"data must hold only History fields, got unknown keys {unknown}")
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> History:
        """Read a history written by :meth:`to_json`."""
        _check_path(path)
        return cls.from_dict(json.loads(Path(path).read_text()))


# --------------------------------------------------------------------------- metrics


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose highest logit is the true class.

    Parameters
    ----------
    logits : Tensor or ndarray of shape (N, C)
    y : Tensor or ndarray of shape (N,), integer class labels

    Returns
    -------
    float in [0, 1]
    """
    logits, y = _as_tensor(logits, "logits"), _as_tensor(y, "y")
    if logits.ndim != 2:
        raise ValueError(f"logits must be 2-D (N, C), got shape {tuple(logits.shape)}")
    if len(logits) == 0:
        raise ValueError(f"logits must hold at least one example, got shape {tuple(logits.shape)}")
    if y.ndim != 1 or len(y) != len(logits):
        raise ValueError(
            f"y must have shape ({len(logits)},) to match logits of shape "
            f"{tuple(logits.shape)}, got {tuple(y.shape)}"
        )
    y = torch.as_tensor(check_labels(y, logits.shape[1], "y"))
    return (logits.argmax(dim=1) == y.to(logits.device)).float().mean().item()


def _as_tensor(a: Any, name: str) -> torch.Tensor:
    """``a`` (tensor, array or nested list of numbers) as a tensor, naming ``name`` if not."""
    try:
        return torch.as_tensor(a)
    except (TypeError, ValueError, RuntimeError) as exc:
        shown = f"array of dtype {a.dtype}" if isinstance(a, np.ndarray) else repr(a)[:80]
        raise TypeError(f"{name} must be a tensor or array of numbers, got {shown}") from exc


def _check_loader(loader: Any, name: str) -> None:
    if not isinstance(loader, Iterable) or isinstance(loader, (str, bytes)):
        raise TypeError(
            f"{name} must be an iterable of (inputs, targets) batches, such as a "
            f"DataLoader, got {type(loader).__name__}"
        )


def _check_loss_fn(loss_fn: Any) -> None:
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be callable (outputs, targets) -> loss, such as "
            f"nn.CrossEntropyLoss(), got {loss_fn!r}"
        )


def _check_optimizer(optimizer: Any) -> None:
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )


def _check_path(path: Any, name: str = "path") -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {path!r}")


def grad_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of each parameter's gradient; call after ``loss.backward()``.

    Returns
    -------
    dict of str -> float
        Keyed by ``model.named_parameters()`` names; parameters without a gradient
        (frozen, or not used in the forward pass) are left out.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return {
        name: torch.linalg.vector_norm(p.grad.detach()).item()
        for name, p in model.named_parameters()
        if p.grad is not None
    }


# --------------------------------------------------------------------------- helpers


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _is_classification(loss_fn: nn.Module) -> bool:
    return isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss))


def _split_batch(batch: Any, name: str = "loader") -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"each batch of {name} must be a pair (inputs, targets), got "
            f"{type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    x, y = batch
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(
            f"batches of {name} must hold tensors (inputs, targets), got ({type(x).__name__}, "
            f"{type(y).__name__}); wrap arrays with torch.from_numpy or a TensorDataset"
        )
    return x, y


def _first_layer_hint(model: nn.Module) -> str:
    """What the first weighted layer expects, to explain a shape error."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            return (
                f"its first layer ({name}: Linear) expects {m.in_features} features per "
                "example after flattening"
            )
        if isinstance(m, nn.modules.conv._ConvNd):
            return (
                f"its first layer ({name}: {type(m).__name__}) expects {m.in_channels} "
                "input channels"
            )
    return "see the PyTorch message below"


def _model_dtype(model: nn.Module) -> torch.dtype:
    p = next(model.parameters(), None)
    return p.dtype if p is not None else torch.float32


def _sum_dtype(device: torch.device) -> torch.dtype:
    """Dtype of running loss sums: float64, except on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def _prepare_input(
    x: torch.Tensor, model: nn.Module, device: torch.device, channels_last: bool, use_amp: bool
) -> torch.Tensor:
    """``x`` on ``device`` (channels_last if asked), in the model's dtype unless autocast runs."""
    x = prepare_batch(x, device, channels_last)
    # Low-precision data (a bf16-resident GpuLoader, say) without autocast: match the weights.
    if not use_amp and x.is_floating_point() and x.dtype != (dtype := _model_dtype(model)):
        x = x.to(dtype)
    return x


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode inside the block; restore every submodule's own mode after.

    ``model.train(was_training)`` would set all submodules alike, and so
    un-freeze, say, a BatchNorm that was deliberately kept in eval mode.
    """
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes.items():
            m.training = training


def _batch_count(loader: Any) -> int | None:
    """``len(loader)``, or None for a loader without a length (a bare generator)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _check_first_batch(
    model: nn.Module,
    loader: Any,
    loss_fn: nn.Module,
    device: torch.device,
    use_amp: bool,
    channels_last: bool,
) -> None:
    """Run the first batch through the model and explain anything that does not fit.

    The look leaves no trace on training, so ``fit``'s first epoch sees the
    batches a plain ``for xb, yb in loader`` would: the random generators a
    shuffling DataLoader draws from (its own, its sampler's, or torch's global
    one) get their state back, and so does the epoch count that
    ``fast.GpuLoader`` seeds each epoch's order from.
    """
    saved = {}  # id -> (generator, state): the loader's own and its sampler's, once each
    for g in (
        getattr(loader, "generator", None),
        getattr(getattr(loader, "sampler", None), "generator", None),
    ):
        if isinstance(g, torch.Generator):
            saved[id(g)] = (g, g.get_state())
    epoch = getattr(loader, "epoch", None)
    try:
        with torch.random.fork_rng(devices=[]):
            batch = next(iter(loader))
    except StopIteration:
        raise ValueError(
            "train_loader must yield at least one batch, got an empty loader"
        ) from None
    finally:
        for g, state in saved.values():
            g.set_state(state)
        if isinstance(epoch, int):
            loader.epoch = epoch
    x, y = _split_batch(batch, "train_loader")
    if x.ndim == 0 or len(x) == 0:
        # the mean loss of no examples is NaN, and the epoch's mean divides by zero
        raise ValueError(
            f"train_loader's batches must hold at least one example, got a first batch of "
            f"shape {tuple(x.shape)}"
        )
    name = type(model).__name__
    # eval mode: a look at the shapes must not update BatchNorm statistics
    try:
        with eval_mode(model), torch.no_grad(), autocast(device, use_amp):
            out = model(_prepare_input(x, model, device, channels_last, use_amp))
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as exc:
        raise ValueError(
            f"train_loader's inputs must fit the model: {name} could not process the first "
            f"batch: it got inputs of shape {tuple(x.shape)}, but {_first_layer_hint(model)}. "
            f"PyTorch said: {exc}"
        ) from exc

    if not _is_classification(loss_fn):
        return
    labels = "train_loader's labels (the targets of its first batch)"
    if out.ndim != 2 or out.shape[0] != x.shape[0]:
        raise ValueError(
            f"{name} output must have shape (N, num_classes) = ({x.shape[0]}, C) for "
            f"{type(loss_fn).__name__}, got {tuple(out.shape)}"
        )
    if y.dtype != torch.int64:
        raise TypeError(
            f"{labels} must be int64 class indices for {type(loss_fn).__name__}, got dtype "
            f"{y.dtype}; use y.long()"
        )
    if y.shape != (x.shape[0],):
        raise ValueError(f"{labels} must have shape ({x.shape[0]},), got {tuple(y.shape)}")
    check_labels(y.cpu().numpy(), out.shape[1], labels)


def _run_epoch_eval(
    model: nn.Module,
    loader: Any,
    loss_fn: nn.Module,
    device: torch.device,
    use_amp: bool,
    channels_last: bool,
) -> tuple[float, float]:
    """Mean loss per example and accuracy over ``loader``, in eval mode, no grad."""
    # sums stay on the device: one synchronisation at the end, not one per batch
    loss_sum = torch.zeros((), device=device, dtype=_sum_dtype(device))
    correct = torch.zeros((), device=device, dtype=torch.int64)
    n = 0
    classification = True
    with eval_mode(model), torch.no_grad():
        for batch in loader:
            x, y = _split_batch(batch)
            x = _prepare_input(x, model, device, channels_last, use_amp)
            y = y.to(device, non_blocking=device.type == "cuda")
            with autocast(device, use_amp):
                out = model(x)
                loss = loss_fn(out, y)
            loss_sum += loss.to(loss_sum.dtype) * len(y)
            if out.ndim == 2 and y.ndim == 1 and not y.is_floating_point():
                correct += (out.argmax(dim=1) == y).sum()
            else:
                classification = False
            n += len(y)
    if n == 0:
        raise ValueError("loader must yield at least one batch, got an empty loader")
    acc = correct.item() / n if classification else math.nan
    return loss_sum.item() / n, acc


def _compiled(model: nn.Module, want: bool) -> tuple[nn.Module, bool]:
    """``(torch.compile(model), True)``, or ``(model, False)`` when not wanted or unavailable."""
    if not want:
        return model, False
    try:
        return torch.compile(model), True
    except Exception as exc:  # any failure means "run eagerly"
        print(f"note: torch.compile unavailable ({type(exc).__name__}: {exc}); running eagerly")
        return model, False


class _TrainStep:
    """Zero the gradients, then forward, loss and scaled backward, compiled when asked.

    ``torch.compile`` compiles lazily, so a broken compiler shows up only at the
    first call: there, and only there, the step prints a note ending in
    ``on_failure`` and goes on eagerly (``compiled`` turns False). Later errors
    are the model's own and are raised.
    """

    def __init__(
        self,
        model: nn.Module,
        compile: bool,
        optimizer: torch.optim.Optimizer,
        scaler: Any,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        device: torch.device,
        use_amp: bool,
        on_failure: str = "falling back to eager mode",
    ) -> None:
        self.model, self.optimizer, self.scaler, self.loss_fn = model, optimizer, scaler, loss_fn
        self.device, self.use_amp, self.on_failure = device, use_amp, on_failure
        self.fn, self.compiled = _compiled(model, compile)
        self._first = True

    def _run(
        self, fn: Callable, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.use_amp):
            out = fn(x)
            loss = self.loss_fn(out, y)
        self.scaler.scale(loss).backward()
        return out, loss

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one step's gradients for batch ``x`` with targets ``y``; returns (output, loss)."""
        first, self._first = self._first, False
        try:
            return self._run(self.fn, x, y)
        except Exception as exc:
            if not (self.compiled and first):
                raise
            print(f"note: torch.compile failed ({type(exc).__name__}); {self.on_failure}")
            self.fn, self.compiled = self.model, False
            return self._run(self.fn, x, y)


def _resolve_amp(amp: bool | None, device: torch.device) -> bool:
    if amp is None:
        return amp_dtype(device) is not None
    if amp and amp_dtype(device) is None:
        raise ValueError(
            f"amp must be False or None on device {str(device)!r} (coursekit uses mixed "
            f"precision only on CUDA), got amp={amp!r}"
        )
    return bool(amp)


# --------------------------------------------------------------------------- fit


def _storing_outputs() -> bool:
    """True while a notebook runs to store its outputs (``COURSEKIT_STATIC_WIDGETS=1``).

    Progress bars are then left out: a stored widget bar reopens at its first
    state ("0/55"), since the notebook keeps no live model for it.
    """
    return os.environ.get("COURSEKIT_STATIC_WIDGETS", "").strip().lower() in ("1", "true", "yes")


def fit(
    model: nn.Module,
    train_loader: Any,
    val_loader: Any = None,
    *,
    epochs: int = 5,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float | None = None,
    loss_fn: nn.Module | None = None,
    scheduler: Any = None,
    scheduler_interval: str = "epoch",
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool | None = False,
    early_stopping_patience: int | None = None,
    log_grad_norms: bool = False,
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool = True,
    verbose: bool = False,
) -> History:
    """Train ``model`` and record its curves.

    Parameters
    ----------
    model : nn.Module
        Moved to ``device`` in place (and stays there).
    train_loader, val_loader : re-iterable of (inputs, targets) batches
        Usually DataLoaders (a list of batches works too; a one-shot generator does
        not, as every epoch iterates again); inputs of shape (N, ...), targets of shape (N,) with
        int64 class labels for classification.
    epochs : int
        Maximum number of passes over ``train_loader``.
    optimizer : torch.optim.Optimizer, optional
        Default: ``Adam(model.parameters(), lr=lr or 1e-3)``, which works without
        tuning for every model in the course. The ResNet paper's recipe is
        ``SGD(momentum=0.9, weight_decay=1e-4)``: build it yourself and pass it.
    lr : float, optional
        Learning rate of the default optimizer (not allowed with ``optimizer``).
    loss_fn : nn.Module, optional
        Default ``nn.CrossEntropyLoss()`` (expects logits and int64 labels). It must
        average over the batch (``reduction="mean"``).
    scheduler : learning-rate scheduler, optional
        Stepped after every epoch or every batch (``scheduler_interval``).
        ``ReduceLROnPlateau`` is stepped with the validation loss (train loss
        without a validation loader).
    scheduler_interval : {"epoch", "batch"}
    device : str or torch.device, optional
        Default ``coursekit.device.get_device()``: cuda, then mps, then cpu.
    amp : bool, optional
        Mixed precision (bf16, or fp16 with loss scaling). None = on for CUDA.
    channels_last : bool, optional
        NHWC memory layout for model and 4-D inputs. None = on for CUDA.
    compile : bool, optional
        Train through ``torch.compile(model)`` (kernels fused; the first batch
        pays the compilation). None = only where ``compile_available(device)``
        (CUDA with Triton). If compiling fails, a note is printed and training
        continues eagerly; ``History.compiled`` says which ran. Validation
        runs the model eagerly.
    early_stopping_patience : int, optional
        Stop when the validation loss has not improved for this many epochs, then
        restore the weights of the best epoch. Needs ``val_loader``.
    log_grad_norms : bool
        Record per-parameter gradient norms (mean per epoch) in ``History.grad_norms``.
    checkpoint_path : path, optional
        Save the best model so far (lowest validation loss, or lowest train loss
        without a validation loader) there, atomically, with ``save_checkpoint``
        (its ``epoch`` is the 0-based index into the History lists).
    progress : bool
        A tqdm bar over the batches of each epoch (removed when the epoch ends).
    verbose : bool
        Print the chosen device and one summary line per epoch.

    Returns
    -------
    History
    """
    # ---- arguments
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    check_in(scheduler_interval, ("epoch", "batch"), "scheduler_interval")
    check_bool(compile, "compile", allow_none=True)
    check_bool(amp, "amp", allow_none=True)
    check_bool(channels_last, "channels_last", allow_none=True)
    check_bool(log_grad_norms, "log_grad_norms")
    check_bool(progress, "progress")
    check_bool(verbose, "verbose")
    if lr is not None:
        check_positive(lr, "lr", allow_zero=True)  # torch.optim takes lr = 0 (a frozen run)
    _check_loader(train_loader, "train_loader")
    if val_loader is not None:
        _check_loader(val_loader, "val_loader")
    _check_loss_fn(loss_fn)
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(
            f"scheduler must be a learning-rate scheduler with a step() method, such as "
            f"torch.optim.lr_scheduler.CosineAnnealingLR, got {scheduler!r}"
        )
    if checkpoint_path is not None:
        _check_path(checkpoint_path, "checkpoint_path")
    if early_stopping_patience is not None:
        early_stopping_patience = check_positive_int(
            early_stopping_patience, "early_stopping_patience"
        )
        if val_loader is None:
            raise ValueError(
                "early_stopping_patience needs a val_loader (it watches the validation "
                f"loss), got early_stopping_patience={early_stopping_patience} and "
                "val_loader=None"
            )
    if optimizer is not None and lr is not None:
        raise ValueError(
            f"lr is used only for the default optimizer; set the learning rate on the "
            f"optimizer you pass instead, got lr={lr!r} and an optimizer"
        )
    _check_optimizer(optimizer)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn

    # ---- device and precision policy
    device = get_device(device, verbose=verbose)
    use_amp = _resolve_amp(amp, device)
    if channels_last is None:
        channels_last = device.type == "cuda"
    prepare_model(model, device, channels_last)
    scaler = make_grad_scaler(device, enabled=use_amp)
    if optimizer is None:
        # created after the move so that its state lives on the same device
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3 if lr is None else lr)
    if hasattr(loss_fn, "to"):
        loss_fn.to(device)  # losses with a class-weight tensor

    _check_first_batch(model, train_loader, loss_fn, device, use_amp, channels_last)
    want_compile = compile_available(device) if compile is None else compile
    step = _TrainStep(model, want_compile, optimizer, scaler, loss_fn, device, use_amp)

    from tqdm.auto import tqdm

    history = History(compiled=step.compiled)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if log_grad_norms:
        history.grad_norms = {n: [] for n in names}
    best_loss, best_state, bad_epochs = math.inf, None, 0
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    for epoch in range(epochs):
        start = time.perf_counter()
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        model.train()
        loss_sum = torch.zeros((), device=device, dtype=_sum_dtype(device))
        correct = torch.zeros((), device=device, dtype=torch.int64)
        norm_sum = None
        n_seen, n_batches, classification = 0, 0, True

        # The bar gets the batch count, not the loader: tqdm.auto's asyncio class
        # calls iter() on a loader it is given and throws the iterator away, which
        # starts a DataLoader's workers twice and advances its shuffling generator
        # (tqdm issue #1598), so fit would not see the order a plain loop sees.
        bar = tqdm(
            total=_batch_count(train_loader),
            desc=f"epoch {epoch + 1}/{epochs}",
            leave=False,
            disable=not progress or _storing_outputs(),
            unit="batch",
        )
        for x, y in map(_split_batch, train_loader):
            x = _prepare_input(x, model, device, channels_last, use_amp)
            y = y.to(device, non_blocking=device.type == "cuda")

            out, loss = step(x, y)
            history.compiled = step.compiled
            if log_grad_norms:
                scaler.unscale_(optimizer)  # measure true gradients, not scaled ones
                norms = torch.stack(
                    [
                        torch.linalg.vector_norm(p.grad.detach()).float()
                        if p.grad is not None
                        else torch.zeros((), device=device)
                        for p in model.parameters()
                        if p.requires_grad
                    ]
                )
                norm_sum = norms if norm_sum is None else norm_sum + norms
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()

            loss_sum += loss.detach().to(loss_sum.dtype) * len(y)
            if out.ndim == 2 and y.ndim == 1 and not y.is_floating_point():
                correct += (out.argmax(dim=1) == y).sum()
            else:
                classification = False
            n_seen += len(y)
            n_batches += 1
            bar.update()
            # reading .item() waits for the GPU, so refresh the bar only now and then
            if progress and (n_batches % 10 == 1):
                postfix = {"loss": f"{loss_sum.item() / n_seen:.4f}"}
                if classification:
                    postfix["acc"] = f"{correct.item() / n_seen:.3f}"
                bar.set_postfix(postfix)
        bar.close()

        train_loss = loss_sum.item() / n_seen
        history.train_loss.append(train_loss)
        history.train_acc.append(correct.item() / n_seen if classification else math.nan)
        if log_grad_norms and norm_sum is not None:
            for name, value in zip(names, (norm_sum / n_batches).tolist(), strict=True):
                history.grad_norms[name].append(value)

        if val_loader is not None:
            val_loss, val_acc = _run_epoch_eval(
                model, val_loader, loss_fn, device, use_amp, channels_last
            )
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        monitored = history.val_loss[-1] if val_loader is not None else train_loss

        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                scheduler.step(monitored)
            else:
                scheduler.step()
        history.epoch_time.append(time.perf_counter() - start)

        if verbose:
            line = f"epoch {epoch + 1}/{epochs}  train loss {train_loss:.4f}"
            line += f" acc {history.train_acc[-1]:.3f}" if classification else ""
            if val_loader is not None:
                line += f"  val loss {history.val_loss[-1]:.4f}"
                line += f" acc {history.val_acc[-1]:.3f}" if classification else ""
            line += f"  lr {history.lr[-1]:.2e}  {history.epoch_time[-1]:.1f}s"
            print(line)

        if not math.isfinite(train_loss):
            warnings.warn(
                f"the training loss became {train_loss} in epoch {epoch + 1}; stopping. "
                "Try a smaller learning rate.",
                RuntimeWarning,
                stacklevel=user_stacklevel(),
            )
            break

        # ---- best model, checkpoint, early stopping
        if monitored < best_loss:
            best_loss, bad_epochs = monitored, 0
            if early_stopping_patience is not None:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, optimizer, epoch=epoch, history=history)
        else:
            bad_epochs += 1
            if early_stopping_patience is not None and bad_epochs >= early_stopping_patience:
                history.stopped_early = epoch + 1 < epochs
                if verbose:
                    print(
                        f"early stopping: no improvement in validation loss for "
                        f"{bad_epochs} epochs; restoring epoch {epoch + 1 - bad_epochs}"
                    )
                break

    if best_state is not None:
        model.load_state_dict(best_state)
    return history


# --------------------------------------------------------------------------- evaluation


def evaluate(
    model: nn.Module,
    loader: Any,
    loss_fn: nn.Module | None = None,
    device: str | torch.device | None = None,
    amp: bool | None = None,
) -> tuple[float, float]:
    """Mean loss per example and accuracy of ``model`` over ``loader``.

    Parameters
    ----------
    model : nn.Module
        Evaluated in eval mode; each module's mode is restored afterwards.
    loader : iterable of (inputs, targets) batches
    loss_fn : nn.Module, optional
        Default ``nn.CrossEntropyLoss()`` (mean over the batch).
    device : str or torch.device, optional
        Default: where the model's parameters already are. Given, the model is
        moved there.
    amp : bool, optional
        Mixed precision; None = on for CUDA.

    Returns
    -------
    (loss, accuracy) : tuple of float
        accuracy in [0, 1], NaN when the outputs are not (N, C) class scores.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_loader(loader, "loader")
    _check_loss_fn(loss_fn)
    check_bool(amp, "amp", allow_none=True)
    device = _model_device(model) if device is None else get_device(device, verbose=False)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    if hasattr(loss_fn, "to"):
        loss_fn.to(device)
    use_amp = _resolve_amp(amp, device)
    return _run_epoch_eval(model, loader, loss_fn, device, use_amp, device.type == "cuda")


def predict(
    model: nn.Module, loader: Any, device: str | torch.device | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true classes for every example of ``loader``.

    Parameters
    ----------
    model : nn.Module
        Must output logits of shape (N, C); evaluated in eval mode, mode restored.
    loader : iterable of (inputs, targets) batches
    device : str or torch.device, optional
        Default: where the model's parameters already are.

    Returns
    -------
    preds : ndarray of shape (N,), int64
        argmax of the logits.
    targets : ndarray of shape (N,), int64
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_loader(loader, "loader")
    device = _model_device(model) if device is None else get_device(device, verbose=False)
    model.to(device)
    preds, targets = [], []
    with eval_mode(model), torch.no_grad():
        for batch in loader:
            x, y = _split_batch(batch)
            out = model(_prepare_input(x, model, device, device.type == "cuda", False))
            if out.ndim != 2:
                raise ValueError(
                    f"model output must have shape (N, num_classes), got {tuple(out.shape)}"
                )
            preds.append(out.argmax(dim=1).cpu())
            targets.append(y.cpu())
    if not preds:
        raise ValueError("loader must yield at least one batch, got an empty loader")
    return (
        torch.cat(preds).numpy().astype(np.int64),
        torch.cat(targets).numpy().astype(np.int64),
    )


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    epoch: int | None = None,
    history: History | None = None,
    **extra: Any,
) -> None:
    """Save model (and optimizer) state atomically: never a half-written file at ``path``.

    The checkpoint is written to a temporary file in the same directory, flushed to
    disk (fsync), then renamed over ``path`` with ``os.replace``, which is atomic: a
    crash or error leaves either the old checkpoint or the new one. The temporary
    file is removed on error.

    Parameters
    ----------
    path : str or PathLike
        Missing parent directories are created.
    model : nn.Module
    optimizer : torch.optim.Optimizer, optional
    epoch : int, optional
    history : History, optional
    **extra
        Plain values to store too (numbers, strings, lists, dicts, tensors):
        ``load_checkpoint`` reads with ``weights_only=True``, which refuses
        arbitrary Python objects.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if history is not None and not isinstance(history, History):
        raise TypeError(f"history must be a History or None, got {type(history).__name__}")
    _check_path(path)
    _check_optimizer(optimizer)
    if epoch is not None:
        check_nonneg_int(epoch, "epoch")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": _CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "epoch": epoch,
        "history": None if history is None else history.as_dict(),
        "extra": extra,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # KeyboardInterrupt included: never leave temporary files behind
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    Returns
    -------
    dict
        ``{"epoch": int or None, "history": History or None, "extra": dict}``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated, corrupt or not a coursekit checkpoint (the
        message names the path).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_path(path)
    _check_optimizer(optimizer)
    if isinstance(map_location, str):
        _as_device(map_location, "map_location")
    elif not isinstance(map_location, (torch.device, dict)) and not callable(map_location):
        raise TypeError(
            f"map_location must be a str such as 'cpu' or a torch.device, got {map_location!r}"
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be an existing checkpoint file, got {str(path)!r}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"checkpoint {str(path)!r} is truncated or corrupt and cannot be read "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(
            f"checkpoint {str(path)!r} was not written by coursekit.training.save_checkpoint"
        )
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        if payload["optimizer"] is None:
            raise ValueError(
                f"optimizer was given, but checkpoint {str(path)!r} holds no optimizer state"
            )
        optimizer.load_state_dict(payload["optimizer"])
    history = payload["history"]
    return {
        "epoch": payload["epoch"],
        "history": None if history is None else History.from_dict(history),
        "extra": payload["extra"],
    }
