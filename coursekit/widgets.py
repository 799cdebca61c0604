"""Interactive explorers for notebooks 02, 04 and 06 (ipywidgets 8, JupyterLab 4).

Each explorer is a small class with the same parts:

- ``controls``: dict of named ipywidgets (sliders, drop-downs ...);
- ``output``: an ``ipywidgets.Output`` holding the current figure as a PNG;
- ``info``: an ``ipywidgets.HTML`` with the numbers behind the picture;
- ``update()``: redraws from the current control values (every control calls it);
- ``widget``: the assembled ``VBox``; displaying the explorer shows it.

Without a widget frontend (a plain script, nbval/papermill runs, exported
HTML) the widgets would be dead boxes, so :meth:`Explorer.show` falls back to
one static figure drawn with the default values plus the info as text. The
fallback is used when ``show(static=True)``, when the environment variable
``COURSEKIT_STATIC_WIDGETS=1`` is set, or when no IPython kernel is running.

Figures are built with ``matplotlib.figure.Figure`` (not pyplot), so the inline
backend never shows a second copy below the widget.

A live explorer saved in a notebook and reopened later has no live model in the
kernel. Two things keep its figure on screen then:

- its output carries the figure and the info as fallbacks next to the widget
  view (:meth:`Explorer.mimebundle`: ``image/png`` and ``text/plain``), shown by
  every frontend that does not render the widget: nbconvert's HTML, GitHub,
  and JupyterLab for a notebook it does not trust (the widget renderer is not
  a safe one);
- JupyterLab, which renders a trusted widget view even without its model
  ("Error displaying widget: model not found") and never falls back to another
  type of the same output, is told to save the widgets' state in the notebook
  (the ``saveState`` setting of ``@jupyter-widgets/jupyterlab-manager``, turned on
  by ``share/jupyter/lab/settings/overrides.d/coursekit.json``, which installing
  coursekit puts in the environment). On reopening, Lab rebuilds the explorer
  from that state: controls, info and the figure as last drawn.

The price of ``saveState``: Lab's widget manager marks a notebook modified
whenever it rebuilds or clears widget models, so a notebook that holds widget
state opens marked modified, as may one in a restored workspace. The stored
course notebooks hold none: their outputs are static, and
``coursekit.notebooks.normalise`` drops the state no output shows.
"""

from __future__ import annotations

import base64
import html
import io
import os
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from coursekit import plots
from coursekit._validate import (
    check_bool,
    check_finite,
    check_in,
    check_nonneg_int,
    check_positive,
    check_positive_int,
)

__all__ = [
    "Explorer",
    "LRExplorer",
    "LR1DExplorer",
    "ConvExplorer",
    "ActivationExplorer",
    "MLPWidthExplorer",
    "lr_explorer",
    "lr_explorer_1d",
    "conv_explorer",
    "activation_explorer",
    "mlp_width_explorer",
    "use_static",
]

STATIC_ENV = "COURSEKIT_STATIC_WIDGETS"


def _ipython_shell() -> Any:
    """The running IPython shell, or None (plain Python)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return None
    return get_ipython()


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where a widget frontend may be listening)."""
    return getattr(_ipython_shell(), "kernel", None) is not None


def use_static(static: bool | None = None) -> bool:
    """Decide whether explorers draw a static figure instead of live widgets.

    Parameters
    ----------
    static : bool or None
        ``True``/``False`` force the choice; ``None`` means: static when
        ``COURSEKIT_STATIC_WIDGETS=1`` or when not running in an IPython kernel.
    """
    if static is not None:
        if not isinstance(static, bool):
            raise TypeError(f"static must be True, False or None, got {static!r}")
        return static
    if os.environ.get(STATIC_ENV, "").strip().lower() in ("1", "true", "yes"):
        return True
    return not _in_kernel()


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def _display_data(fig: Figure) -> dict:
    """A Jupyter ``display_data`` message holding the figure as a PNG."""
    return {
        "output_type": "display_data",
        "data": {
            "image/png": base64.b64encode(_png(fig)).decode("ascii"),
            "text/plain": f"<Figure with {len(fig.axes)} Axes>",
        },
        "metadata": {},
    }


def _fmt(v: float) -> str:
    return f"{v:.4g}" if np.isfinite(v) else str(v)


