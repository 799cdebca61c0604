"""coursekit.widgets: explorers react to their controls, and fall back to static figures."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import base64  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402

import ipywidgets as W  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursekit import widgets  # noqa: E402
from coursekit.activations import leaky_relu, sigmoid  # noqa: E402


def _png(explorer) -> bytes:
    (out,) = explorer.output.outputs
    assert out["output_type"] == "display_data"
    return base64.b64decode(out["data"]["image/png"])


def _changes_figure(explorer, control: str, value) -> None:
    """Set a control and check that the Output received a new, different PNG."""
    before_fig, before_png = explorer.figure, _png(explorer)
    explorer.controls[control].value = value
    assert explorer.figure is not before_fig
    after = _png(explorer)
    assert after.startswith(b"\x89PNG") and after != before_png


# --------------------------------------------------------------------------- static switch


def test_use_static_decision(monkeypatch):
    monkeypatch.delenv(widgets.STATIC_ENV, raising=False)
    assert widgets.use_static(True) is True
    assert widgets.use_static(False) is False
    # pytest is not an IPython kernel: no widget frontend, so static.
    assert widgets.use_static() is True
    monkeypatch.setattr(widgets, "_in_kernel", lambda: True)
    assert widgets.use_static() is False
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    assert widgets.use_static() is True
    with pytest.raises(TypeError, match="static must be True, False or None, got 'yes'"):
        widgets.use_static("yes")


# --------------------------------------------------------------------------- conv explorer


def test_conv_explorer_stride_changes_the_output_size():
    ex = widgets.conv_explorer(input_size=7, kernel_size=3)
    assert "output: 5 × 5 × 1" in ex.info.value
    assert "fits exactly: yes" in ex.info_text
    _changes_figure(ex, "stride", 2)
    assert "output: 3 × 3 × 1" in ex.info.value
    ex.controls["stride"].value = 3
    assert "output: 2 × 2" in ex.info_text and "fits exactly: no" in ex.info_text
    # The animation's range follows the output size.
    assert ex.controls["position"].max == 3 and ex.controls["play"].max == 3


def _formula_line(ex) -> str:
    (line,) = [t for t in ex.info_lines if t.startswith(("floor(", "(N"))]
    return line


def _evaluate(filled: str) -> int:
    """A filled-in formula of the info text, evaluated as Python arithmetic."""
    return eval(filled.replace("·", "*").replace("−", "-"), {"floor": math.floor})


@pytest.mark.parametrize(
    ("setting", "line"),
    [
        # Textbook form for dilation 1: the numbers follow N, 2P, F, S term by term.
        (
            dict(input_size=7, kernel_size=3, stride=1, padding=1),
            "floor((N + 2P − F) / S) + 1 = floor((7 + 2·1 − 3) / 1) + 1 "
            "= floor(6 / 1) + 1 = 6 + 1 = 7",
        ),
        (
            dict(input_size=7, kernel_size=3, stride=3),
            "floor((N + 2P − F) / S) + 1 = floor((7 + 2·0 − 3) / 3) + 1 "
            "= floor(4 / 3) + 1 = 1 + 1 = 2",
        ),
        # With dilation the general form, its D·(F − 1) + 1 term shown, not hidden in F.
        (
            dict(input_size=7, kernel_size=3, stride=1, padding=1, dilation=2),
            "floor((N + 2P − D·(F − 1) − 1) / S) + 1 = floor((7 + 2·1 − 2·(3 − 1) − 1) / 1) + 1 "
            "= floor(4 / 1) + 1 = 4 + 1 = 5",
        ),
        (
            dict(input_size=10, kernel_size=3, stride=2, padding=0, dilation=3),
            "floor((N + 2P − D·(F − 1) − 1) / S) + 1 = floor((10 + 2·0 − 3·(3 − 1) − 1) / 2) + 1 "
            "= floor(3 / 2) + 1 = 1 + 1 = 2",
        ),
        (
            dict(input_size=3, kernel_size=3, stride=2, padding=1, transposed=True),
            "(N − 1)·S − 2P + F + output padding = (3 − 1)·2 − 2·1 + 3 + 0 = 5",
        ),
        (
            dict(input_size=4, kernel_size=3, stride=2, padding=1, dilation=2, transposed=True),
            "(N − 1)·S − 2P + D·(F − 1) + 1 + output padding "
            "= (4 − 1)·2 − 2·1 + 2·(3 − 1) + 1 + 0 = 9",
        ),
    ],
)
def test_conv_explorer_formula_numbers_follow_the_formula(setting, line):
    ex = widgets.ConvExplorer(**setting)
    assert _formula_line(ex) == line
    # The filled-in numbers really give the printed size, and so does PyTorch.
    filled = line.split(" = ")[1]
    size = int(line.rsplit(" = ", 1)[1])
    assert _evaluate(filled) == size
    n, k, s = setting["input_size"], setting["kernel_size"], setting["stride"]
    p, d = setting.get("padding", 0), setting.get("dilation", 1)
    x = torch.zeros(1, 1, n, n)
    w = torch.zeros(1, 1, k, k)
    conv = F.conv_transpose2d if setting.get("transposed") else F.conv2d
    assert conv(x, w, stride=s, padding=p, dilation=d).shape[-1] == size
    assert f"output: {size} × {size} × 1" in ex.info_text
    assert ex.info_text.count("fits exactly") <= 1  # said once, not twice


def test_conv_explorer_exact_fit_is_said_once():
    ex = widgets.conv_explorer(input_size=7, kernel_size=3, stride=3)
    assert ex.info_text.count("fits exactly") == 1
    assert "fits exactly: no, the last 1 row(s) and column(s) of the padded input" in ex.info_text
    ex.controls["padding"].value = 1  # (7 + 2 - 3) / 3 = 2: now it fits
    assert ex.info_text.count("fits exactly") == 1
    assert "fits exactly: yes" in ex.info_text and "output: 3 × 3" in ex.info_text


def test_conv_explorer_transposed_3_to_5():
    ex = widgets.conv_explorer(input_size=3, kernel_size=3, stride=2, padding=1)
    assert "output: 2 × 2" in ex.info_text
    assert ex.controls["output_padding"].disabled
    _changes_figure(ex, "transposed", True)
    assert "output: 5 × 5 × 1  (transposed)" in ex.info_text
    assert "= (3 − 1)·2 − 2·1 + 3 + 0 = 5" in ex.info_text
    assert "padding F − 1 − P = 3 − 1 − 1 = 1 on each side" in ex.info_text
    assert "fits exactly" not in ex.info_text
    assert not ex.controls["output_padding"].disabled
    ex.controls["output_padding"].value = 1
    assert "output: 6 × 6" in ex.info_text
    assert "= (3 − 1)·2 − 2·1 + 3 + 1 = 6" in ex.info_text


def test_conv_explorer_parameter_count_and_play_animation():
    ex = widgets.conv_explorer(input_size=32, kernel_size=5, padding=2, in_channels=3)
    ex.controls["out_channels"].value = 10
    assert "output: 32 × 32 × 10" in ex.info_text
    assert "= 10 × (3·5·5 + 1) = 760" in ex.info_text
    # Play drives position, which moves the window.
    ex.controls["play"].value = 33
    assert ex.controls["position"].value == 33
    assert "position 33: output cell (1, 1) reads grid rows 1..5, cols 1..5" in ex.info_text
    # Shrinking the output clamps the position instead of pointing past the end.
    ex.controls["input_size"].value = 4
    assert ex.controls["position"].value == 15


def test_conv_explorer_invalid_setting_is_reported_not_raised():
    ex = widgets.conv_explorer(input_size=3, kernel_size=3)
    ex.controls["kernel_size"].value = 7
    assert "error: kernel of size 7x7 is larger than the padded input" in ex.info_text
    assert "#c0392b" in ex.info.value  # shown in red
    ex.controls["padding"].value = 2
    assert "output: 1 × 1" in ex.info_text


def test_conv_explorer_argument_errors():
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        widgets.conv_explorer(stride=0)
    with pytest.raises(TypeError, match="transposed must be a bool, got 1"):
        widgets.conv_explorer(transposed=1)


def test_conv_grid_layouts():
    cells, step, out = widgets.conv_grid(7, 3, 1, 1, 1)
    np.testing.assert_array_equal(cells, [0, 1, 1, 1, 1, 1, 1, 1, 0])
    assert (step, out) == (1, 7)
    # Transposed 3 -> 5 (k3 s2 p1): zeros between inputs, padding d(k-1)-p = 1.
    cells, step, out = widgets.conv_grid(3, 3, 2, 1, 1, transposed=True)
    np.testing.assert_array_equal(cells, [0, 1, 2, 1, 2, 1, 0])
    assert (step, out) == (1, 5)


def test_highlighted_taps_match_torch_gradients():
    """The cells the explorer highlights are exactly those PyTorch's output depends on."""
    configs = itertools.product(range(1, 6), (1, 2, 3), (1, 2, 3), (0, 1, 2), (1, 2), (False, True))
    checked = 0
    for n, k, s, p, d, transposed in configs:
        for op in range(max(s, d)) if transposed else (0,):
            # A convolution is linear: its Jacobian is its response to the identity basis.
            x = torch.eye(n, dtype=torch.float64).unsqueeze(1)
            w = torch.ones(1, 1, k, dtype=torch.float64)
            try:
                if transposed:
                    y = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op, dilation=d)
                else:
                    y = F.conv1d(x, w, stride=s, padding=p, dilation=d)
            except RuntimeError:  # torch rejects it (kernel too large, output < 1)
                continue
            jac = y[:, 0, :].T  # (out, n)
            assert widgets.conv_grid(n, k, s, p, d, transposed, op)[2] == jac.shape[0]
            for i in range(jac.shape[0]):
                expected = np.nonzero(jac[i].numpy())[0]
                got = np.sort(widgets.input_taps(n, k, s, p, d, i, transposed, op))
                np.testing.assert_array_equal(got, expected, err_msg=str((n, k, s, p, d, op, i)))
            checked += 1
    assert checked > 300
    with pytest.raises(ValueError, match=r"i must be an output index in \[0, 4\], got 5"):
        widgets.input_taps(7, 3, 1, 0, 1, 5)


