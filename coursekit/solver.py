"""A NumPy mini-batch training loop for ``Layer`` models (notebooks 04 and 05).

One epoch: shuffle the training set, then for each mini-batch run
forward -> loss -> backward -> optimiser step. The loop is the same one the
PyTorch notebooks use, written out in NumPy so every step is visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_in,
    check_labels,
    check_ndim,
    check_nonneg_int,
    check_positive_int,
    check_same_length,
    check_seed,
)
from coursekit.base import Layer
from coursekit.losses import mse, mse_grad, softmax_cross_entropy

__all__ = ["train_numpy", "predict", "accuracy"]

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def _mse_loss(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    target = np.asarray(target, dtype=pred.dtype).reshape(pred.shape)
    return mse(pred, target), mse_grad(pred, target)


def _loss_fn(loss: str | LossFn) -> tuple[LossFn, bool]:
    """Return (loss_fn, is_classification)."""
    if callable(loss):
        return loss, True
    check_in(loss, ["cross_entropy", "mse"], "loss")
    return (softmax_cross_entropy, True) if loss == "cross_entropy" else (_mse_loss, False)


def _check_model(model: Any) -> None:
    if not isinstance(model, Layer):
        raise TypeError(
            f"model must be a coursekit Layer (e.g. Sequential), got {type(model).__name__}"
        )


def predict(model: Layer, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs in evaluation mode, batch by batch (the model's mode is restored).

    Parameters
    ----------
    model : Layer
    X : ndarray of shape (N, ...), the model's input
    batch_size : int

    Returns
    -------
    ndarray of shape (N, K), the logits (or whatever the model outputs)
    """
    _check_model(model)
    X = as_float_array(X, "X")
    batch_size = check_positive_int(batch_size, "batch_size")
    if len(X) == 0:
        raise ValueError(f"X must hold at least one example, got shape {X.shape}")
    was_training = model.training
    model.eval()
    try:
        outs = [model.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outs, axis=0)


def accuracy(logits_or_labels: np.ndarray, y: np.ndarray) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    logits_or_labels : ndarray of shape (N, K) (scores: argmax is taken) or (N,) (labels)
    y : ndarray of shape (N,), integer labels

    Returns
    -------
    float in [0, 1]
    """
    pred = np.asarray(logits_or_labels)
    y = np.asarray(y)
    check_ndim(pred, (1, 2), "logits_or_labels", "(N, K) scores or (N,) labels")
    check_ndim(y, 1, "y", "(N,) labels")
    check_same_length(pred, y, "logits_or_labels", "y")
    if len(y) == 0:
        raise ValueError("y must hold at least one label, got an empty array")
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    return float(np.mean(pred == y))


def _evaluate(
    model: Layer, X: np.ndarray, y: np.ndarray, loss_fn: LossFn, classify: bool, batch_size: int
) -> tuple[float, float]:
    out = predict(model, X, batch_size)
    loss, _ = loss_fn(out, y)
    return float(loss), accuracy(out, y) if classify else float("nan")


def train_numpy(
    model: Layer,
    X_train: np.ndarray,
    y_train: np.ndarray,
    optimizer: Any,
    epochs: int = 10,
    batch_size: int = 64,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    loss: str | LossFn = "cross_entropy",
    seed: int = 0,
    progress: bool = True,
    verbose: bool = False,
) -> dict[str, list[float]]:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Layer, maps (B, ...) inputs to (B, K) logits
    X_train : ndarray of shape (N, ...)
    y_train : ndarray of shape (N,), integer labels (or targets for loss="mse")
    optimizer : a coursekit.optimizers optimiser built on ``model.parameters()``
        (anything with ``zero_grad()`` and ``step()``)
    epochs, batch_size : int
    X_val, y_val : optional validation set, evaluated after every epoch in eval mode
    loss : "cross_entropy" (softmax + cross-entropy on logits), "mse", or a callable
        ``(outputs, y) -> (loss, doutputs)``
    seed : int, seeds the shuffling, so a run is reproducible
    progress : bool, show a tqdm bar over epochs
    verbose : bool, print one line per epoch

    Returns
    -------
    dict with lists (one value per epoch) "train_loss", "train_acc", "val_loss",
    "val_acc". Training values are averages over the epoch's mini-batches (the
    model changes during the epoch); validation lists stay empty without a
    validation set. Accuracies are NaN for loss="mse".
    """
    _check_model(model)
    for name in ("zero_grad", "step"):
        if not callable(getattr(optimizer, name, None)):
            raise TypeError(f"optimizer must have zero_grad() and step(), got {optimizer!r}")
    X_train = as_float_array(X_train, "X_train")
    y_train = np.asarray(y_train)
    check_same_length(X_train, y_train, "X_train", "y_train")
    if len(X_train) == 0:
        raise ValueError(f"X_train must hold at least one example, got shape {X_train.shape}")
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together (or both left as None)")
    if X_val is not None:
        X_val = as_float_array(X_val, "X_val")
        y_val = np.asarray(y_val)
        check_same_length(X_val, y_val, "X_val", "y_val")
    epochs = check_nonneg_int(epochs, "epochs")
    progress = check_bool(progress, "progress")
    verbose = check_bool(verbose, "verbose")
    batch_size = check_positive_int(batch_size, "batch_size")
    loss_fn, classify = _loss_fn(loss)
    if isinstance(loss, str) and loss == "cross_entropy":  # labels: never NaN or inf
        check_labels(y_train, None, "y_train")
        if y_val is not None:
            check_labels(y_val, None, "y_val")
    rng = np.random.default_rng(check_seed(seed))

    history: dict[str, list[float]] = {
        "train_loss": [],
        "train_acc": [],
        "val_loss": [],
        "val_acc": [],
    }
    epoch_iter: Any = range(epochs)
    bar = None
    # No bar while outputs are stored: a stored widget bar reopens stuck at 0%.
    if progress and os.environ.get("COURSEKIT_STATIC_WIDGETS", "").strip().lower() not in (
        "1",
        "true",
        "yes",
    ):
        from tqdm.auto import tqdm

        epoch_iter = bar = tqdm(epoch_iter, desc="epochs", unit="epoch")
    n = len(X_train)
    for epoch in epoch_iter:
        model.train()
        order = rng.permutation(n)  # a fresh shuffle every epoch
        loss_sum, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            xb, yb = X_train[idx], y_train[idx]
            out = model.forward(xb)
            batch_loss, dout = loss_fn(out, yb)
            optimizer.zero_grad()
            model.backward(dout)
            optimizer.step()
            loss_sum += float(batch_loss) * len(idx)
            if classify:
                correct += int(np.sum(out.argmax(axis=1) == yb))
        history["train_loss"].append(loss_sum / n)
        history["train_acc"].append(correct / n if classify else float("nan"))
        if X_val is not None:
            val_loss, val_acc = _evaluate(model, X_val, y_val, loss_fn, classify, 256)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
        stats = {k: f"{v[-1]:.4f}" for k, v in history.items() if v}
        if bar is not None:
            bar.set_postfix(stats)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    if bar is not None:
        bar.close()
    return history