class Explorer:
    """Base class: subclasses fill ``controls`` and implement :meth:`draw`.

    ``draw(fig, values)`` draws on an empty Figure for the given control
    values and returns the info as a list of plain-text lines. A ``ValueError``
    it raises (an impossible setting) is shown in ``info`` instead of raised.
    """

    title = "explorer"
    figsize: tuple[float, float] = (9.0, 4.0)

    def __init__(self) -> None:
        self.controls: dict[str, W.Widget] = {}
        self.output = W.Output(layout=W.Layout(min_height="200px"))
        self.info = W.HTML()
        self.figure: Figure | None = None
        self.info_lines: list[str] = []
        self._updating = False
        self._widget: W.VBox | None = None

    # -- to implement -----------------------------------------------------
    def draw(self, fig: Figure, values: dict[str, Any]) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def _before_draw(self, values: dict[str, Any]) -> None:
        """Hook to adjust dependent controls (enable/disable, ranges) before drawing."""

    # -- machinery ----------------------------------------------------------
    def _connect(self, skip: tuple[str, ...] = ()) -> None:
        """Observe every control (except ``skip``) and draw once."""
        for name, control in self.controls.items():
            if name not in skip:
                control.observe(self.update, names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        """Current value of every control, by name."""
        return {name: c.value for name, c in self.controls.items() if hasattr(c, "value")}

    def update(self, change: Any = None) -> None:
        """Redraw the figure and the info from the current control values."""
        # Adjusting a control's range below fires its observer again; one redraw is enough.
        if self._updating:
            return
        self._updating = True
        try:
            self._before_draw(self.values())
            self.figure, self.info_lines, ok = self._render(self.values())
            self.info.value = self._info_html(self.info_lines, ok)
            self.output.outputs = (_display_data(self.figure),)
        finally:
            self._updating = False

    def _render(self, values: dict[str, Any]) -> tuple[Figure, list[str], bool]:
        fig = Figure(figsize=self.figsize, layout="constrained")
        with plots.course_style():
            try:
                return fig, self.draw(fig, values), True
            except ValueError as exc:
                fig.clear()
                ax = fig.add_subplot()
                ax.set_axis_off()
                ax.text(0.5, 0.5, "invalid setting", ha="center", va="center", color="tab:red")
                return fig, [f"error: {exc}"], False

    @staticmethod
    def _info_html(lines: list[str], ok: bool) -> str:
        color = "inherit" if ok else "#c0392b"
        body = "<br>".join(html.escape(line) for line in lines)
        return f'<div style="font-family: monospace; color: {color}">{body}</div>'

    @property
    def info_text(self) -> str:
        """The info as plain text (what the static fallback prints)."""
        return "\n".join(self.info_lines)

    @property
    def widget(self) -> W.VBox:
        """Controls, then the numbers, then the figure."""
        if self._widget is None:
            controls = list(self.controls.values())
            self._widget = W.VBox(
                [W.HTML(f"<b>{html.escape(self.title)}</b>"), *controls, self.info, self.output]
            )
        return self._widget

    def mimebundle(self) -> dict[str, Any]:
        """What displaying the live explorer publishes: the widget view and its fallbacks.

        ``application/vnd.jupyter.widget-view+json`` (the live widget), plus the
        current figure as ``image/png`` and the title and info as
        ``text/plain``, which a frontend without the widget shows instead.
        """
        data = dict(self.widget._repr_mimebundle_())
        if not self.output.outputs:
            self.update()
        # The PNG the Output widget holds: the very figure on screen, not drawn again.
        data["image/png"] = self.output.outputs[-1]["data"]["image/png"]
        data["text/plain"] = "\n".join([self.title, *self.info_lines])
        return data

    def show(self, static: bool | None = None) -> None:
        """Display the live widget, or (see :func:`use_static`) a static figure and the info."""
        if not use_static(static):
            from IPython.display import display

            display(self.mimebundle(), raw=True)
            return
        # Static: redraw with the current (by default, the initial) values.
        self.figure, self.info_lines, _ = self._render(self.values())
        print(self.info_text)
        if _in_kernel() or _ipython_shell() is not None:
            from IPython.display import display

            display(_display_data(self.figure)["data"], raw=True)

    def display(self) -> None:
        """Same as :meth:`show` with the automatic choice."""
        self.show()

    def _ipython_display_(self) -> None:
        self.show()


def _in_range(v: Any, lo: float, hi: float, name: str) -> float:
    """``v`` as float if it lies in the slider's range [lo, hi]: a slider would clamp it silently."""
    v = check_finite(v, name)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must lie in [{lo}, {hi}] (the slider's range), got {v}")
    return v


def _slider(cls: type, value: Any, lo: Any, hi: Any, step: Any, description: str, **kw) -> Any:
    return cls(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        **kw,
    )


# ---------------------------------------------------------------------------
# notebook 02: learning rate on a 2-D surface
# ---------------------------------------------------------------------------

#: key -> (label, optimizer class name, uses the momentum slider, extra hyper-parameters)
OPTIMIZERS: dict[str, tuple[str, str, bool, dict[str, Any]]] = {
    "sgd": ("SGD", "SGD", False, {}),
    "momentum": ("SGD + momentum", "SGD", True, {}),
    "nesterov": ("SGD + Nesterov", "SGD", True, {"nesterov": True}),
    "adagrad": ("AdaGrad", "Adagrad", False, {}),
    "rmsprop": ("RMSProp", "RMSprop", False, {}),
    "adam": ("Adam", "Adam", False, {}),
}


class LRExplorer(Explorer):
    """Optimiser trajectories on a 2-D loss surface as the learning rate changes."""

    title = "Learning rate explorer (2-D)"
    figsize = (6.0, 4.5)

    def __init__(
        self,
        surface: Any = "quadratic",
        optimizer: str = "sgd",
        log10_lr: float = -1.0,
        steps: int = 50,
        momentum: float = 0.9,
        start: Any = None,
    ) -> None:
        from coursekit import surfaces as S

        super().__init__()
        self._surfaces = {name: make() for name, make in S.SURFACES.items()}
        if isinstance(surface, S.Surface):
            self._surfaces = {surface.name: surface, **self._surfaces}
            surface = surface.name
        check_in(surface, list(self._surfaces), "surface")
        check_in(optimizer, list(OPTIMIZERS), "optimizer")
        steps = check_positive_int(steps, "steps")
        log10_lr = _in_range(log10_lr, -4.0, 0.5, "log10_lr")
        momentum = _in_range(momentum, 0.0, 0.99, "momentum")
        if start is not None:
            start = S._point(start, "start")
        self.start = start
        self.controls = {
            "surface": W.Dropdown(
                options=list(self._surfaces), value=surface, description="surface"
            ),
            "optimizer": W.Dropdown(
                options=[(label, key) for key, (label, *_) in OPTIMIZERS.items()],
                value=optimizer,
                description="optimizer",
            ),
            "log10_lr": _slider(W.FloatSlider, float(log10_lr), -4.0, 0.5, 0.05, "log10 lr"),
            "steps": _slider(W.IntSlider, steps, 1, max(500, steps), 1, "steps"),
            "momentum": _slider(W.FloatSlider, float(momentum), 0.0, 0.99, 0.01, "momentum"),
        }
        self._connect()

    def _before_draw(self, values: dict[str, Any]) -> None:
        self.controls["momentum"].disabled = not OPTIMIZERS[values["optimizer"]][2]

    def trajectory(self, values: dict[str, Any] | None = None) -> np.ndarray:
        """Run the selected optimiser; returns ndarray of shape (steps + 1, 2)."""
        from coursekit import optimizers, surfaces

        v = self.values() if values is None else values
        label, cls_name, uses_momentum, extra = OPTIMIZERS[v["optimizer"]]
        hyper = {"lr": 10.0 ** v["log10_lr"], **extra}
        if uses_momentum:
            hyper["momentum"] = v["momentum"]
        surface = self._surfaces[v["surface"]]
        cls = getattr(optimizers, cls_name)
        return surfaces.run_optimizer(cls, surface, self.start, v["steps"], **hyper)

    def draw(self, fig: Figure, values: dict[str, Any]) -> list[str]:
        surface = self._surfaces[values["surface"]]
        label = OPTIMIZERS[values["optimizer"]][0]
        lr = 10.0 ** values["log10_lr"]
        path = self.trajectory(values)
        ax = fig.add_subplot()
        plots.plot_loss_surface(surface, {f"{label}, lr={lr:.3g}": path}, ax=ax)

        finite = path[np.all(np.isfinite(path), axis=1)]
        end = finite[-1]
        f0, f_end = surface.value(path[0]), surface.value(end)
        f_min = surface.value(surface.minimum)
        diverged = len(finite) < len(path) or f_end > f0
        if diverged:
            status = (
                f"diverged after {len(finite) - 1} steps"
                if len(finite) < len(path)
                else "diverging: the loss went up"
            )
        elif f_end - f_min < 1e-3 * max(f0 - f_min, 1e-12):
            status = "converged"
        else:
            status = "not converged yet: try more steps or another learning rate"
        hyper = f"lr = {lr:.3g}"
        if OPTIMIZERS[values["optimizer"]][2]:
            hyper += f", momentum = {values['momentum']:.2f}"
        return [
            f"optimizer: {label} ({hyper}), {values['steps']} steps on {surface.name}",
            f"start: ({path[0, 0]:.3g}, {path[0, 1]:.3g}), loss {_fmt(f0)}",
            f"end: ({end[0]:.3g}, {end[1]:.3g}), final loss {_fmt(f_end)} (minimum {_fmt(f_min)})",
            f"status: {status}",
        ]


def lr_explorer(
    surface: Any = "quadratic",
    optimizer: str = "sgd",
    log10_lr: float = -1.0,
    steps: int = 50,
    momentum: float = 0.9,
    start: Any = None,
) -> LRExplorer:
    """Learning-rate explorer on a 2-D surface (notebook 02).

    Parameters
    ----------
    surface : str or coursekit.surfaces.Surface
        A key of ``coursekit.surfaces.SURFACES`` ("quadratic", "rosenbrock") or a Surface.
    optimizer : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
    log10_lr : float
        Initial learning rate, as a power of ten.
    steps : int
    momentum : float
    start : ndarray of shape (2,), optional
        Starting point; the surface's default if None.
    """
    return LRExplorer(surface, optimizer, log10_lr, steps, momentum, start)


# ---------------------------------------------------------------------------
# notebook 02: learning rate in 1-D
# ---------------------------------------------------------------------------


class LR1DExplorer(Explorer):
    """Gradient descent on a 1-D function: too small, good, oscillating, diverging."""

    title = "Learning rate explorer (1-D)"
    figsize = (9.0, 3.6)

    def __init__(
        self,
        f: Callable[[np.ndarray], np.ndarray] | None = None,
        f_grad: Callable[[float], float] | None = None,
        x0: float = 4.0,
        log10_lr: float = -1.0,
        steps: int = 20,
        x_star: float | None = None,
    ) -> None:
        super().__init__()
        if x_star is not None:
            x_star = check_finite(x_star, "x_star")
        if (f is None) != (f_grad is None):
            raise ValueError("f and f_grad must be given together (or neither, for f(x) = x^2)")
        if f is None:
            # f(x) = x^2: f' = 2x, so x <- (1 - 2 lr) x: slow below 0.5, oscillating in
            # (0.5, 1), diverging above lr = 1.
            f, f_grad, x_star = (lambda x: np.asarray(x) ** 2), (lambda x: 2.0 * x), 0.0
        if not callable(f) or not callable(f_grad):
            raise TypeError(f"f and f_grad must be callable, got {f!r} and {f_grad!r}")
        x0 = check_finite(x0, "x0")
        log10_lr = _in_range(log10_lr, -3.0, 0.3, "log10_lr")
        self.f, self.f_grad = f, f_grad
        self.x0 = float(x0)
        self.xlim = (-1.5 * abs(self.x0) - 1.0, 1.5 * abs(self.x0) + 1.0)
        if x_star is None:
            # Estimate the minimiser on the plotted window.
            xs = np.linspace(*self.xlim, 2001)
            x_star = float(xs[np.argmin(f(xs))])
        self.x_star = float(x_star)
        self.controls = {
            "log10_lr": _slider(W.FloatSlider, float(log10_lr), -3.0, 0.3, 0.05, "log10 lr"),
            "steps": _slider(W.IntSlider, check_positive_int(steps, "steps"), 1, 100, 1, "steps"),
        }
        self._connect()

    def verdict(self, traj: np.ndarray) -> str:
        """Classify a run: "diverging", "too small", "good" or "good (oscillating)"."""
        f0 = float(self.f(traj[0])) - float(self.f(self.x_star))
        finite = traj[np.isfinite(traj)]
        gap = float(self.f(finite[-1])) - float(self.f(self.x_star))
        if len(finite) < len(traj) or gap > f0:
            return "diverging"
        if gap > 0.1 * f0:
            return "too small"
        d = np.sign(finite - self.x_star)
        oscillating = np.any(d[1:] * d[:-1] < 0)
        return "good (oscillating)" if oscillating else "good"

    def draw(self, fig: Figure, values: dict[str, Any]) -> list[str]:
        from coursekit.surfaces import gd_1d

        lr = 10.0 ** values["log10_lr"]
        traj = gd_1d(self.f_grad, self.x0, lr, values["steps"])
        verdict = self.verdict(traj)
        ax_walk, ax_loss = fig.subplots(1, 2)
        plots.plot_1d_descent(
            self.f, traj, ax=ax_walk, xlim=self.xlim, title=f"lr = {lr:.3g}: {verdict}"
        )
        finite = traj[np.isfinite(traj)]
        with np.errstate(over="ignore"):
            gaps = np.asarray(self.f(finite), dtype=np.float64) - float(self.f(self.x_star))
        ax_loss.plot(np.arange(len(finite)), np.maximum(gaps, 1e-300), marker="o", markersize=3)
        ax_loss.set_yscale("log")
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("$f(x_t) - f(x^*)$ (log scale)")
        ax_loss.set_title("distance to the minimum value")
        return [
            f"learning rate: {lr:.3g}, {values['steps']} steps from x0 = {self.x0:g}",
            f"final x: {_fmt(float(finite[-1]))}, final loss: {_fmt(float(self.f(finite[-1])))}",
            f"verdict: {verdict}",
        ]


def lr_explorer_1d(
    f: Callable[[np.ndarray], np.ndarray] | None = None,
    f_grad: Callable[[float], float] | None = None,
    x0: float = 4.0,
    log10_lr: float = -1.0,
    steps: int = 20,
) -> LR1DExplorer:
    """Learning-rate explorer in 1-D (default ``f(x) = x^2``; notebook 02).

    Parameters
    ----------
    f : callable, optional
        Loss on an ndarray of shape (r,).
    f_grad : callable, optional
        Its derivative at a float.
    x0 : float
        Starting point.
    log10_lr : float
    steps : int
    """
    return LR1DExplorer(f, f_grad, x0, log10_lr, steps)


# ---------------------------------------------------------------------------
# notebook 06: convolution arithmetic
# ---------------------------------------------------------------------------

_PAD, _INPUT, _ZERO = 0, 1, 2
# RGB per cell type, indexed by the codes above: grey padding, white input, pale yellow zeros.
_CELL_RGB = np.array([to_rgb("#cfcfcf"), to_rgb("#ffffff"), to_rgb("#fdf3c4")])


def conv_grid(
    n: int, k: int, s: int, p: int, d: int, transposed: bool = False, output_padding: int = 0
) -> tuple[np.ndarray, int, int]:
    """Layout of the (padded) grid the kernel slides over, along one axis.

    A transposed convolution is drawn as its equivalent direct convolution:
    ``s - 1`` zeros inserted between input cells, ``d (k - 1) - p`` padding on
    each side (plus ``output_padding`` at the end), then stride 1.

    Returns
    -------
    cells : ndarray of shape (G,)
        0 = padding, 1 = input cell, 2 = inserted zero.
    step : int
        How far the window moves per output cell.
    out : int
        Output size (``<= 0`` if the kernel does not fit).
    """
    span = d * (k - 1) + 1
    if not transposed:
        g = np.arange(n + 2 * p)
        cells = np.where((g >= p) & (g < p + n), _INPUT, _PAD)
        return cells, s, (len(cells) - span) // s + 1 if len(cells) >= span else 0
    stretched = (n - 1) * s + 1
    q = d * (k - 1) - p  # may be negative: the equivalent input is then cropped
    size = stretched + 2 * q + output_padding
    t = np.arange(max(size, 0)) - q
    inside = (t >= 0) & (t < stretched)
    cells = np.where(inside, np.where(t % s == 0, _INPUT, _ZERO), _PAD)
    return cells, 1, size - span + 1


def input_taps(
    n: int,
    k: int,
    s: int,
    p: int,
    d: int,
    i: int,
    transposed: bool = False,
    output_padding: int = 0,
) -> np.ndarray:
    """Input indices (along one axis) that output index ``i`` reads.

    The explorer highlights exactly these cells; the test checks them against
    the non-zero pattern of PyTorch's gradients.

    Returns
    -------
    ndarray of shape (m,), sorted input indices in [0, n), m <= k
    """
    cells, step, out = conv_grid(n, k, s, p, d, transposed, output_padding)
    if not 0 <= i < out:
        raise ValueError(f"i must be an output index in [0, {out - 1}], got {i}")
    g = i * step + d * np.arange(k)  # grid cells under the kernel taps
    g = g[cells[g] == _INPUT]
    if transposed:
        # Grid cell g holds input (g - q) / s, with q the equivalent padding.
        return (g - (d * (k - 1) - p)) // s
    return g - p


def _draw_grid(ax: Any, types: np.ndarray, title: str) -> None:
    """Cells coloured by type (padding / input / inserted zero) with thin grid lines."""
    h, w = types.shape
    # One image plus two line collections: fast enough to redraw on every slider move.
    ax.imshow(_CELL_RGB[types], interpolation="nearest")
    ax.vlines(np.arange(w + 1) - 0.5, -0.5, h - 0.5, colors="0.55", linewidth=0.6)
    ax.hlines(np.arange(h + 1) - 0.5, -0.5, w - 0.5, colors="0.55", linewidth=0.6)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)  # row 0 at the top, like an image
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title)