# --------------------------------------------------------------------------- learning rate


def test_lr_explorer_learning_rate_and_optimizer():
    from coursekit.optimizers import SGD
    from coursekit.surfaces import quadratic, run_optimizer

    ex = widgets.lr_explorer("quadratic", optimizer="sgd", log10_lr=-1.0, steps=50)
    assert "status: converged" in ex.info_text
    assert ex.controls["momentum"].disabled
    # Above lr = 2/kappa = 0.2 plain GD diverges along the steep axis.
    _changes_figure(ex, "log10_lr", -0.5)
    assert "status: diverg" in ex.info_text

    ex.controls["optimizer"].value = "momentum"
    assert not ex.controls["momentum"].disabled
    ex.controls["log10_lr"].value = -2.0
    expected = run_optimizer(SGD, quadratic(), None, 50, lr=0.01, momentum=0.9)
    np.testing.assert_allclose(ex.trajectory(), expected, rtol=1e-12)
    end = expected[-1]
    assert f"end: ({end[0]:.3g}, {end[1]:.3g})" in ex.info_text
    axes = ex.figure.axes
    assert len(axes) == 1 and axes[0].get_legend() is not None


def test_lr_explorer_accepts_a_surface_and_checks_names():
    from coursekit.surfaces import rosenbrock

    s = rosenbrock(b=10.0)
    ex = widgets.lr_explorer(s, optimizer="adam", steps=20)
    assert ex.controls["surface"].value == s.name
    assert s.name in ex.info_text
    with pytest.raises(ValueError, match="surface must be one of .* got 'banana'"):
        widgets.lr_explorer("banana")
    with pytest.raises(ValueError, match="optimizer must be one of .* got 'lbfgs'"):
        widgets.lr_explorer(optimizer="lbfgs")


