"""coursekit.plots: every helper draws what it says, with labelled axes, and checks its inputs."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursekit import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _n_images(fig: Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


# --------------------------------------------------------------------------- style


def test_course_style_is_applied_inside_and_restored_after():
    before = matplotlib.rcParams["axes.spines.top"]
    with plots.course_style():
        assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["axes.spines.top"] == before


def test_no_function_calls_plt_show(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("plt.show() must not be called")

    monkeypatch.setattr(plt, "show", boom)
    plots.plot_history({"train_loss": [1.0, 0.5]}, metrics=("loss",))
    plots.plot_image(np.zeros((4, 4)))


# --------------------------------------------------------------------------- history


class _History:
    def __init__(self):
        self.train_loss = [1.0, 0.7, 0.5]
        self.val_loss = [1.1, 0.8, 0.75]
        self.train_acc = [0.5, 0.7, 0.9]
        self.val_acc = [0.45, 0.6, 0.8]
        self.grad_norms = {}


@pytest.mark.parametrize("history", [_History(), vars(_History())])
def test_plot_history_object_or_dict(history):
    fig = plots.plot_history(history, title="run 1")
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch"
    assert loss_ax.get_ylabel() == "loss (cross-entropy)"
    assert acc_ax.get_ylabel() == "accuracy (%)"
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    assert _legend_texts(loss_ax) == ["train", "validation"]
    np.testing.assert_allclose(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(loss_ax.lines[1].get_ydata(), [1.1, 0.8, 0.75])
    # Fractions are shown as percentages.
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [50.0, 70.0, 90.0])
    assert fig.get_suptitle() == "run 1"


def test_plot_history_keeps_percentages_and_skips_missing_validation():
    fig = plots.plot_history({"train_loss": [2.0, 1.0], "train_acc": [40.0, 80.0]})
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 1
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [40.0, 80.0])


def test_plot_history_errors():
    with pytest.raises(TypeError, match="history must be a History object or a dict"):
        plots.plot_history([1.0, 2.0])
    with pytest.raises(
        ValueError, match=r"metrics must name curves that history holds .* got 'f1'"
    ):
        plots.plot_history({"train_loss": [1.0]}, metrics=("loss", "f1"))


# --------------------------------------------------------------------------- 2-D classification


def _blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(-2, 0.5, (n, 2)), rng.normal(2, 0.5, (n, 2))])
    y = np.repeat([0, 1], n)
    return X, y


def test_plot_decision_boundary_with_labels_and_scores():
    X, y = _blobs()
    fig = plots.plot_decision_boundary(lambda P: (P.sum(axis=1) > 0).astype(int), X, y)
    ax = fig.axes[0]
    assert "x_1" in ax.get_xlabel() and "x_2" in ax.get_ylabel()
    assert ax.get_title() == "decision boundary (accuracy 100.0%)"
    assert _legend_texts(ax) == ["class 0", "class 1"]

    # Logits of shape (m, 2) are argmaxed; a classifier that always says 0 scores 50%.
    _, ax2 = plt.subplots()
    out = plots.plot_decision_boundary(
        lambda P: np.column_stack([np.ones(len(P)), np.zeros(len(P))]), X, y, ax=ax2, resolution=20
    )
    assert out is ax2.figure
    assert ax2.get_title() == "decision boundary (accuracy 50.0%)"


def test_plot_decision_boundary_errors():
    X, y = _blobs(5)
    with pytest.raises(ValueError, match=r"X must have shape \(\*, 2\)"):
        plots.plot_decision_boundary(lambda P: P[:, 0] > 0, np.zeros((10, 3)), y)
    with pytest.raises(ValueError, match="X and y must have the same batch size"):
        plots.plot_decision_boundary(lambda P: P[:, 0] > 0, X, y[:-1])
    with pytest.raises(TypeError, match="predict_fn must be callable"):
        plots.plot_decision_boundary("model", X, y)
    with pytest.raises(
        ValueError, match=r"predict_fn must return class labels .* got an array of shape \(25, 1\)"
    ):
        plots.plot_decision_boundary(lambda P: P[:, :1] * 0.3, X, y, resolution=5)


# --------------------------------------------------------------------------- surfaces


def _bowl(X, Y):
    return X**2 + 4 * Y**2


def test_plot_loss_surface_with_a_function_and_trajectories():
    trajs = {
        "GD": np.array([[2.0, 1.0], [1.0, 0.5], [0.5, 0.2]]),
        "diverged": np.array([[1.0, 1.0], [5.0, -5.0], [np.inf, np.nan]]),
    }
    fig = plots.plot_loss_surface(_bowl, trajs, xlim=(-3, 3), ylim=(-2, 2), levels=10)
    ax = fig.axes[0]
    assert len(ax.lines) == 2
    assert _legend_texts(ax) == ["GD", "diverged"]
    # Start and end markers: 2 per trajectory (scatter collections after the contour sets).
    starts_ends = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    assert len(starts_ends) == 4
    np.testing.assert_allclose(starts_ends[1].get_offsets()[0], [0.5, 0.2])
    # The window stays put when a run diverges.
    assert ax.get_xlim() == (-3.0, 3.0) and ax.get_ylim() == (-2.0, 2.0)
    assert "theta_1" in ax.get_xlabel() and "theta_2" in ax.get_ylabel()


def test_plot_loss_surface_uses_a_surface_object():
    from coursekit.surfaces import quadratic

    s = quadratic(10.0)
    fig = plots.plot_loss_surface(s, {"start": s.default_start[None]}, log_scale=False)
    ax = fig.axes[0]
    assert ax.get_title() == s.name
    assert ax.get_xlim() == s.xlim
    assert _legend_texts(ax) == ["minimum", "start"]


def test_plot_loss_surface_errors():
    with pytest.raises(ValueError, match="xlim and ylim are required"):
        plots.plot_loss_surface(_bowl)
    with pytest.raises(ValueError, match=r"trajectories\['a'\] must have shape \(\*, 2\)"):
        plots.plot_loss_surface(_bowl, {"a": np.zeros((4, 3))}, xlim=(-1, 1), ylim=(-1, 1))
    with pytest.raises(TypeError, match="surface must be a Surface or a callable"):
        plots.plot_loss_surface(3.0, xlim=(-1, 1), ylim=(-1, 1))


def test_plot_trajectory_panels_one_panel_per_run_titled_with_its_losses():
    from coursekit.surfaces import quadratic

    s = quadratic(5.0)
    trajs = {
        "slow": np.array([[-4.0, 2.0], [-3.0, 1.0]]),
        "fast": np.array([[-4.0, 2.0], [0.0, 0.0]]),
        "overflow": np.array([[-4.0, 2.0], [8.0, -4.0], [np.inf, np.nan]]),
    }
    fig = plots.plot_trajectory_panels(s, trajs, title="three runs")
    assert len(fig.axes) == 3 and fig.get_suptitle() == "three runs"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "slow\nloss 18 \u2192 7"
    assert titles[1] == "fast\nloss 18 \u2192 0"
    assert titles[2] == "overflow\nloss 18 \u2192 72 (overflow after step 1)"
    for ax, path in zip(fig.axes, trajs.values(), strict=True):
        # The run's own line (after the minimum's marker) holds its finite points.
        np.testing.assert_array_equal(ax.lines[-1].get_xydata()[:2], path[:2])
        assert ax.get_legend() is None and ax.get_xlim() == s.xlim
        assert "theta_1" in ax.get_xlabel()
    assert "theta_2" in fig.axes[0].get_ylabel() and fig.axes[1].get_ylabel() == ""


def test_plot_trajectory_panels_errors():
    with pytest.raises(ValueError, match="at least one trajectory"):
        plots.plot_trajectory_panels(_bowl, {}, xlim=(-1, 1), ylim=(-1, 1))
    with pytest.raises(ValueError, match="xlim and ylim are required"):
        plots.plot_trajectory_panels(_bowl, {"a": np.zeros((2, 2))})


def test_plot_1d_descent():
    traj = np.array([4.0, 2.0, 1.0, 0.5])
    fig = plots.plot_1d_descent(lambda x: x**2, traj)
    ax = fig.axes[0]
    curve, iterates = ax.lines
    np.testing.assert_allclose(iterates.get_xdata(), traj)
    np.testing.assert_allclose(iterates.get_ydata(), traj**2)
    assert ax.get_xlabel() == "$x$ (parameter)" and ax.get_ylabel() == "$f(x)$ (loss)"
    assert ax.get_title() == "gradient descent, 3 steps"
    with pytest.raises(ValueError, match="trajectory must be 1-D"):
        plots.plot_1d_descent(lambda x: x**2, np.zeros((3, 2)))


def test_plot_1d_descent_hides_iterates_outside_the_window():
    traj = np.array([1.0, -3.0, 9.0, np.inf])
    fig = plots.plot_1d_descent(lambda x: x**2, traj, xlim=(-4.0, 4.0))
    np.testing.assert_allclose(fig.axes[0].lines[1].get_xdata(), [1.0, -3.0])


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    "shape", [(5, 6, 6), (5, 1, 6, 6), (5, 3, 6, 6), (5, 6, 6, 3), (5, 6, 6, 1)]
)
def test_show_images_layouts(shape):
    imgs = np.random.default_rng(0).normal(size=shape)
    fig = plots.show_images(imgs, ncols=3, title="some images")
    assert _n_images(fig) == 5
    assert len(fig.axes) == 6  # 2 rows of 3, the last one empty
    assert fig.get_suptitle() == "some images"
    rgb = shape[-1] == 3 or shape[1] == 3
    im = fig.axes[0].images[0].get_array()
    assert im.shape == ((6, 6, 3) if rgb else (6, 6))
    if rgb:  # normalised to [0, 1] for imshow
        assert im.min() >= 0.0 and im.max() <= 1.0


def test_show_images_titles_wrong_predictions_in_red():
    imgs = np.zeros((3, 4, 4))
    fig = plots.show_images(
        imgs, labels=[0, 1, 2], preds=[0, 2, 2], class_names=["cat", "dog", "car"]
    )
    titles = [ax.title for ax in fig.axes[:3]]
    assert [t.get_text() for t in titles] == [
        "cat\n(true: cat)",
        "car\n(true: dog)",
        "car\n(true: car)",
    ]
    red = matplotlib.colors.to_rgba("tab:red")
    assert [t.get_color() == "tab:red" or t.get_color() == red for t in titles] == [
        False,
        True,
        False,
    ]
    fig = plots.show_images(imgs, labels=np.array([2, 0, 1]), class_names=["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["c", "a", "b"]


def test_show_images_errors():
    with pytest.raises(ValueError, match="images must be 3-D or 4-D"):
        plots.show_images(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="images must have 1 or 3 channels"):
        plots.show_images(np.zeros((2, 5, 4, 4)))
    with pytest.raises(ValueError, match="images and labels must have the same batch size"):
        plots.show_images(np.zeros((3, 4, 4)), labels=[0, 1])
    with pytest.raises(ValueError, match="labels must hold labels in"):
        plots.show_images(np.zeros((2, 4, 4)), labels=[0, 3], class_names=["a", "b"])
    with pytest.raises(ValueError, match="ncols must be an integer >= 1, got 0"):
        plots.show_images(np.zeros((2, 4, 4)), ncols=0)


def test_plot_image_chw_and_hw():
    fig = plots.plot_image(np.random.default_rng(1).random((3, 5, 7)), title="rgb")
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (5, 7, 3)
    assert ax.get_title() == "rgb"
    with pytest.raises(ValueError, match="img must be 2-D or 3-D"):
        plots.plot_image(np.zeros(5))


def test_plot_filters_rgb_and_gray():
    w = np.random.default_rng(0).normal(size=(6, 3, 5, 5))
    fig = plots.plot_filters(w, ncols=4)
    assert _n_images(fig) == 6
    first = fig.axes[0].images[0].get_array()
    assert first.shape == (5, 5, 3)
    # Normalised per filter: each spans exactly [0, 1].
    assert first.min() == 0.0 and first.max() == 1.0
    np.testing.assert_allclose(
        first, (w[0].transpose(1, 2, 0) - w[0].min()) / (w[0].max() - w[0].min())
    )
    fig = plots.plot_filters(np.random.default_rng(0).normal(size=(4, 2, 3, 3)))
    assert fig.axes[0].images[0].get_array().shape == (3, 3)
    with pytest.raises(ValueError, match=r"weights must be 4-D \(C_out, C_in, kh, kw\)"):
        plots.plot_filters(np.zeros((3, 3, 3)))


def test_plot_feature_maps():
    fig = plots.plot_feature_maps(np.random.default_rng(0).random((10, 8, 8)), ncols=5)
    assert _n_images(fig) == 10
    assert fig.axes[9].get_title() == "channel 9"
    assert fig.get_suptitle() == "10 feature maps"
    with pytest.raises(ValueError, match="maps must be 3-D"):
        plots.plot_feature_maps(np.zeros((1, 2, 8, 8)))


# --------------------------------------------------------------------------- confusion matrix


def test_confusion_matrix_counts_match_a_loop():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    expected = np.zeros((4, 4), dtype=int)
    for a, b in zip(t, p, strict=True):
        expected[a, b] += 1
    np.testing.assert_array_equal(plots.confusion_matrix(t, p), expected)


def test_plot_confusion_matrix_annotations():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 2, 2]
    fig = plots.plot_confusion_matrix(y_true, y_pred, class_names=["a", "b", "c"])
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1", "1", "0", "0", "2", "1", "0", "0", "1"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title() == "confusion matrix (accuracy 66.7%)"

    fig = plots.plot_confusion_matrix(y_true, y_pred, normalize=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[:3] == ["0.50", "0.50", "0.00"] and texts[3:6] == ["0.00", "0.67", "0.33"]


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="y_true and y_pred must have the same shape"):
        plots.plot_confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"y_pred must hold labels in \[0, 1\]"):
        plots.plot_confusion_matrix([0, 1], [0, 2], class_names=["a", "b"])


# --------------------------------------------------------------------------- diagnostics


def test_plot_activation_stats():
    rng = np.random.default_rng(0)
    acts = {f"layer{i}": rng.normal(0.0, 0.5**i, size=(16, 8)) for i in range(1, 5)}
    fig = plots.plot_activation_stats(acts)
    stats_ax, hist_ax = fig.axes
    mean_line, std_line = stats_ax.lines
    np.testing.assert_allclose(std_line.get_ydata(), [a.std() for a in acts.values()])
    np.testing.assert_allclose(mean_line.get_ydata(), [a.mean() for a in acts.values()])
    assert [t.get_text() for t in stats_ax.get_xticklabels()] == list(acts)
    assert "layer" in stats_ax.get_xlabel() and stats_ax.get_ylabel() == "activation value"
    assert len(hist_ax.patches) == 4  # one step histogram per layer
    _, ax = plt.subplots()
    fig = plots.plot_activation_stats(acts, ax=ax)
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="acts must be a non-empty dict"):
        plots.plot_activation_stats({})  # the right type, but empty: a bad value


def test_plot_grad_norms_single_and_compared():
    fig = plots.plot_grad_norms({"fc1": 1e-4, "fc2": 1e-2, "fc3": 1.0})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "gradient L2 norm" and "input" in ax.get_xlabel()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.get_legend() is None

    plain = {f"conv{i}": [0.1 * i, 0.3 * i] for i in range(1, 15)}
    res = {f"conv{i}": [1.0, 3.0] for i in range(1, 15)}
    fig = plots.plot_grad_norms({"plain": plain, "residual": res}, log_scale=False, reduce="last")
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and _legend_texts(ax) == ["plain", "residual"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.3 * i for i in range(1, 15)])
    fig = plots.plot_grad_norms({"a": plain, "b": res}, labels=["x", "y"])
    assert _legend_texts(fig.axes[0]) == ["x", "y"]
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), np.full(14, 2.0))


def test_plot_grad_norms_errors():
    with pytest.raises(ValueError, match="reduce must be one of"):
        plots.plot_grad_norms({"a": 1.0}, reduce="max")
    with pytest.raises(ValueError, match=r"labels must have one name per model \(1\), got 2"):
        plots.plot_grad_norms({"a": 1.0}, labels=["x", "y"])
    with pytest.raises(ValueError, match=r"norms\['a'\] must hold at least one"):
        plots.plot_grad_norms({"a": []})


def test_plot_activation_functions_values_and_derivatives():
    from coursekit.activations import ACTIVATIONS

    x = np.linspace(-3, 3, 61)
    fig = plots.plot_activation_functions(("sigmoid", "relu"), x=x)
    value_ax, grad_ax = fig.axes
    assert len(value_ax.lines) == 2 and len(grad_ax.lines) == 2
    np.testing.assert_allclose(value_ax.lines[0].get_ydata(), ACTIVATIONS["sigmoid"][0](x))
    np.testing.assert_allclose(grad_ax.lines[1].get_ydata(), (x > 0).astype(float))
    assert value_ax.get_ylabel() == "$f(x)$" and grad_ax.get_ylabel() == "$f'(x)$"
    assert _legend_texts(grad_ax) == ["sigmoid", "relu"]
    fig = plots.plot_activation_functions()
    assert len(fig.axes[0].lines) == 4
    with pytest.raises(ValueError, match="names must be one of"):
        plots.plot_activation_functions(("swish",))


def test_every_figure_is_drawn_once_in_a_jupyter_kernel():
    # A regression test: restoring *all* rc settings after a plot switched the
    # inline backend's interactive mode off, so later figures were never drawn.
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(src)
        for src in [
            "import numpy as np\nfrom coursekit import plots",
            "fig = plots.plot_image(np.zeros((4, 4)))",
            "fig = plots.plot_image(np.ones((4, 4)))",
            "plots.show_images(np.zeros((2, 4, 4)));",
        ]
    ]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    client = NotebookClient(nb, kernel_name="python3", timeout=60)
    with client.setup_kernel(env=env):
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
    images = [
        sum("image/png" in out.get("data", {}) for out in cell.outputs) for cell in nb.cells[1:]
    ]
    assert images == [1, 1, 1]