class ConvExplorer(Explorer):
    """A kernel sliding over a padded input, with the output-size arithmetic."""

    title = "Convolution explorer"
    figsize = (9.0, 4.6)

    def __init__(
        self,
        input_size: int = 7,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        transposed: bool = False,
        output_padding: int = 0,
        in_channels: int = 3,
        out_channels: int = 1,
    ) -> None:
        super().__init__()
        input_size = check_positive_int(input_size, "input_size")
        kernel_size = check_positive_int(kernel_size, "kernel_size")
        stride = check_positive_int(stride, "stride")
        padding = check_nonneg_int(padding, "padding")
        dilation = check_positive_int(dilation, "dilation")
        output_padding = check_nonneg_int(output_padding, "output_padding")
        in_channels = check_positive_int(in_channels, "in_channels")
        out_channels = check_positive_int(out_channels, "out_channels")
        check_bool(transposed, "transposed")
        islider = W.IntSlider
        self.controls = {
            "input_size": _slider(islider, input_size, 1, max(16, input_size), 1, "input size N"),
            "kernel_size": _slider(islider, kernel_size, 1, max(7, kernel_size), 1, "kernel F"),
            "stride": _slider(islider, stride, 1, max(4, stride), 1, "stride S"),
            "padding": _slider(islider, padding, 0, max(4, padding), 1, "padding P"),
            "dilation": _slider(islider, dilation, 1, max(3, dilation), 1, "dilation D"),
            "transposed": W.Checkbox(value=transposed, description="transposed"),
            "output_padding": _slider(
                islider, output_padding, 0, max(3, output_padding), 1, "output padding"
            ),
            "in_channels": _slider(islider, in_channels, 1, max(16, in_channels), 1, "in channels"),
            "out_channels": _slider(
                islider, out_channels, 1, max(64, out_channels), 1, "out channels"
            ),
            "play": W.Play(value=0, min=0, max=0, step=1, interval=600, description="play"),
            "position": W.IntSlider(
                value=0,
                min=0,
                max=0,
                description="position",
                style={"description_width": "initial"},
            ),
        }
        # Python-side link, so the animation also works where jslink is not rendered.
        W.link((self.controls["play"], "value"), (self.controls["position"], "value"))
        self._connect(skip=("play",))

    def _geometry(self, v: dict[str, Any]) -> tuple[np.ndarray, int, int]:
        return conv_grid(
            v["input_size"],
            v["kernel_size"],
            v["stride"],
            v["padding"],
            v["dilation"],
            v["transposed"],
            v["output_padding"],
        )

    def _before_draw(self, values: dict[str, Any]) -> None:
        self.controls["output_padding"].disabled = not values["transposed"]
        _, _, out = self._geometry(values)
        last = max(out, 1) ** 2 - 1
        for name in ("position", "play"):
            c = self.controls[name]
            c.max = last
            if c.value > last:
                c.value = last

    def arithmetic(self, v: dict[str, Any]) -> list[str]:
        """Output size, exact fit and parameter count via ``coursekit.conv_arithmetic``.

        Each formula is printed, then the same terms in the same order with the
        numbers filled in, so a student can match them one by one. With
        dilation 1 the textbook form (F instead of D·(F − 1) + 1) is used.
        """
        from coursekit import conv_arithmetic as ca

        n, k, s, p, d = (
            v[key] for key in ("input_size", "kernel_size", "stride", "padding", "dilation")
        )
        cin, cout = v["in_channels"], v["out_channels"]
        if v["transposed"]:
            op = v["output_padding"]
            out = ca.conv_transpose_output_size(n, k, s, p, op, d)
            if d == 1:
                formula = "(N − 1)·S − 2P + F + output padding"
                numbers = f"({n} − 1)·{s} − 2·{p} + {k} + {op}"
                pad = f"F − 1 − P = {k} − 1 − {p} = {k - 1 - p}"
            else:
                formula = "(N − 1)·S − 2P + D·(F − 1) + 1 + output padding"
                numbers = f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + 1 + {op}"
                pad = f"D·(F − 1) − P = {d}·({k} − 1) − {p} = {d * (k - 1) - p}"
            lines = [
                f"output: {out} × {out} × {cout}  (transposed)",
                f"{formula} = {numbers} = {out}",
                f"drawn as a stride-1 convolution over the input with {s - 1} zero(s) inserted "
                f"between cells and padding {pad} on each side",
            ]
        else:
            out = ca.conv_output_size(n, k, s, p, d)  # also rejects a kernel that does not fit
            if d == 1:
                formula = "floor((N + 2P − F) / S) + 1"
                numbers = f"({n} + 2·{p} − {k})"
            else:
                formula = "floor((N + 2P − D·(F − 1) − 1) / S) + 1"
                numbers = f"({n} + 2·{p} − {d}·({k} − 1) − 1)"
            # How far the window's start can travel; what the stride cannot reach is dropped.
            travel = n + 2 * p - d * (k - 1) - 1
            dropped = travel % s
            fit = (
                "yes"
                if dropped == 0
                else f"no, the last {dropped} row(s) and column(s) of the padded input "
                "are never covered"
            )
            lines = [
                f"output: {out} × {out} × {cout}",
                f"{formula} = floor({numbers} / {s}) + 1 = floor({travel} / {s}) + 1 "
                f"= {travel // s} + 1 = {out}",
                f"fits exactly: {fit}",
            ]
        params = ca.conv_params(cin, cout, k)
        lines.append(
            f"parameters: C_out × (C_in·F·F + 1) = {cout} × ({cin}·{k}·{k} + 1) = {params}"
        )
        return lines

    def draw(self, fig: Figure, values: dict[str, Any]) -> list[str]:
        lines = self.arithmetic(values)
        cells, step, out = self._geometry(values)
        k, d = values["kernel_size"], values["dilation"]
        pos = min(values["position"], out * out - 1)
        i, j = divmod(pos, out)
        # A 2-D cell is an input cell only if its row and its column both are.
        types = np.where(
            (cells[:, None] == _PAD) | (cells[None, :] == _PAD),
            _PAD,
            np.where((cells[:, None] == _INPUT) & (cells[None, :] == _INPUT), _INPUT, _ZERO),
        )
        ax_in, ax_out = fig.subplots(1, 2, width_ratios=[len(cells), max(out, 1)])
        kind = "transposed: zeros inserted, " if values["transposed"] else ""
        _draw_grid(
            ax_in,
            types,
            f"input {values['input_size']}×{values['input_size']} ({kind}padding shaded)",
        )
        r0, c0 = i * step, j * step
        for a in range(k):
            for b in range(k):
                ax_in.add_patch(
                    Rectangle(
                        (c0 + b * d - 0.5, r0 + a * d - 0.5), 1, 1, facecolor="tab:blue", alpha=0.45
                    )
                )
        span = d * (k - 1) + 1
        ax_in.add_patch(
            Rectangle(
                (c0 - 0.5, r0 - 0.5), span, span, fill=False, edgecolor="tab:blue", linewidth=2
            )
        )
        _draw_grid(ax_out, np.full((out, out), _INPUT), f"output {out}×{out}")
        ax_out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="tab:orange", alpha=0.8))
        rows = f"{r0}..{r0 + span - 1}"
        cols = f"{c0}..{c0 + span - 1}"
        lines.append(f"position {pos}: output cell ({i}, {j}) reads grid rows {rows}, cols {cols}")
        return lines