@pytest.mark.parametrize(
    ("lr", "verdict"),
    [(0.01, "too small"), (0.1, "good"), (0.8, "good (oscillating)"), (1.1, "diverging")],
)
def test_lr_explorer_1d_regimes_on_x_squared(lr, verdict):
    # x <- (1 - 2 lr) x: slow for small lr, sign flips for lr > 0.5, diverges for lr > 1.
    ex = widgets.LR1DExplorer(log10_lr=float(np.log10(lr)), steps=20)
    assert ex.info_text.endswith(f"verdict: {verdict}")
    assert ex.figure.axes[0].get_xlabel() == "$x$ (parameter)"


def test_lr_explorer_1d_updates_and_checks_arguments():
    ex = widgets.lr_explorer_1d(x0=2.0)
    before = ex.info_text
    _changes_figure(ex, "steps", 5)
    assert "5 steps from x0 = 2" in ex.info_text and ex.info_text != before
    with pytest.raises(ValueError, match="f and f_grad must be given together"):
        widgets.lr_explorer_1d(f=np.sin)


# --------------------------------------------------------------------------- activations


def test_activation_explorer_slope():
    ex = widgets.activation_explorer("sigmoid")
    assert "f(0) = 0.5, f'(0) = 0.25" in ex.info_text
    assert ex.controls["slope"].disabled
    value_ax, grad_ax = ex.figure.axes
    np.testing.assert_allclose(value_ax.lines[0].get_ydata(), sigmoid(ex.x))

    _changes_figure(ex, "activation", "leaky_relu")
    assert not ex.controls["slope"].disabled
    assert "f'(0) = 0.1" in ex.info_text
    ex.controls["slope"].value = 0.3
    assert "f'(0) = 0.3" in ex.info_text and "range on [-5, 5]: [-1.5, 5]" in ex.info_text
    np.testing.assert_allclose(ex.figure.axes[0].lines[0].get_ydata(), leaky_relu(ex.x, 0.3))
    ex.controls["activation"].value = "prelu"
    np.testing.assert_allclose(ex.figure.axes[1].lines[0].get_ydata(), np.where(ex.x > 0, 1.0, 0.3))
    with pytest.raises(ValueError, match="activation must be one of"):
        widgets.activation_explorer("gelu")


