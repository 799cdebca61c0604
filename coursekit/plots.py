"""Matplotlib helpers shared by every notebook.

Every function draws into an ``ax`` you pass (or a new figure it creates),
labels its axes with units where they exist, and returns the ``Figure``. None
of them calls ``plt.show()``: in Jupyter the inline backend shows pyplot
figures at the end of the cell, so end the call with ``;`` (or assign the
result) to avoid seeing the figure twice.

All drawing happens inside :func:`course_style`, which applies a few style
settings (and restores them afterwards) so every notebook's figures look alike.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from coursekit._validate import (
    as_float_array,
    check_bool,
    check_in,
    check_labels,
    check_ndim,
    check_positive_int,
    check_same_length,
    check_same_shape,
    check_shape,
)

__all__ = [
    "COURSE_STYLE",
    "course_style",
    "plot_history",
    "plot_decision_boundary",
    "plot_loss_surface",
    "plot_trajectory_panels",
    "plot_1d_descent",
    "show_images",
    "plot_image",
    "plot_filters",
    "plot_feature_maps",
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_activation_stats",
    "plot_grad_norms",
    "plot_activation_functions",
]

#: rcParams applied by :func:`course_style`.
COURSE_STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.interpolation": "nearest",
}

TRAIN_COLOR = "tab:blue"
VAL_COLOR = "tab:orange"
# Qualitative colours for class labels, readable both as fill and as markers.
CLASS_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


@contextlib.contextmanager
def course_style() -> Iterator[None]:
    """Context manager (and decorator) applying the course's matplotlib style."""
    # Restore only the keys we set. mpl.rc_context restores *every* setting, and
    # in Jupyter the first figure switches on the inline backend (interactive
    # mode) inside the context: restoring "interactive" afterwards switches it
    # off again, and every later figure is silently never drawn.
    saved = {key: mpl.rcParams[key] for key in COURSE_STYLE}
    mpl.rcParams.update(COURSE_STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


# ---------------------------------------------------------------------------
# small internal helpers
# ---------------------------------------------------------------------------


def _to_numpy(x: Any) -> Any:
    """Detach a torch tensor (without importing torch); leave anything else alone."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return x


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


def _grid(n: int, ncols: int, cell: float = 1.3, title: str | None = None):
    """A figure with ``n`` square panels on ``ceil(n / ncols)`` rows, axes switched off."""
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols, cell * nrows + (0.4 if title else 0)), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig, axes.flat[:n]


def _to_unit_range(img: np.ndarray) -> np.ndarray:
    """Min-max scale one image to [0, 1] unless it already lies there (imshow needs it for RGB)."""
    lo, hi = float(np.min(img)), float(np.max(img))
    if lo >= 0.0 and hi <= 1.0:
        return img
    if hi - lo < 1e-12:
        return np.zeros_like(img)
    return (img - lo) / (hi - lo)


def _check_ncols(ncols: int) -> int:
    return check_positive_int(ncols, "ncols")


# ---------------------------------------------------------------------------
# training curves
# ---------------------------------------------------------------------------

_METRIC_LABELS = {
    "loss": "loss (cross-entropy)",
    "acc": "accuracy (%)",
}


def _series(history: Any, key: str) -> list[float]:
    if isinstance(history, Mapping):
        values = history.get(key, [])
    else:
        values = getattr(history, key, [])
    return [float(v) for v in (values if values is not None else [])]


@course_style()
def plot_history(
    history: Any,
    metrics: Sequence[str] = ("loss", "acc"),
    title: str | None = None,
) -> Figure:
    """Training and validation curves, one panel per metric, side by side.

    Parameters
    ----------
    history : coursekit.training.History or dict
        Anything with ``train_<metric>`` / ``val_<metric>`` lists (attributes or
        keys), one value per epoch. Missing validation curves are skipped.
        Accuracies stored as fractions in [0, 1] are shown in percent.
    metrics : sequence of str
        Metric names, e.g. ``("loss", "acc")``.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure with ``len(metrics)`` axes.
    """
    if not (isinstance(history, Mapping) or hasattr(history, "train_loss")):
        raise TypeError(
            "history must be a History object or a dict with keys like 'train_loss', "
            f"got {type(history).__name__}"
        )
    if isinstance(metrics, str):
        metrics = (metrics,)
    _check_names(metrics, "metrics", "metric names like 'loss'")
    if len(metrics) == 0:
        raise ValueError("metrics must name at least one metric, got an empty sequence")

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        curves = {
            "train": (_series(history, f"train_{metric}"), TRAIN_COLOR),
            "validation": (_series(history, f"val_{metric}"), VAL_COLOR),
        }
        if not any(values for values, _ in curves.values()):
            raise ValueError(
                f"metrics must name curves that history holds ('train_{metric}' or "
                f"'val_{metric}'), got {metric!r}"
            )
        # A fraction-valued accuracy is easier to read as a percentage.
        as_percent = metric == "acc" and all(
            v <= 1.0 for values, _ in curves.values() for v in values
        )
        for split, (values, color) in curves.items():
            if not values:
                continue
            y = np.asarray(values) * (100.0 if as_percent else 1.0)
            epochs = np.arange(1, len(y) + 1)
            ax.plot(epochs, y, color=color, marker="o" if len(y) <= 30 else None, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        ax.set_title({"loss": "loss", "acc": "accuracy"}.get(metric, metric))
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------
# 2-D classification
# ---------------------------------------------------------------------------


def _check_names(v: Any, name: str, what: str) -> None:
    """Raise ``TypeError`` unless ``v`` is a sized sequence (not a str) of names."""
    if isinstance(v, (str, bytes)) or not (hasattr(v, "__len__") and hasattr(v, "__iter__")):
        raise TypeError(f"{name} must be a sequence of {what} such as a list, got {v!r}")


def _nonfinite(a: np.ndarray) -> str:
    """Describe where an array is not finite: "nan at index (1, 0) of an array of shape (3, 2)"."""
    idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
    return f"{a[idx]} at index {idx} of an array of shape {a.shape}"


def _as_labels(out: Any, m: int) -> np.ndarray:
    """Turn a predict_fn output into m integer labels (argmax over scores when 2-D)."""
    out = np.asarray(_to_numpy(out))
    if out.ndim >= 1 and out.shape[0] != m:
        raise ValueError(f"predict_fn must return {m} predictions, got shape {out.shape}")
    if out.ndim == 2 and out.shape[1] >= 2:
        return out.argmax(axis=1)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1 and out.dtype.kind in "biu"):
        out = out.reshape(-1)
        if out.dtype == bool:
            return out.astype(np.int64)
        if out.dtype.kind in "iu" or np.all(out == np.round(out)):
            return out.astype(np.int64)
    raise ValueError(
        "predict_fn must return class labels of shape (m,) or scores of shape (m, K) with "
        f"K >= 2, got an array of shape {out.shape} and dtype {out.dtype}"
    )


@course_style()
def plot_decision_boundary(
    predict_fn: Callable[[np.ndarray], Any],
    X: Any,
    y: Any,
    ax: Axes | None = None,
    resolution: int = 200,
    title: str | None = None,
) -> Figure:
    """Shade the plane by predicted class and scatter the data on top.

    Parameters
    ----------
    predict_fn : callable
        Maps an array of shape (m, 2) to class labels of shape (m,) or to
        scores (probabilities or logits) of shape (m, K); scores are argmaxed.
    X : ndarray of shape (n, 2)
        The points.
    y : ndarray of shape (n,)
        Their integer labels.
    ax : Axes, optional
    resolution : int
        Grid points per axis.
    title : str, optional
        Defaults to the accuracy of ``predict_fn`` on ``(X, y)``.

    Returns
    -------
    Figure
    """
    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be callable, got {type(predict_fn).__name__}")
    X = as_float_array(_to_numpy(X), "X")
    check_shape(X, (None, 2), "X")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"X must hold finite numbers (no NaN or inf), got {_nonfinite(X)}")
    y = np.asarray(_to_numpy(y))
    check_ndim(y, 1, "y", "(n,) of class labels")
    check_same_length(X, y, "X", "y")
    resolution = check_positive_int(resolution, "resolution")
    y = check_labels(y, None, "y")
    num_classes = int(y.max()) + 1 if y.size else 1

    fig, ax = _figure_and_axes(ax, (4.5, 4.0))
    # 10% margin so points on the edge are not cut off.
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * np.maximum(hi - lo, 1e-3)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    z = _as_labels(predict_fn(grid), len(grid)).reshape(gx.shape)

    k = max(num_classes, int(z.max()) + 1)
    colors = [CLASS_COLORS[i % len(CLASS_COLORS)] for i in range(k)]
    ax.contourf(gx, gy, z, levels=np.arange(k + 1) - 0.5, colors=colors, alpha=0.25)
    for c in range(num_classes):
        pts = X[y == c]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=14,
            color=colors[c],
            edgecolors="k",
            linewidths=0.3,
            label=f"class {c}",
        )
    if title is None:
        acc = 100.0 * np.mean(_as_labels(predict_fn(X), len(X)) == y)
        title = f"decision boundary (accuracy {acc:.1f}%)"
    ax.set_title(title)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.legend(loc="best")
    return fig


# ---------------------------------------------------------------------------
# optimisation: loss surfaces and trajectories
# ---------------------------------------------------------------------------


@course_style()
def plot_loss_surface(
    surface: Any,
    trajectories: Mapping[str, Any] | None = None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels: int = 30,
    log_scale: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Contour plot of a 2-D loss with optimiser trajectories on top.

    Parameters
    ----------
    surface : coursekit.surfaces.Surface or callable
        A Surface (its ``f``, ``xlim``, ``ylim``, ``minimum`` and ``name`` are
        used) or a function ``f(X, Y)`` of two meshgrid arrays of shape (r, r).
    trajectories : dict of str -> ndarray of shape (T, 2), optional
        Label -> iterates. Start is marked with a square, end with a circle.
    xlim, ylim : (float, float), optional
        Plot window; required when ``surface`` is a plain function.
    levels : int
        Number of contour levels.
    log_scale : bool
        Space the levels logarithmically above the minimum, which resolves the
        narrow valleys of ill-conditioned losses.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Figure
    """
    f = getattr(surface, "f", surface)
    if not callable(f):
        raise TypeError(
            f"surface must be a Surface or a callable f(X, Y), got {type(surface).__name__}"
        )
    xlim = xlim if xlim is not None else getattr(surface, "xlim", None)
    ylim = ylim if ylim is not None else getattr(surface, "ylim", None)
    if xlim is None or ylim is None:
        raise ValueError(
            f"xlim and ylim are required when surface is a plain function, got {xlim!r}, {ylim!r}"
        )
    levels = check_positive_int(levels, "levels")
    check_bool(log_scale, "log_scale")
    if trajectories is not None and not isinstance(trajectories, Mapping):
        raise TypeError(
            f"trajectories must be a dict of label -> (T, 2) array of points, got "
            f"{trajectories!r:.80}"
        )
    trajectories = dict(trajectories or {})
    paths = {}
    for label, traj in trajectories.items():
        arr = as_float_array(_to_numpy(traj), f"trajectories[{label!r}]")
        check_shape(arr, (None, 2), f"trajectories[{label!r}]")
        # Diverging runs reach inf; matplotlib breaks the line at NaN instead of warning.
        paths[label] = np.where(np.isfinite(arr), arr, np.nan)

    fig, ax = _figure_and_axes(ax, (5.0, 4.2))
    xs = np.linspace(*xlim, 200)
    ys = np.linspace(*ylim, 200)
    gx, gy = np.meshgrid(xs, ys)
    z = np.asarray(f(gx, gy), dtype=np.float64)
    check_same_length(z.ravel(), gx.ravel(), "f(X, Y)", "X")
    z_min, z_max = float(np.nanmin(z)), float(np.nanmax(z))
    span = max(z_max - z_min, 1e-12)
    if log_scale:
        lv = z_min + np.geomspace(span * 1e-4, span, levels)
    else:
        lv = np.linspace(z_min, z_max, levels)
    ax.contour(gx, gy, z, levels=lv, cmap="viridis", linewidths=0.8, alpha=0.8)

    minimum = getattr(surface, "minimum", None)
    if minimum is not None:
        m = np.asarray(minimum, dtype=np.float64).reshape(-1)
        ax.plot(m[0], m[1], marker="*", color="k", markersize=12, linestyle="", label="minimum")
    for i, (label, path) in enumerate(paths.items()):
        color = f"C{(i + 1) % 10}"
        ax.plot(path[:, 0], path[:, 1], color=color, marker=".", markersize=4, label=label)
        ax.scatter(*path[0], marker="s", s=40, color=color, edgecolors="k", zorder=3)
        finite = path[np.all(np.isfinite(path), axis=1)]
        if len(finite):
            ax.scatter(*finite[-1], marker="o", s=50, color=color, edgecolors="k", zorder=3)
    # Fixed window: a diverging run must not zoom the plot out to infinity.
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.set_title(title if title is not None else getattr(surface, "name", "loss surface"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right")
    return fig


def _path_summary(f: Callable[[Any, Any], Any], path: np.ndarray) -> str:
    """'loss a -> b' from the first to the last finite point of a (T, 2) path."""
    finite = path[np.all(np.isfinite(path), axis=1)]
    if not len(finite):
        return "no finite point"
    start, end = float(f(*finite[0])), float(f(*finite[-1]))
    text = f"loss {start:.3g} \N{RIGHTWARDS ARROW} {end:.3g}"
    if len(finite) < len(path):
        text += f" (overflow after step {len(finite) - 1})"
    return text


@course_style()
def plot_trajectory_panels(
    surface: Any,
    trajectories: Mapping[str, Any],
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels: int = 30,
    log_scale: bool = True,
    panel_size: tuple[float, float] = (3.6, 3.0),
    title: str | None = None,
) -> Figure:
    """One contour panel per trajectory, side by side on the same window.

    Each panel is drawn by :func:`plot_loss_surface` with a single trajectory
    and titled with its label and the loss at its first and last finite
    points, so runs that differ in one setting (e.g. the learning rate) can be
    compared at a glance.

    Parameters
    ----------
    surface : coursekit.surfaces.Surface or callable
        As for :func:`plot_loss_surface`.
    trajectories : dict of str -> ndarray of shape (T, 2)
        Label -> iterates, one panel each, in this order. Rows after an
        overflow may be inf or NaN (the title says after which step).
    xlim, ylim : (float, float), optional
        The window of every panel; required when ``surface`` is a plain function.
    levels, log_scale
        As for :func:`plot_loss_surface`.
    panel_size : (float, float)
        Width and height of one panel, in inches.
    title : str, optional
        A title above all panels.

    Returns
    -------
    Figure
    """
    if not isinstance(trajectories, Mapping):
        raise TypeError(
            f"trajectories must be a dict of label -> (T, 2) array of points, got "
            f"{trajectories!r:.80}"
        )
    trajectories = dict(trajectories)
    if not trajectories:
        raise ValueError(f"trajectories must hold at least one trajectory, got {trajectories}")
    f = getattr(surface, "f", surface)
    if not (
        isinstance(panel_size, (tuple, list))
        and len(panel_size) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in panel_size)
    ):
        raise TypeError(f"panel_size must be a pair (width, height) in inches, got {panel_size!r}")
    if not all(0 < v < math.inf for v in panel_size):
        raise ValueError(f"panel_size must hold finite sizes > 0, got {panel_size!r}")
    w, h = panel_size
    fig, axes = plt.subplots(
        1, len(trajectories), figsize=(w * len(trajectories), h), squeeze=False
    )
    for ax, (label, traj) in zip(axes[0], trajectories.items(), strict=True):
        plot_loss_surface(surface, {label: traj}, xlim, ylim, levels, log_scale, ax=ax)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        path = np.asarray(_to_numpy(traj), dtype=np.float64)
        ax.set_title(f"{label}\n{_path_summary(f, path)}")
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    if title:
        fig.suptitle(title)
    return fig


@course_style()
def plot_1d_descent(
    f: Callable[[np.ndarray], Any],
    trajectory: Any,
    ax: Axes | None = None,
    xlim: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """A 1-D loss curve with the gradient-descent iterates walking on it.

    Parameters
    ----------
    f : callable
        Loss, evaluated element-wise on an ndarray of shape (r,).
    trajectory : ndarray of shape (T,)
        The iterates ``x_0 ... x_{T-1}``.
    ax : Axes, optional
    xlim : (float, float), optional
        Plot window; by default it spans the finite iterates.
    title : str, optional

    Returns
    -------
    Figure
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    traj = as_float_array(_to_numpy(trajectory), "trajectory")
    check_ndim(traj, 1, "trajectory", "(T,) of iterates")
    if traj.size == 0:
        raise ValueError("trajectory must hold at least one iterate, got an empty array")
    finite = traj[np.isfinite(traj)]
    if xlim is None:
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        pad = 0.2 * max(hi - lo, 1.0)
        xlim = (lo - pad, hi + pad)

    fig, ax = _figure_and_axes(ax, (5.0, 3.5))
    xs = np.linspace(*xlim, 400)
    ax.plot(xs, np.asarray(f(xs), dtype=np.float64), color="0.3", label="$f(x)$")
    with np.errstate(over="ignore", invalid="ignore"):
        fy = np.asarray(f(traj), dtype=np.float64)
    shown = np.isfinite(traj) & np.isfinite(fy) & (traj >= xlim[0]) & (traj <= xlim[1])
    ax.plot(traj[shown], fy[shown], color="tab:red", alpha=0.5, linewidth=1, label="iterates")
    ax.scatter(
        traj[shown],
        fy[shown],
        c=np.arange(len(traj))[shown],
        cmap="autumn_r",
        s=25,
        edgecolors="k",
        linewidths=0.3,
        zorder=3,
    )
    ax.set_xlim(*xlim)
    curve = np.asarray(f(xs), dtype=np.float64)
    ax.set_ylim(float(curve.min()) - 0.05 * np.ptp(curve), float(curve.max()) * 1.05 + 1e-12)
    ax.set_xlabel("$x$ (parameter)")
    ax.set_ylabel("$f(x)$ (loss)")
    ax.set_title(title if title is not None else f"gradient descent, {len(traj) - 1} steps")
    ax.legend(loc="upper center")
    return fig


# ---------------------------------------------------------------------------
# images, filters and feature maps
# ---------------------------------------------------------------------------


def _images_nhwc(images: Any) -> np.ndarray:
    """Return images as (N, H, W) or (N, H, W, 3) floats in [0, 1] per image for RGB."""
    imgs = as_float_array(_to_numpy(images), "images")
    check_ndim(imgs, (3, 4), "images", "(N, H, W), (N, C, H, W) or (N, H, W, C)")
    if imgs.ndim == 4:
        # NCHW is the course convention; NHWC is accepted when unambiguous.
        if imgs.shape[1] in (1, 3):
            imgs = imgs.transpose(0, 2, 3, 1)
        elif imgs.shape[-1] not in (1, 3):
            raise ValueError(
                "images must have 1 or 3 channels in (N, C, H, W) or (N, H, W, C), "
                f"got shape {imgs.shape}"
            )
        if imgs.shape[-1] == 1:
            imgs = imgs[..., 0]
        else:
            imgs = np.stack([_to_unit_range(im) for im in imgs])
    return imgs


def _name(i: int, class_names: Sequence[str] | None) -> str:
    return str(class_names[i]) if class_names is not None else str(i)


@course_style()
def show_images(
    images: Any,
    labels: Any = None,
    preds: Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    title: str | None = None,
) -> Figure:
    """A grid of images, titled with their labels (and predictions).

    Parameters
    ----------
    images : ndarray of shape (N, H, W), (N, C, H, W) or (N, H, W, C), C in {1, 3}
    labels : ndarray of shape (N,), optional
        True classes.
    preds : ndarray of shape (N,), optional
        Predicted classes; a panel whose prediction differs from its label is
        titled in red.
    class_names : sequence of str, optional
        Names for the class indices.
    ncols : int
        Panels per row.
    cmap : str
        Colormap for single-channel images.
    title : str, optional

    Returns
    -------
    Figure with one image per panel.
    """
    if class_names is not None:
        _check_names(class_names, "class_names", "class names")
    imgs = _images_nhwc(images)
    ncols = _check_ncols(ncols)
    n = len(imgs)
    if n == 0:
        raise ValueError("images must hold at least one image, got shape (0, ...)")
    num_classes = len(class_names) if class_names is not None else None

    def _labels(v: Any, name: str) -> np.ndarray | None:
        if v is None:
            return None
        arr = np.asarray(_to_numpy(v))
        check_ndim(arr, 1, name, "(N,) of class indices")
        check_same_length(imgs, arr, "images", name)
        why = f"for the {num_classes} class_names {list(class_names)!r}" if class_names else ""
        return check_labels(arr, num_classes, name, why)

    labels = _labels(labels, "labels")
    preds = _labels(preds, "preds")

    fig, axes = _grid(n, ncols, title=title)
    for i, ax in enumerate(axes):
        ax.imshow(imgs[i], cmap=cmap if imgs[i].ndim == 2 else None)
        if preds is not None:
            wrong = labels is not None and preds[i] != labels[i]
            text = _name(preds[i], class_names)
            if labels is not None:
                text += f"\n(true: {_name(labels[i], class_names)})"
            ax.set_title(text, color="tab:red" if wrong else "tab:green", fontsize=8)
        elif labels is not None:
            ax.set_title(_name(labels[i], class_names), fontsize=8)
    return fig


@course_style()
def plot_image(
    img: Any,
    title: str | None = None,
    ax: Axes | None = None,
    cmap: str = "gray",
) -> Figure:
    """One image, without axes.

    Parameters
    ----------
    img : ndarray of shape (H, W), (C, H, W) or (H, W, C), C in {1, 3}
    title : str, optional
    ax : Axes, optional
    cmap : str
        Colormap for a single-channel image.

    Returns
    -------
    Figure
    """
    arr = as_float_array(_to_numpy(img), "img")
    check_ndim(arr, (2, 3), "img", "(H, W), (C, H, W) or (H, W, C)")
    arr = _images_nhwc(arr[None])[0]
    fig, ax = _figure_and_axes(ax, (3.2, 3.2))
    ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


@course_style()
def plot_filters(weights: Any, ncols: int = 8, title: str | None = None) -> Figure:
    """First-layer convolution filters, one panel per output channel.

    Each filter is min-max normalised on its own, so the pattern (not its
    scale) is what you see.

    Parameters
    ----------
    weights : ndarray of shape (C_out, C_in, kh, kw)
        A conv layer's weights (``conv.weight``). With ``C_in == 3`` filters are
        drawn in colour; otherwise the mean over input channels is drawn in grey.
    ncols : int
    title : str, optional

    Returns
    -------
    Figure with ``C_out`` images.
    """
    w = as_float_array(_to_numpy(weights), "weights")
    check_ndim(w, 4, "weights", "(C_out, C_in, kh, kw)")
    ncols = _check_ncols(ncols)
    if w.shape[1] == 3:
        panels = [_to_unit_range_force(f.transpose(1, 2, 0)) for f in w]
    else:
        panels = [_to_unit_range_force(f.mean(axis=0)) for f in w]
    fig, axes = _grid(len(w), ncols, cell=1.0, title=title or f"{len(w)} filters")
    for i, (ax, p) in enumerate(zip(axes, panels, strict=True)):
        ax.imshow(p, cmap="gray" if p.ndim == 2 else None, vmin=0.0, vmax=1.0)
        ax.set_title(str(i), fontsize=7)
    return fig


def _to_unit_range_force(img: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] always (filters have no natural display range)."""
    lo, hi = float(img.min()), float(img.max())
    return np.zeros_like(img) if hi - lo < 1e-12 else (img - lo) / (hi - lo)


@course_style()
def plot_feature_maps(
    maps: Any, ncols: int = 8, title: str | None = None, cmap: str = "viridis"
) -> Figure:
    """Feature maps of one image, one panel per channel.

    Parameters
    ----------
    maps : ndarray of shape (C, H, W)
        Activations of a conv layer for a single input (``out[0]``).
    ncols : int
    title : str, optional
    cmap : str

    Returns
    -------
    Figure with ``C`` images.
    """
    m = as_float_array(_to_numpy(maps), "maps")
    check_ndim(m, 3, "maps", "(C, H, W) for one image")
    ncols = _check_ncols(ncols)
    fig, axes = _grid(len(m), ncols, cell=1.3, title=title or f"{len(m)} feature maps")
    for i, ax in enumerate(axes):
        ax.imshow(m[i], cmap=cmap)
        ax.set_title(f"channel {i}", fontsize=7)
    return fig


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Count matrix ``C[i, j]`` = number of examples of class ``i`` predicted as ``j``.

    Parameters
    ----------
    y_true : ndarray of shape (n,)
    y_pred : ndarray of shape (n,)
    num_classes : int, optional
        Defaults to the largest label + 1.

    Returns
    -------
    ndarray of shape (num_classes, num_classes), int64
    """
    return _confusion_matrix(y_true, y_pred, num_classes)


def _confusion_matrix(
    y_true: Any, y_pred: Any, num_classes: int | None, why: str = ""
) -> np.ndarray:
    t = np.asarray(_to_numpy(y_true))
    p = np.asarray(_to_numpy(y_pred))
    check_ndim(t, 1, "y_true", "(n,) of class labels")
    check_ndim(p, 1, "y_pred", "(n,) of class labels")
    check_same_shape(t, p, "y_true", "y_pred")
    t = check_labels(t, None, "y_true")
    p = check_labels(p, None, "y_pred")
    if num_classes is None:
        num_classes = int(max(t.max(initial=0), p.max(initial=0))) + 1
    k = check_positive_int(num_classes, "num_classes")
    why = why or f"for num_classes={k}"
    t = check_labels(t, k, "y_true", why)
    p = check_labels(p, k, "y_pred", why)
    # Each (true, pred) pair gets a unique bin index true * k + pred.
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


@course_style()
def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Confusion matrix as a heat map with every cell annotated.

    Parameters
    ----------
    y_true : ndarray of shape (n,)
    y_pred : ndarray of shape (n,)
    class_names : sequence of str, optional
        Tick labels; their number fixes the number of classes.
    normalize : bool
        Show each row as fractions of its true class (recall on the diagonal)
        instead of counts.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Figure
    """
    check_bool(normalize, "normalize")
    if class_names is not None:
        _check_names(class_names, "class_names", "class names")
    k = len(class_names) if class_names is not None else None
    why = f"for the {k} class_names {list(class_names)!r}" if class_names is not None else ""
    cm = _confusion_matrix(y_true, y_pred, k, why)
    k = cm.shape[0]
    shown = cm.astype(np.float64)
    if normalize:
        shown = shown / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = _figure_and_axes(ax, (0.5 * k + 2.5, 0.5 * k + 2.0))
    ax.imshow(shown, cmap="Blues", vmin=0.0)
    ax.grid(False)
    threshold = shown.max() / 2.0 if shown.size else 0.0
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{cm[i, j]:d}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shown[i, j] > threshold else "black",
            )
    names = [_name(i, class_names) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45 if k > 5 else 0, ha="right" if k > 5 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = 100.0 * np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(title if title is not None else f"confusion matrix (accuracy {acc:.1f}%)")
    return fig


# ---------------------------------------------------------------------------
# deep-network diagnostics
# ---------------------------------------------------------------------------


def _layer_axis(ax: Axes, names: Sequence[str]) -> None:
    ax.set_xticks(range(1, len(names) + 1), names, rotation=45 if len(names) > 6 else 0)
    ax.set_xlabel("layer (input → output)")


@course_style()
def plot_activation_stats(
    acts: Mapping[str, Any],
    ax: Axes | None = None,
    histograms: bool = True,
    title: str | None = None,
) -> Figure:
    """Mean and standard deviation of activations per layer, across depth.

    With a good initialisation the standard deviation stays roughly constant
    from layer to layer; with a bad one it collapses to 0 or explodes.

    Parameters
    ----------
    acts : dict of str -> ndarray of any shape
        Layer name -> that layer's activations on one batch, in order from
        input to output.
    ax : Axes, optional
        Draw only the mean/std panel here.
    histograms : bool
        With no ``ax``, add a second panel with one histogram per layer.
    title : str, optional

    Returns
    -------
    Figure
    """
    if not isinstance(acts, Mapping):
        raise TypeError(f"acts must be a non-empty dict of layer name -> array, got {acts!r:.80}")
    if len(acts) == 0:
        raise ValueError(f"acts must be a non-empty dict of layer name -> array, got {acts!r}")
    check_bool(histograms, "histograms")
    names = list(acts)
    arrays = [as_float_array(_to_numpy(a), f"acts[{n!r}]").ravel() for n, a in acts.items()]
    means = np.array([a.mean() for a in arrays])
    stds = np.array([a.std() for a in arrays])

    if ax is None:
        ncols = 2 if histograms else 1
        fig, axes = plt.subplots(1, ncols, figsize=(5.0 * ncols, 3.6), squeeze=False)
        ax = axes[0, 0]
    else:
        fig, ax = _figure_and_axes(ax, (5.0, 3.6))
        histograms = False
    depth = np.arange(1, len(names) + 1)
    ax.plot(depth, means, marker="o", label="mean")
    ax.plot(depth, stds, marker="s", label="standard deviation")
    _layer_axis(ax, names)
    ax.set_ylabel("activation value")
    ax.set_title("activation statistics across depth")
    ax.legend()
    if histograms:
        hax = fig.axes[1]
        cmap = plt.get_cmap("viridis")
        for i, (name, a) in enumerate(zip(names, arrays, strict=True)):
            hax.hist(
                a,
                bins=60,
                histtype="step",
                density=True,
                color=cmap(i / max(len(names) - 1, 1)),
                label=name,
            )
        hax.set_xlabel("activation value")
        hax.set_ylabel("density")
        hax.set_title("activation histograms")
        if len(names) <= 10:
            hax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _reduce_norm(v: Any, name: str, reduce: str) -> float:
    arr = as_float_array(_to_numpy(v), name).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} must hold at least one gradient norm, got an empty list")
    return float({"mean": np.mean, "first": lambda a: a[0], "last": lambda a: a[-1]}[reduce](arr))


@course_style()
def plot_grad_norms(
    norms: Mapping[str, Any],
    ax: Axes | None = None,
    log_scale: bool = True,
    labels: Sequence[str] | None = None,
    reduce: str = "mean",
    title: str | None = None,
) -> Figure:
    """Gradient L2 norm per layer, from input (left) to output (right).

    Parameters
    ----------
    norms : dict of str -> float or list of float, or dict of such dicts
        Layer name -> gradient norm (a list, e.g. ``History.grad_norms``, is
        reduced with ``reduce``). A dict of dicts overlays several models, e.g.
        ``{"plain-20": ..., "resnet-20": ...}``.
    ax : Axes, optional
    log_scale : bool
        Log y axis: vanishing gradients span orders of magnitude.
    labels : sequence of str, optional
        Legend names, one per model (default: the outer keys).
    reduce : {"mean", "first", "last"}
        How a list of norms per layer becomes one number.
    title : str, optional

    Returns
    -------
    Figure with one line per model.
    """
    if not isinstance(norms, Mapping):
        raise TypeError(f"norms must be a non-empty dict of layer name -> norm, got {norms!r:.80}")
    if len(norms) == 0:
        raise ValueError(f"norms must be a non-empty dict of layer name -> norm, got {norms!r}")
    check_bool(log_scale, "log_scale")
    check_in(reduce, ("mean", "first", "last"), "reduce")
    nested = all(isinstance(v, Mapping) for v in norms.values())
    models = dict(norms) if nested else {None: norms}
    if labels is not None:
        _check_names(labels, "labels", "model names")
        if len(labels) != len(models):
            raise ValueError(
                f"labels must have one name per model ({len(models)}), got {len(labels)}: "
                f"{list(labels)!r}"
            )
        models = dict(zip(labels, models.values(), strict=True))

    fig, ax = _figure_and_axes(ax, (5.5, 3.6))
    longest: list[str] = []
    for label, per_layer in models.items():
        values = [_reduce_norm(v, f"norms[{k!r}]", reduce) for k, v in per_layer.items()]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        if len(per_layer) > len(longest):
            longest = list(per_layer)
    if log_scale:
        ax.set_yscale("log")
    # Layer names are unreadable past a dozen layers; indices then.
    if len(longest) <= 12:
        _layer_axis(ax, longest)
    else:
        ax.set_xlabel("layer index (input → output)")
    ax.set_ylabel("gradient L2 norm")
    ax.set_title(title if title is not None else "gradient norm per layer")
    if any(label is not None for label in models):
        ax.legend()
    return fig


@course_style()
def plot_activation_functions(
    names: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu"),
    x: Any = None,
    axes: Sequence[Axes] | None = None,
    title: str | None = None,
) -> Figure:
    """Activation functions (left) and their derivatives (right).

    Parameters
    ----------
    names : sequence of str
        Keys of ``coursekit.activations.ACTIVATIONS``.
    x : ndarray of shape (r,), optional
        Inputs; default ``np.linspace(-5, 5, 501)``.
    axes : pair of Axes, optional
        Value and derivative panels to draw into.
    title : str, optional

    Returns
    -------
    Figure with two axes, one line per activation in each.
    """
    from coursekit.activations import ACTIVATIONS

    if isinstance(names, str):
        names = (names,)
    _check_names(names, "names", "activation names")
    for name in names:
        check_in(name, list(ACTIVATIONS), "names")
    x = np.linspace(-5.0, 5.0, 501) if x is None else as_float_array(_to_numpy(x), "x")
    check_ndim(x, 1, "x", "(r,)")
    if axes is None:
        fig, axs = plt.subplots(1, 2, figsize=(9.0, 3.4))
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must be a pair (value, derivative), got {len(axes)} axes")
        axs = axes
        fig = axs[0].figure
    for name in names:
        f, f_grad = ACTIVATIONS[name]
        axs[0].plot(x, f(x), label=name)
        axs[1].plot(x, f_grad(x), label=name)
    for ax, what in zip(axs, ("$f(x)$", "$f'(x)$"), strict=True):
        ax.set_xlabel("$x$ (pre-activation)")
        ax.set_ylabel(what)
        ax.legend()
    axs[0].set_title("activation")
    axs[1].set_title("derivative")
    if title:
        fig.suptitle(title)
    return fig