def conv_explorer(
    input_size: int = 7,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    transposed: bool = False,
    in_channels: int = 3,
    out_channels: int = 1,
) -> ConvExplorer:
    """Convolution arithmetic explorer with an animated sliding window (notebook 06).

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : int
        Square input N, kernel F, stride S, padding P, dilation D.
    transposed : bool
        Show the transposed convolution (drawn as its equivalent direct one).
    in_channels, out_channels : int
        For the parameter count.
    """
    return ConvExplorer(
        input_size, kernel_size, stride, padding, dilation, transposed, 0, in_channels, out_channels
    )


# ---------------------------------------------------------------------------
# notebook 04: activation functions
# ---------------------------------------------------------------------------

_ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu")


class ActivationExplorer(Explorer):
    """Value and derivative of one activation, with the LeakyReLU/PReLU slope."""

    title = "Activation explorer"
    figsize = (9.0, 3.6)

    def __init__(self, activation: str = "sigmoid", slope: float = 0.1) -> None:
        super().__init__()
        check_in(activation, _ACTIVATION_NAMES, "activation")
        slope = _in_range(slope, 0.0, 0.5, "slope")
        self.x = np.linspace(-5.0, 5.0, 501)
        self.controls = {
            "activation": W.Dropdown(
                options=list(_ACTIVATION_NAMES), value=activation, description="activation"
            ),
            "slope": _slider(W.FloatSlider, float(slope), 0.0, 0.5, 0.01, "negative slope"),
        }
        self._connect()

    def _before_draw(self, values: dict[str, Any]) -> None:
        self.controls["slope"].disabled = values["activation"] not in ("leaky_relu", "prelu")

    def functions(self, values: dict[str, Any]) -> tuple[Callable, Callable]:
        """The selected ``(f, f')`` with the slope applied."""
        from coursekit import activations as A

        name, a = values["activation"], values["slope"]
        if name == "leaky_relu":
            return (lambda x: A.leaky_relu(x, a)), (lambda x: A.leaky_relu_grad(x, a))
        if name == "prelu":
            return (lambda x: A.prelu(x, a)), (lambda x: A.prelu_grad(x, a)[0])
        return A.ACTIVATIONS[name]

    def draw(self, fig: Figure, values: dict[str, Any]) -> list[str]:
        f, f_grad = self.functions(values)
        name = values["activation"]
        if name in ("leaky_relu", "prelu"):
            name = f"{name} (slope {values['slope']:.2f})"
        x = self.x
        y, dy = f(x), f_grad(x)
        ax_f, ax_d = fig.subplots(1, 2)
        for ax, vals, what, title in (
            (ax_f, y, "$f(x)$", "activation"),
            (ax_d, dy, "$f'(x)$", "derivative"),
        ):
            ax.plot(x, vals, color="tab:blue", label=name)
            ax.set_xlabel("$x$ (pre-activation)")
            ax.set_ylabel(what)
            ax.set_title(title)
            ax.legend(loc="upper left")
        # Where the gradient all but vanishes: the saturation the lesson warns about.
        small = np.abs(dy) < 0.01
        f0, df0 = float(f(np.zeros(1))[0]), float(f_grad(np.zeros(1))[0])
        sat = f"|f'(x)| < 0.01 on {100 * small.mean():.0f}% of [-5, 5]"
        return [
            f"activation: {name}",
            f"f(0) = {_fmt(f0)}, f'(0) = {_fmt(df0)}",
            f"largest derivative on [-5, 5]: {_fmt(float(dy.max()))}",
            f"range on [-5, 5]: [{_fmt(float(y.min()))}, {_fmt(float(y.max()))}]",
            sat,
        ]