# --------------------------------------------------------------------------- MLP width


def test_mlp_width_explorer_trains_and_caches():
    from coursekit.solver import predict

    ex = widgets.mlp_width_explorer("moons", width=4, depth=1, epochs=3, n_samples=40)
    assert "architecture: 2 → 4 → 2" in ex.info_text
    _changes_figure(ex, "depth", 0)
    assert "no hidden layer" in ex.info_text and ex.controls["width"].disabled
    assert "parameters: 6" in ex.info_text  # 2x2 weights + 2 biases
    model = ex.cache[("moons", 4, 1, 3)]["model"]
    ex.controls["depth"].value = 1
    assert len(ex.cache) == 2 and ex.cache[("moons", 4, 1, 3)]["model"] is model  # not retrained
    r = ex.cache[("moons", 4, 1, 3)]
    acc = 100 * np.mean(predict(r["model"], r["X"]).argmax(axis=1) == r["y"])
    assert f"training accuracy: {acc:.1f}%" in ex.info_text


def test_mlp_width_explorer_argument_errors():
    with pytest.raises(ValueError, match=r"width must be an integer in \[1, 64\], got 65"):
        widgets.mlp_width_explorer(width=65)
    with pytest.raises(ValueError, match="depth must be 0, 1 or 2 hidden layers, got 3"):
        widgets.mlp_width_explorer(depth=3)
    with pytest.raises(ValueError, match="dataset must be one of"):
        widgets.mlp_width_explorer("mnist")


# --------------------------------------------------------------------------- display


def test_widget_assembles_controls_info_and_output():
    ex = widgets.activation_explorer()
    box = ex.widget
    assert isinstance(box, W.VBox)
    children = list(box.children)
    for control in ex.controls.values():
        assert control in children
    assert ex.info in children and ex.output in children
    assert ex.widget is box


def test_static_fallback_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    ex = widgets.conv_explorer(input_size=7, kernel_size=3)
    ex.controls["stride"].value = 2
    first = ex.figure
    ex._ipython_display_()
    printed = capsys.readouterr().out
    assert "output: 3 × 3 × 1" in printed
    assert isinstance(ex.figure, Figure) and ex.figure is not first
    assert len(ex.figure.axes) == 2
    assert ex.figure.axes[1].get_title() == "output 3×3"


def test_static_fallback_when_forced(capsys):
    ex = widgets.lr_explorer_1d()
    ex.show(static=True)
    assert "verdict: good" in capsys.readouterr().out
    assert len(ex.figure.axes) == 2


# --------------------------------------------------------------------------- saved notebooks
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_live_bundle_carries_the_current_figure_and_info():
    ex = widgets.lr_explorer_1d()
    bundle = ex.mimebundle()
    assert bundle[WIDGET_VIEW]["model_id"] == ex.widget.model_id
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and png == _png(ex)  # the figure the widget shows
    assert bundle["text/plain"] == "\n".join([ex.title, *ex.info_lines])
    assert "verdict: good" in bundle["text/plain"]
    json_safe = {k: v for k, v in bundle.items() if k != WIDGET_VIEW}
    assert all(isinstance(v, str) for v in json_safe.values())

    ex.controls["log10_lr"].value = 0.2  # lr 1.58: diverges
    later = ex.mimebundle()
    assert later[WIDGET_VIEW] == bundle[WIDGET_VIEW]
    assert base64.b64decode(later["image/png"]) == _png(ex) != png
    assert "diverg" in later["text/plain"] and later["text/plain"] != bundle["text/plain"]


def test_live_show_publishes_the_bundle_raw(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(widgets, "use_static", lambda static=None: False)
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    ex = widgets.activation_explorer()
    ex._ipython_display_()
    ((args, kwargs),) = shown
    assert kwargs == {"raw": True}
    assert set(args[0]) == {WIDGET_VIEW, "image/png", "text/plain"}
    assert args[0] == ex.mimebundle()


def test_lab_is_told_to_save_the_widget_state():
    """The override names a real setting of the installed widget manager."""
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    override = root / "share/jupyter/lab/settings/overrides.d/coursekit.json"
    settings = json.loads(override.read_text())
    assert settings == {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}
    schema = (
        Path(sys.prefix)
        / "share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager/schemas"
        / "@jupyter-widgets/jupyterlab-manager/plugin.json"
    )
    assert json.loads(schema.read_text())["properties"]["saveState"]["type"] == "boolean"
