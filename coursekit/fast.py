"""Training fast on a GPU (notebook 09): resident data, the fast recipe, honest timing.

Where the time goes in a tutorial training loop, and what this module does about it:

* **Data loading and host-to-device copies**: ``GpuLoader`` moves the whole
  (small) data set to the device once, normalises it once, and then only
  indexes it with a random permutation generated on the device. Augmentation
  runs on the batch, on the device (``coursekit.augment.BatchAugment``).
* **Precision and memory layout**: bf16 autocast and channels_last on CUDA
  (tensor cores want both); both are off on CPU, where they do not pay.
* **Kernel launches**: ``torch.compile`` fuses small ops (CUDA only, with a
  fallback when it is not available).
* **Measuring**: ``measure_throughput`` times full training steps with the
  device synchronised before and after, warm-up excluded; GPU work is
  asynchronous, so without a synchronise you time how fast Python can *queue*
  kernels, not how fast they run.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit._validate import (
    TORCH_SEED_MAX,
    check_bool,
    check_in,
    check_labels,
    check_nonneg_int,
    check_positive,
    check_positive_int,
    check_probability,
    check_seed,
)
from coursekit.augment import BatchAugment
from coursekit.datasets import ImageTensorDataset, check_images_and_labels
from coursekit.device import (
    amp_dtype,
    autocast,
    compile_available,
    describe_device,
    get_device,
    make_grad_scaler,
    prepare_model,
    use_channels_last,
)
from coursekit.timing import synchronize
from coursekit.training import _prepare_input, _resolve_amp, _TrainStep, eval_mode, fit

__all__ = [
    "GpuLoader",
    "train_fast",
    "evaluate_fast",
    "measure_throughput",
    "plain_loop_throughput",
    "speedup_ladder",
    "format_ladder",
    "copy_bandwidth",
    "achieved_tflops",
    "peak_tflops",
    "PEAK_TFLOPS",
    "synchronize",
    "warmup_linear_decay",
    "compile_available",
]


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #
def _resolve_device(device: Any) -> torch.device:
    return get_device(device, verbose=False)


def _device_generator(device: torch.device, seed: int) -> torch.Generator | None:
    """A seeded generator on ``device``, or None where the backend has none."""
    try:
        return torch.Generator(device=device).manual_seed(seed)
    except (RuntimeError, TypeError):  # e.g. an older MPS backend
        return None


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _as_tensor(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)
    raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(a).__name__}")


# --------------------------------------------------------------------------- #
# GPU-resident data loader
# --------------------------------------------------------------------------- #
class GpuLoader:
    """Iterate over a data set that lives entirely on the device.

    The images are copied to ``device`` once, scaled (uint8 -> [0, 1]),
    normalised per channel once and stored in ``dtype``. Each epoch draws a
    permutation on the device and slices it into batches; the batch is
    augmented on the device. Nothing crosses the PCIe bus during training.

    Parameters
    ----------
    X : Tensor or ndarray of shape (N, C, H, W)
        Images; uint8 is scaled to [0, 1], floats are taken as they are.
    y : Tensor or ndarray of shape (N,)
        Integer class labels.
    batch_size : int
    shuffle : bool
        New random order every epoch (reproducible from ``seed``).
    augment : BatchAugment or callable, optional
        Called as ``augment(x, generator)`` on each training batch.
    device : str or torch.device, optional
        Default ``get_device()``.
    dtype : torch.dtype, optional
        Storage dtype of the resident images: default ``amp_dtype(device)``
        (bf16 on recent CUDA GPUs, halving memory and bandwidth) or float32.
        Batches come out in this dtype; run the model under autocast.
    channels_last : bool, optional
        Default ``use_channels_last(device)`` (CUDA only).
    drop_last : bool
        Drop the last, smaller batch.
    seed : int
        Seed of the shuffling (epoch ``e`` uses ``seed + e``) and augmentation.
    normalize : bool
        Subtract ``mean`` and divide by ``std`` per channel.
    mean, std : sequence of float of length C, optional
        Default: the statistics of ``X`` itself, defined as in
        ``coursekit.datasets.normalization_stats`` (population std).

    Attributes
    ----------
    X : Tensor of shape (N, C, H, W) on ``device``
    y : Tensor of shape (N,), int64 on ``device``
    mean, std : Tensor of shape (C,), float32 (the values used)
    epoch : int
        Number of completed ``__iter__`` calls.

    Examples
    --------
    >>> loader = GpuLoader(X, y, batch_size=512, augment=BatchAugment())
    >>> for xb, yb in loader:  # xb: (512, C, H, W), yb: (512,) on the device
    ...     ...
    """

    def __init__(
        self,
        X: torch.Tensor | np.ndarray,
        y: torch.Tensor | np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        augment: BatchAugment | Callable | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        channels_last: bool | None = None,
        drop_last: bool = False,
        seed: int = 0,
        normalize: bool = True,
        mean: Any = None,
        std: Any = None,
    ) -> None:
        check_bool(shuffle, "shuffle")
        check_bool(drop_last, "drop_last")
        check_bool(normalize, "normalize")
        X = _as_tensor(X, "X")
        y = _as_tensor(y, "y")
        check_images_and_labels(X, y)
        check_labels(y, None, "y")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        # seed + epoch seeds each epoch's order: keep it inside torch's range for ages
        self.seed = check_seed(seed, for_torch=True)
        if self.seed > TORCH_SEED_MAX - 2**32:
            raise ValueError(f"seed must be an integer in [0, 2**63 - 2**32 - 1], got {seed}")
        if augment is not None and not callable(augment):
            raise TypeError(
                f"augment must be callable (e.g. BatchAugment) or None, got {augment!r}"
            )
        self.shuffle, self.drop_last, self.augment = bool(shuffle), bool(drop_last), augment
        self.device = _resolve_device(device)
        if dtype is None:
            dtype = amp_dtype(self.device) or torch.float32
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype or None, got {dtype!r}")
        self.dtype = dtype
        cl = check_bool(channels_last, "channels_last", allow_none=True)
        self.channels_last = use_channels_last(self.device) if cl is None else cl

        # The one and only host-to-device copy; normalise in float32 on the device.
        Xd = X.to(self.device)
        Xd = Xd.float() / 255.0 if Xd.dtype == torch.uint8 else Xd.float()
        c = Xd.shape[1]
        if normalize:
            self.mean = self._channel_stat(mean, Xd.mean(dim=(0, 2, 3)), "mean", c)
            # correction=0: the population std, as coursekit.datasets defines it.
            std_x = Xd.std(dim=(0, 2, 3), correction=0)
            self.std = self._channel_stat(std, std_x, "std", c)
            if torch.any(self.std <= 0):
                raise ValueError(f"std must be > 0 for every channel, got {self.std.tolist()}")
            Xd = (Xd - self.mean.view(1, c, 1, 1)) / self.std.view(1, c, 1, 1)
        else:
            self.mean = torch.zeros(c, device=self.device)
            self.std = torch.ones(c, device=self.device)
        Xd = Xd.to(dtype)
        if self.channels_last:
            Xd = Xd.contiguous(memory_format=torch.channels_last)
        self.X = Xd
        self.y = y.to(self.device, torch.int64)
        self.epoch = 0
        self._generator = _device_generator(self.device, self.seed)

    def _channel_stat(self, value: Any, default: torch.Tensor, name: str, c: int) -> torch.Tensor:
        if value is None:
            return default
        t = torch.as_tensor(value, dtype=torch.float32, device=self.device).flatten()
        if t.numel() != c:
            raise ValueError(
                f"{name} must have one value per channel ({c}), got {t.numel()}: {t.tolist()}"
            )
        if not torch.all(torch.isfinite(t)):
            raise ValueError(f"{name} must hold finite numbers, got {t.tolist()}")
        return t

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        gen = self._generator
        if gen is not None:
            gen.manual_seed(self.seed + self.epoch)
        if self.shuffle:
            order = torch.randperm(n, device=self.device, generator=gen)  # (N,) on the device
        else:
            order = torch.arange(n, device=self.device)
        self.epoch += 1
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            xb, yb = self.X[idx], self.y[idx]
            if self.augment is not None:
                xb = self.augment(xb, gen)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield xb, yb

    def __repr__(self) -> str:
        return (
            f"GpuLoader(n={len(self.y)}, batch_size={self.batch_size}, device={self.device}, "
            f"dtype={self.dtype}, channels_last={self.channels_last}, augment={self.augment!r})"
        )


# --------------------------------------------------------------------------- #
# the fast training recipe
# --------------------------------------------------------------------------- #
def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # Weight decay on weight matrices and kernels only: decaying biases and
    # BatchNorm's gamma/beta only fights the normalisation and costs accuracy.
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def warmup_linear_decay(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate factor for LambdaLR: linear warm-up to 1, then linear decay to 0.

    ``factor(step)`` for ``step = 0 .. total_steps - 1``; a one-cycle shape.
    """
    total_steps = check_positive_int(total_steps, "total_steps")
    warmup_steps = check_nonneg_int(warmup_steps, "warmup_steps")

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def train_fast(
    model: nn.Module,
    train_loader: Any,
    epochs: int,
    lr: float,
    *,
    val_loader: Any = None,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    label_smoothing: float = 0.1,
    warmup: float = 0.2,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train ``model`` with the course's fast recipe, through ``training.fit``.

    The recipe: SGD with Nesterov momentum; learning rate warmed up linearly
    for the first ``warmup`` fraction of steps, then decayed linearly to 0 (a
    one-cycle schedule, stepped every batch); cross-entropy with label
    smoothing; weight decay on weights only; bf16 autocast and channels_last
    on CUDA (BatchNorm stays in float32 under autocast); torch.compile where
    available. The loop itself is ``coursekit.training.fit``'s.

    Parameters
    ----------
    model : nn.Module
        Maps (N, C, H, W) to logits (N, K); moved to ``device`` in place.
    train_loader : iterable of (x, y)
        ``GpuLoader`` (or any loader) with x of shape (N, C, H, W), y of shape (N,).
    epochs : int
    lr : float
        Peak learning rate.
    val_loader : iterable of (x, y), optional
        Evaluated after every epoch.
    momentum, weight_decay, label_smoothing : float
    warmup : float in [0, 1)
        Fraction of all steps spent warming up.
    device : str or torch.device, optional
        Default: ``train_loader.device`` if it has one, else ``get_device()``.
    amp : bool, optional
        Mixed precision; None = on where ``amp_dtype(device)`` says so (CUDA).
    channels_last : bool, optional
        None = on CUDA only.
    compile : bool, optional
        torch.compile the model; None = only on CUDA with Triton available.
        If compiling fails, a note is printed and training continues eagerly.
    verbose : bool
        Print the device used, then one line per epoch (``fit``'s output).

    Returns
    -------
    history : dict
        ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr`` (lists,
        one entry per epoch; ``val_*`` empty without ``val_loader``; ``lr`` at
        the start of each epoch), ``epoch_time`` (seconds per epoch, training
        and validation), ``total_time``, ``compiled``, ``amp_dtype`` (str or
        None), ``channels_last``, ``device``.
    """
    model = _check_model(model)
    epochs = check_positive_int(epochs, "epochs")
    lr = check_positive(lr, "lr")
    momentum = check_probability(momentum, "momentum")
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
    label_smoothing = check_probability(label_smoothing, "label_smoothing")
    warmup = check_probability(warmup, "warmup")
    amp = check_bool(amp, "amp", allow_none=True)
    channels_last = check_bool(channels_last, "channels_last", allow_none=True)
    compile = check_bool(compile, "compile", allow_none=True)
    check_bool(verbose, "verbose")
    try:
        steps_per_epoch = len(train_loader)
    except TypeError as exc:
        raise TypeError(
            f"train_loader must have a length (GpuLoader or DataLoader), got "
            f"{type(train_loader).__name__}"
        ) from exc
    if steps_per_epoch < 1:
        raise ValueError(
            f"train_loader must yield at least one batch, got an empty loader "
            f"(len {steps_per_epoch})"
        )

    if device is None:
        device = getattr(train_loader, "device", None)
    device = _resolve_device(device)
    use_amp = _resolve_amp(amp, device)
    cl = use_channels_last(device) if channels_last is None else channels_last
    prepare_model(model, device, channels_last=cl)  # before the optimizer sees the parameters

    optimizer = torch.optim.SGD(
        _param_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=momentum > 0
    )
    total = epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_linear_decay(total, round(warmup * total))
    )
    hist = fit(
        model, train_loader, val_loader, epochs=epochs, optimizer=optimizer,
        loss_fn=nn.CrossEntropyLoss(label_smoothing=label_smoothing), scheduler=scheduler,
        scheduler_interval="batch", device=device, amp=use_amp, channels_last=cl,
        compile=compile, progress=False, verbose=verbose,
    )  # fmt: skip
    return {
        **{k: list(getattr(hist, k)) for k in ("train_loss", "train_acc", "val_loss", "val_acc")},
        "lr": list(hist.lr),
        "epoch_time": list(hist.epoch_time),
        "total_time": float(sum(hist.epoch_time)),
        "compiled": hist.compiled,
        "amp_dtype": str(amp_dtype(device)).replace("torch.", "") if use_amp else None,
        "channels_last": cl,
        "device": str(device),
    }


@torch.no_grad()
def evaluate_fast(
    model: nn.Module,
    loader: Any,
    tta_flip: bool = False,
    device: str | torch.device | None = None,
    amp: bool | None = None,
) -> float:
    """Classification accuracy of ``model`` on ``loader``.

    Parameters
    ----------
    model : nn.Module
        (N, C, H, W) -> logits (N, K); switched to eval mode and back.
    loader : iterable of (x, y)
        x of shape (N, C, H, W), y of shape (N,). A ``GpuLoader`` used here
        should have ``augment=None`` and ``shuffle=False``.
    tta_flip : bool
        Test-time augmentation: add the logits of the left-right flipped image.
    device : str or torch.device, optional
        Default: ``loader.device`` if it has one, else the model's device.
    amp : bool, optional
        None = autocast where ``amp_dtype(device)`` says so.

    Returns
    -------
    accuracy : float in [0, 1]
    """
    model = _check_model(model)
    if not isinstance(loader, Iterable) or isinstance(loader, (str, bytes)):
        raise TypeError(
            f"loader must be an iterable of (inputs, labels) batches, such as a GpuLoader, "
            f"got {type(loader).__name__}"
        )
    check_bool(tta_flip, "tta_flip")
    amp = check_bool(amp, "amp", allow_none=True)
    if device is None:
        device = getattr(loader, "device", None)
        if device is None:
            p = next(model.parameters(), None)
            device = p.device if p is not None else None
    device = _resolve_device(device)
    use_amp = _resolve_amp(amp, device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    with eval_mode(model):
        for xb, yb in loader:
            xb = _prepare_input(xb, model, device, False, use_amp)  # keeps the batch's layout
            yb = yb.to(device, non_blocking=True)
            with autocast(device, enabled=use_amp):
                logits = model(xb).float()
                if tta_flip:
                    logits = logits + model(xb.flip(-1)).float()
            correct += (logits.argmax(dim=1) == yb).sum()
            seen += len(yb)
    if seen == 0:
        raise ValueError("loader must yield at least one batch, got an empty loader")
    return float(correct) / seen


# --------------------------------------------------------------------------- #
# throughput
# --------------------------------------------------------------------------- #
class _Float16Step(_TrainStep):
    """``_TrainStep`` under float16 autocast, whatever the device's default dtype."""

    def _run(
        self, fn: Callable, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16):
            out = fn(x)
            loss = self.loss_fn(out, y)
        self.scaler.scale(loss).backward()  # scaled up, so small gradients stay above zero
        return out, loss


def _make_optimizer(model: nn.Module, optimizer: str) -> torch.optim.Optimizer:
    if optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


def _num_outputs(model: nn.Module, shape: tuple[int, ...], device: torch.device) -> int:
    # eval mode: no BatchNorm running-statistics update from the probe
    try:
        with eval_mode(model), torch.no_grad():
            out = model(torch.zeros(1, *shape, device=device))
    except RuntimeError as exc:
        raise ValueError(
            f"input_shape must fit the model: {type(model).__name__} cannot run on "
            f"input_shape {shape}. PyTorch said: {exc}"
        ) from exc
    if out.ndim != 2:
        raise ValueError(f"model must return logits of shape (N, K), got shape {tuple(out.shape)}")
    return out.shape[1]


def _check_input_shape(input_shape: Any, name: str = "input_shape") -> tuple[int, ...]:
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(f"{name} must be a tuple like (3, 32, 32), got {input_shape!r}")
    return tuple(check_positive_int(s, f"{name}[{i}]") for i, s in enumerate(input_shape))


def _timed_steps(
    run_step: Callable[[int], None],
    steps: int,
    warmup: int,
    device: torch.device,
    repeats: int = 1,
) -> list[float]:
    """Run ``warmup`` untimed steps, then time ``repeats`` runs of ``steps`` steps.

    Returns the seconds of each run (length ``repeats``).
    """
    for i in range(warmup):
        run_step(i)
    synchronize(device)  # warm-up work must be finished before the clock starts
    times = []
    i = warmup
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            run_step(i)
            i += 1
        synchronize(device)  # ... and the timed work finished before it stops
        times.append(time.perf_counter() - t0)
    return times


def _timing_args(
    model: Any,
    input_shape: Any,
    batch_size: Any,
    steps: Any,
    warmup: Any,
    repeats: Any,
    optimizer: Any,
) -> tuple[nn.Module, tuple[int, ...], int, int, int, int, str]:
    """The arguments every throughput function takes, validated."""
    return (
        _check_model(model),
        _check_input_shape(input_shape),
        check_positive_int(batch_size, "batch_size"),
        check_positive_int(steps, "steps"),
        check_nonneg_int(warmup, "warmup"),
        check_positive_int(repeats, "repeats"),
        check_in(optimizer, ("sgd", "adamw"), "optimizer"),
    )


def _report(
    times: list[float],
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    repeats: int,
    optimizer: str,
    **loop: Any,
) -> dict[str, Any]:
    """A throughput result: the median run, every run (their spread is the noise), the settings."""
    ips = sorted(steps * batch_size / t for t in times)
    median = float(np.median(ips))
    return {
        "images_per_s": median,
        "step_ms": 1000.0 * batch_size / median,
        "images_per_s_runs": ips,
        "device": describe_device(device),
        **loop,
        "batch_size": batch_size,
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
        "optimizer": optimizer,
    }


def measure_throughput(
    model: nn.Module,
    input_shape: tuple[int, ...] = (3, 32, 32),
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 5,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool = False,
    optimizer: str = "sgd",
    augment: BatchAugment | Callable | None = None,
    repeats: int = 1,
    fp16: bool = False,
) -> dict[str, Any]:
    """Training throughput of ``model`` on synthetic data already on the device.

    Each step is a full training step: (augment,) forward, cross-entropy,
    backward, optimizer step. The device is synchronised before and after the
    timed steps and the ``warmup`` steps (cuDNN autotuning, compilation,
    allocator growth) are excluded. A deep copy of ``model`` is trained, so
    the original is left untouched.

    Parameters
    ----------
    model : nn.Module
        (N, *input_shape) -> logits (N, K).
    input_shape : tuple of int
        Shape of one example, e.g. (3, 32, 32).
    batch_size, steps : int
    warmup : int
        Untimed steps first (>= 0).
    device : str or torch.device, optional
    amp : bool, optional
        None = autocast where ``amp_dtype(device)`` says so (CUDA).
    channels_last : bool, optional
        None = on CUDA only.
    compile : bool
        torch.compile the copy (falls back to eager with a note if it fails).
    optimizer : {"sgd", "adamw"}
    augment : BatchAugment or callable, optional
        GPU-side augmentation applied to every batch (part of the timed step).
    repeats : int
        Time ``repeats`` runs of ``steps`` steps and report the median run
        (GPU clocks and the host add noise; the spread of the runs shows it).
    fp16 : bool
        Autocast to float16 instead of the device's default (bf16) with an
        active ``torch.amp.GradScaler``: float16's small range makes small
        gradients underflow, so the loss is scaled up before ``backward`` and
        a step whose scaled gradients overflowed is skipped. CUDA only.

    Returns
    -------
    result : dict
        ``images_per_s`` and ``step_ms`` (of the median run),
        ``images_per_s_runs`` (every run, sorted), ``device`` (name), ``dtype``
        (compute dtype), ``channels_last``, ``compiled``, ``batch_size``,
        ``steps``, ``warmup``, ``repeats``, ``optimizer``, ``loop`` ("resident").
    """
    model, shape, batch_size, steps, warmup, repeats, optimizer = _timing_args(
        model, input_shape, batch_size, steps, warmup, repeats, optimizer
    )
    amp = check_bool(amp, "amp", allow_none=True)
    channels_last = check_bool(channels_last, "channels_last", allow_none=True)
    check_bool(compile, "compile")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable (e.g. BatchAugment) or None, got {augment!r}")
    device = _resolve_device(device)
    check_bool(fp16, "fp16")
    if fp16 and device.type != "cuda":
        raise ValueError(f"fp16 needs a CUDA device, got {str(device)!r}")
    use_amp = fp16 or _resolve_amp(amp, device)
    cl = use_channels_last(device) if channels_last is None else channels_last

    net = prepare_model(copy.deepcopy(model), device, channels_last=cl)
    net.train()
    num_classes = _num_outputs(net, shape, device)
    opt = _make_optimizer(net, optimizer)
    if fp16:
        scaler = torch.amp.GradScaler("cuda")
    else:
        scaler = make_grad_scaler(device, enabled=use_amp)

    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(batch_size, *shape, generator=gen).to(device)
    y = torch.randint(0, num_classes, (batch_size,), generator=gen).to(device)
    if cl and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    aug_gen = _device_generator(device, 0)

    step_class = _Float16Step if fp16 else _TrainStep
    step = step_class(
        net, compile, opt, scaler, F.cross_entropy, device, use_amp, "timing eager mode"
    )

    def run_step(i: int) -> None:
        xb = augment(x, aug_gen) if augment is not None else x
        if cl and xb.ndim == 4:
            xb = xb.contiguous(memory_format=torch.channels_last)
        step(xb, y)
        scaler.step(opt)
        scaler.update()

    # With compile, the first (untimed) call is where compilation happens or fails.
    first_calls = max(warmup, 1) if step.compiled else warmup
    times = _timed_steps(run_step, steps, first_calls, device, repeats)
    dtype = torch.float16 if fp16 else (amp_dtype(device) if use_amp else torch.float32)
    dtype_name = str(dtype).replace("torch.", "")
    return _report(
        times, device, batch_size, steps, warmup, repeats, optimizer,
        dtype=dtype_name,
        channels_last=cl, compiled=step.compiled, loop="resident",
    )  # fmt: skip


def plain_loop_throughput(
    model: nn.Module,
    input_shape: tuple[int, ...] = (3, 32, 32),
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 5,
    device: str | torch.device | None = None,
    num_workers: int = 0,
    optimizer: str = "sgd",
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Throughput of the loop a tutorial would write, for comparison.

    float32, no channels_last, no compile; a shuffling ``DataLoader`` on the
    CPU and a ``.to(device)`` copy of every batch. With ``transform`` it is
    the tutorial's whole input pipeline: uint8 images augmented one at a time
    by ``transform`` in ``num_workers`` worker processes (the PyTorch CIFAR-10
    tutorial uses 2), then collated; without it, ready float32 tensors are
    only collated. Same timing rules as ``measure_throughput`` (synchronised,
    warm-up excluded: worker start-up happens there), and a deep copy of
    ``model`` is trained.

    Parameters
    ----------
    model : nn.Module
    input_shape : tuple of int
        (C, H, W) of one image.
    batch_size, steps : int
    warmup : int
    device : str or torch.device, optional
    num_workers : int
        DataLoader worker processes (0 = load in the main process).
    optimizer : {"sgd", "adamw"}
    transform : callable, optional
        Maps a uint8 image of shape ``input_shape`` to a float32 tensor of the
        same shape, e.g. ``coursekit.augment.train_transforms("cifar10", mean, std)``
        (random crop, flip, scaling and normalisation).
    repeats : int
        Timed runs of ``steps`` steps; the median run is reported.

    Returns
    -------
    result : dict
        Same keys as ``measure_throughput`` with ``loop`` = "plain" (no
        transform) or "tutorial" (with one), plus ``num_workers``.
    """
    model, shape, batch_size, steps, warmup, repeats, optimizer = _timing_args(
        model, input_shape, batch_size, steps, warmup, repeats, optimizer
    )
    num_workers = check_nonneg_int(num_workers, "num_workers")
    if transform is not None and not callable(transform):
        raise TypeError(
            f"transform must be callable (e.g. augment.train_transforms(...)) or None, "
            f"got {transform!r}"
        )
    device = _resolve_device(device)

    net = copy.deepcopy(model).to(device)
    net.train()
    num_classes = _num_outputs(net, shape, device)
    opt = _make_optimizer(net, optimizer)

    gen = torch.Generator().manual_seed(0)
    n = batch_size * (warmup + steps * repeats)
    labels = torch.randint(0, num_classes, (n,), generator=gen)
    if transform is None:
        data: torch.utils.data.Dataset = torch.utils.data.TensorDataset(
            torch.randn(n, *shape, generator=gen), labels
        )
    else:
        images = torch.randint(0, 256, (n, *shape), generator=gen, dtype=torch.uint8)
        data = ImageTensorDataset(images, labels, transform)  # per image, like CIFAR10
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, num_workers=num_workers, drop_last=True
    )
    batches = iter(loader)

    def run_step(i: int) -> None:
        xb, yb = next(batches)
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad()
        loss = F.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()

    # The workers stop when `batches` goes out of scope at return.
    times = _timed_steps(run_step, steps, warmup, device, repeats)
    return _report(
        times, device, batch_size, steps, warmup, repeats, optimizer,
        dtype="float32", channels_last=False, compiled=False,
        loop="plain" if transform is None else "tutorial", num_workers=num_workers,
    )  # fmt: skip


def speedup_ladder(
    model: nn.Module,
    input_shape: tuple[int, ...] = (3, 32, 32),
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 5,
    device: str | torch.device | None = None,
    num_workers: int = 2,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    augment: BatchAugment | Callable | None = None,
    repeats: int = 1,
    batch_factor: int = 4,
) -> list[dict[str, Any]]:
    """Training throughput as the fast path's changes are added one at a time.

    Every row trains on augmented data (crop and flip), so each row does the
    same work per image and differs from the row it builds on in one change:

    1. ``tutorial loop``: ``plain_loop_throughput`` with ``transform`` run per
       image in ``num_workers`` DataLoader workers, float32;
    2. ``resident data + batched augmentation``: the batch is on the device
       and ``augment`` transforms the whole batch there;
    3. ``+ channels_last``;
    4. ``+ bf16 autocast`` (only where ``amp_dtype(device)`` is not None: CUDA);
    5. ``fp16 autocast + grad scaler``: row 4 with float16 instead of bfloat16
       and an active gradient scaler, for comparison (CUDA only);
    6. ``+ torch.compile``: row 4 compiled (only where ``compile_available(device)``);
    7. ``+ batch B``: the last row that ran, with ``batch_factor`` times the batch.

    Parameters
    ----------
    model : nn.Module
        (N, *input_shape) -> logits (N, K); deep copies are trained.
    input_shape : tuple of int
        (C, H, W) of one image.
    batch_size, steps, warmup : int
        As in ``measure_throughput``.
    device : str or torch.device, optional
    num_workers : int
        Worker processes of the tutorial loop (2, as in the PyTorch tutorial).
    transform : callable, optional
        Per-image transform of the tutorial loop; default
        ``augment.train_transforms("cifar10", ...)`` with the statistics of the
        synthetic uniform images.
    augment : BatchAugment or callable, optional
        Batch augmentation of the other rows; default crop (4 pixels) and flip.
    repeats : int
        Timed runs per row; each row reports its median run.
    batch_factor : int
        How much larger the batch of the last row is (>= 2).

    Returns
    -------
    rows : list of dict
        ``step`` (name), ``images_per_s``, ``speedup`` (over the first row),
        ``skipped`` (a reason, or None; skipped rows have ``images_per_s`` None).
    """
    from coursekit.augment import train_transforms

    device = _resolve_device(device)
    batch_factor = check_positive_int(batch_factor, "batch_factor")
    if batch_factor < 2:
        raise ValueError(f"batch_factor must be >= 2, got {batch_factor}")
    if transform is None:
        # Uniform uint8 pixels scaled to [0, 1]: mean 1/2, std sqrt((256^2 - 1) / 12) / 255.
        transform = train_transforms("cifar10", mean=(0.5,) * 3, std=(0.2898,) * 3)
    if augment is None:
        augment = BatchAugment(flip=True, crop_padding=4)
    kw = dict(input_shape=input_shape, steps=steps, warmup=warmup, device=device, repeats=repeats)
    no_amp = amp_dtype(device) is None
    no_compile = not compile_available(device)
    fp32_cl = dict(amp=False, channels_last=True)
    bf16_cl = dict(channels_last=True)
    # (name, settings of measure_throughput, reason to skip); the first row is the tutorial's
    plan: list[tuple[str, dict[str, Any] | None, str | None]] = [
        (f"tutorial loop ({num_workers} workers)", None, None),
        ("resident data + batched augmentation", dict(amp=False, channels_last=False), None),
        ("+ channels_last", fp32_cl, None),
        ("+ bf16 autocast", bf16_cl, "needs CUDA" if no_amp else None),
        (
            "fp16 autocast + grad scaler",
            dict(bf16_cl, fp16=True),
            "needs CUDA" if device.type != "cuda" else None,
        ),
        (
            "+ torch.compile",
            dict(bf16_cl, compile=True),
            "needs CUDA and Triton" if no_compile else None,
        ),
    ]
    rows: list[dict[str, Any]] = []
    base = None
    last_run: dict[str, Any] = fp32_cl
    for name, settings, skipped in plan:
        if skipped is not None:
            rows.append({"step": name, "images_per_s": None, "speedup": None, "skipped": skipped})
            continue
        if settings is None:
            result = plain_loop_throughput(
                model, **kw, batch_size=batch_size, num_workers=num_workers, transform=transform
            )
        else:
            result = measure_throughput(
                model, **kw, batch_size=batch_size, augment=augment, **settings
            )
            if not settings.get("fp16"):
                last_run = settings
        ips = result["images_per_s"]
        base = base or ips
        rows.append({"step": name, "images_per_s": ips, "speedup": ips / base, "skipped": None})
    big = batch_factor * batch_size
    ips = measure_throughput(model, **kw, batch_size=big, augment=augment, **last_run)[
        "images_per_s"
    ]
    rows.append(
        {"step": f"+ batch {big}", "images_per_s": ips, "speedup": ips / base, "skipped": None}
    )
    return rows


def copy_bandwidth(
    device: str | torch.device | None = None,
    batch_shape: tuple[int, ...] = (512, 3, 32, 32),
    repeats: int = 20,
) -> list[dict[str, Any]]:
    """Host-to-device copy speed of one float32 batch: pageable, pinned, pinned + non_blocking.

    A tensor in ordinary (pageable) host memory is first copied by the driver
    into a pinned (page-locked) staging buffer, then over the bus; a tensor
    that is already pinned skips the first copy, and only a pinned source lets
    ``.to(device, non_blocking=True)`` return before the copy has finished, so
    that the CPU can queue the next kernels meanwhile (``DataLoader(...,
    pin_memory=True)`` does the pinning). Each copy is timed with the device
    synchronised, best of ``repeats``.

    Parameters
    ----------
    device : str or torch.device, optional
    batch_shape : tuple of int
        Shape of the float32 batch copied.
    repeats : int

    Returns
    -------
    rows : list of dict
        ``copy`` (name), ``gb_per_s`` (None where it cannot be measured),
        ``ms`` (per batch), ``skipped`` (the reason, or None). Without CUDA
        there is no bus between host and device to measure: every row is
        skipped.
    """
    device = _resolve_device(device)
    shape = _check_input_shape(batch_shape, "batch_shape")
    repeats = check_positive_int(repeats, "repeats")
    names = ("pageable", "pinned", "pinned, non_blocking")
    if device.type != "cuda":
        reason = f"{device.type}: no host-to-device bus, and pinned memory needs CUDA"
        return [{"copy": n, "gb_per_s": None, "ms": None, "skipped": reason} for n in names]
    host = torch.randn(shape)
    pinned = host.pin_memory()
    rows = []
    for name, src, non_blocking in zip(
        names, (host, pinned, pinned), (False, False, True), strict=True
    ):
        best = math.inf
        for _ in range(repeats + 1):  # the first copy is a warm-up
            synchronize(device)
            t0 = time.perf_counter()
            src.to(device, non_blocking=non_blocking)
            synchronize(device)
            best = min(best, time.perf_counter() - t0)
        gb = host.numel() * host.element_size() / 1e9
        rows.append({"copy": name, "gb_per_s": gb / best, "ms": 1e3 * best, "skipped": None})
    return rows


def format_ladder(rows: list[dict[str, Any]], macs_per_image: float) -> str:
    """The rows of ``speedup_ladder`` as a text table: images/s, speed-up, achieved TFLOP/s.

    Parameters
    ----------
    rows : list of dict
        From ``speedup_ladder``.
    macs_per_image : float
        Multiply-accumulates of one forward pass (``summary.count_macs``).

    Returns
    -------
    table : str
        A header line and one line per row; skipped rows name the reason.
    """
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"rows must be a list of rows (dicts) from speedup_ladder, got {rows!r}")
    if not rows:
        raise ValueError(f"rows must hold at least one row, got {rows!r}")
    check_positive(macs_per_image, "macs_per_image")
    lines = [f"{'step':38s} {'images/s':>10s} {'speed-up':>9s} {'TFLOP/s':>9s}"]
    for row in rows:
        if row["images_per_s"] is None:
            lines.append(f"{row['step']:38s} skipped ({row['skipped']})")
            continue
        ips = row["images_per_s"]
        tflops = achieved_tflops(macs_per_image, ips)
        lines.append(f"{row['step']:38s} {ips:10,.0f} {row['speedup']:8.2f}x {tflops:9.3f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# FLOP/s
# --------------------------------------------------------------------------- #
def achieved_tflops(
    macs_per_image: float, images_per_s: float, training_factor: float = 3
) -> float:
    """Achieved TFLOP/s of training: 2 FLOPs per MAC, a step costs ~3 forward passes.

    The backward pass computes two products per forward one (gradient with
    respect to the input and to the weights), hence ``training_factor = 3``.

    Parameters
    ----------
    macs_per_image : float
        Multiply-accumulates of one forward pass for one image.
    images_per_s : float
        Measured training throughput.
    training_factor : float
        Cost of a training step in forward passes.

    Returns
    -------
    tflops : float
        ``2 * macs_per_image * training_factor * images_per_s / 1e12``.
    """
    macs = check_positive(macs_per_image, "macs_per_image")
    ips = check_positive(images_per_s, "images_per_s", allow_zero=True)
    factor = check_positive(training_factor, "training_factor")
    return 2.0 * macs * factor * ips / 1e12


# Dense (no 2:4 sparsity) bf16 tensor-core peak in TFLOP/s, float32 accumulation.
# Sources: NVIDIA datasheets (H100/H200 "Tensor Core GPU" datasheets, A100
# datasheet, L4 and L40S datasheets, Ada and Ampere GeForce architecture
# whitepapers). Datasheets quote "with sparsity" figures: these are half of them.
# Order matters: the first key contained in the device name wins.
PEAK_TFLOPS: dict[str, float] = {
    "GH200": 989.0,
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.0,  # SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    "H800": 989.0,
    "B200": 2250.0,
    "A100": 312.0,  # SXM and PCIe alike
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,  # AWS variant of the A10, lower clocks
    "A10": 125.0,
    "RTX 6000 Ada": 364.0,
    "RTX A6000": 155.0,
    "RTX 4090": 165.0,  # fp32 accumulation (twice that with fp16 accumulation)
    "RTX 4080": 97.0,
    "RTX 3090": 71.0,
    "RTX 3080": 59.5,
}


def peak_tflops(device: str | torch.device) -> float | None:
    """Dense bf16 peak TFLOP/s of a known GPU, or None (CPU, MPS, unknown GPU).

    Parameters
    ----------
    device : str or torch.device
        A CUDA device (its name is looked up), ``"cpu"``, or a GPU name such
        as ``"NVIDIA H100 PCIe"``.

    Returns
    -------
    peak : float or None
    """
    if isinstance(device, torch.device):
        dev: torch.device | None = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError:  # not a device string: take it as a GPU name
            dev = None
    else:
        raise TypeError(
            f"device must be a torch.device or str, got {device!r} ({type(device).__name__})"
        )
    if dev is not None:
        if dev.type != "cuda" or not torch.cuda.is_available():
            return None
        name = torch.cuda.get_device_name(dev)
    else:
        name = device
    for key, value in PEAK_TFLOPS.items():
        if key.lower() in name.lower():
            return value
    return None