def activation_explorer(activation: str = "sigmoid", slope: float = 0.1) -> ActivationExplorer:
    """Activation-function explorer (notebook 04).

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu", "leaky_relu", "prelu"}
    slope : float
        Negative-side slope for LeakyReLU and PReLU.
    """
    return ActivationExplorer(activation, slope)


# ---------------------------------------------------------------------------
# notebook 04: width and depth of a tiny MLP
# ---------------------------------------------------------------------------

_DATASETS = ("moons", "xor", "circles", "spirals")


class MLPWidthExplorer(Explorer):
    """Train a tiny NumPy MLP on a 2-D toy set and show its decision boundary."""

    title = "MLP width and depth explorer"
    figsize = (5.0, 4.2)

    def __init__(
        self,
        dataset: str = "moons",
        width: int = 8,
        depth: int = 1,
        epochs: int = 100,
        n_samples: int = 200,
        lr: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_in(dataset, _DATASETS, "dataset")
        width = check_positive_int(width, "width")
        if width > 64:
            raise ValueError(f"width must be an integer in [1, 64], got {width}")
        depth = check_nonneg_int(depth, "depth")
        if depth > 2:
            raise ValueError(f"depth must be 0, 1 or 2 hidden layers, got {depth}")
        epochs = check_positive_int(epochs, "epochs")
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.lr = check_positive(lr, "lr")
        self.seed = check_nonneg_int(seed, "seed")
        self.cache: dict[tuple, dict[str, Any]] = {}
        self.controls = {
            "dataset": W.Dropdown(options=list(_DATASETS), value=dataset, description="data set"),
            "width": _slider(W.IntSlider, width, 1, 64, 1, "hidden width"),
            "depth": _slider(W.IntSlider, depth, 0, 2, 1, "hidden layers"),
            "epochs": _slider(W.IntSlider, epochs, 1, max(300, epochs), 1, "epochs"),
        }
        self._connect()

    def _before_draw(self, values: dict[str, Any]) -> None:
        self.controls["width"].disabled = values["depth"] == 0

    def data(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        """The toy set: X of shape (n, 2), y of shape (n,)."""
        from coursekit import toydata

        make = getattr(toydata, f"make_{dataset}")
        return make(n=self.n_samples, seed=self.seed)

    def train(self, values: dict[str, Any]) -> dict[str, Any]:
        """Train (or fetch from the cache) the model for these settings."""
        from coursekit.layers import MLP
        from coursekit.optimizers import Adam
        from coursekit.solver import predict, train_numpy

        width = values["width"] if values["depth"] > 0 else 0
        key = (values["dataset"], width, values["depth"], values["epochs"])
        if key in self.cache:
            return {**self.cache[key], "cached": True}
        X, y = self.data(values["dataset"])
        num_classes = int(y.max()) + 1
        sizes = [2] + [width] * values["depth"] + [num_classes]
        model = MLP(sizes, activation="relu", rng=self.seed)
        opt = Adam(model.parameters(), lr=self.lr)
        tic = time.perf_counter()
        history = train_numpy(
            model, X, y, opt, epochs=values["epochs"], batch_size=32, seed=self.seed, progress=False
        )
        seconds = time.perf_counter() - tic
        acc = float(np.mean(np.argmax(predict(model, X), axis=1) == y))
        result = {
            "model": model,
            "history": history,
            "X": X,
            "y": y,
            "accuracy": acc,
            "seconds": seconds,
            "sizes": sizes,
        }
        self.cache[key] = result
        return {**result, "cached": False}

    def draw(self, fig: Figure, values: dict[str, Any]) -> list[str]:
        from coursekit.solver import predict

        r = self.train(values)
        model = r["model"]
        ax = fig.add_subplot()
        arch = " → ".join(str(s) for s in r["sizes"])
        plots.plot_decision_boundary(
            lambda P: predict(model, P), r["X"], r["y"], ax=ax, resolution=80, title=f"MLP {arch}"
        )
        hidden = (
            f"{values['depth']} hidden layer(s) of width {r['sizes'][1]}"
            if values["depth"]
            else "no hidden layer (linear classifier)"
        )
        # No timings or cache state in the text: static runs are compared by nbval.
        return [
            f"architecture: {arch}; {hidden}",
            f"parameters: {model.num_parameters()}",
            f"training accuracy: {100 * r['accuracy']:.1f}% after {values['epochs']} epochs",
        ]


def mlp_width_explorer(
    dataset: str = "moons",
    width: int = 8,
    depth: int = 1,
    epochs: int = 100,
    n_samples: int = 200,
    seed: int = 0,
) -> MLPWidthExplorer:
    """Width/depth explorer for a tiny NumPy MLP on a toy data set (notebook 04).

    Parameters
    ----------
    dataset : {"moons", "xor", "circles", "spirals"}
    width : int in [1, 64]
        Units per hidden layer.
    depth : int in {0, 1, 2}
        Number of hidden layers (0: a linear classifier).
    epochs : int
    n_samples : int
        Size of the toy data set (smaller trains faster).
    seed : int
        Seeds the data set, the initial weights and the mini-batch order.
    """
    return MLPWidthExplorer(dataset, width, depth, epochs, n_samples, seed=seed)
