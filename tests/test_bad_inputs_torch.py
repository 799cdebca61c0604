"""Every public function of the PyTorch half x the kinds of bad input that apply to it.

The same conventions as ``test_bad_inputs.py`` (the NumPy half): each bad call
raises ``ValueError`` (bad value or shape) or ``TypeError`` (bad type) whose
message names the argument, shows the bad value (or its shape / dtype, or the
type of an object) and says what was expected ("must ..."); nothing comes back
silently. Labels are integers, so NaN or inf among them is an error; data
(images, logits) may hold NaN where torch lets it through.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from test_bad_inputs import Call, assert_clear_error, case_id
from torch import nn

from coursekit import (
    augment,
    device,
    distributed,
    fast,
    landscape,
    models,
    optimizers,
    plots,
    resnet,
    schedules,
    summary,
    surfaces,
    timing,
    toydata,
    training,
    widgets,
)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(*shape: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


IMG = _images(2, 3, 8, 8)
X_T = _images(8, 3, 4, 4)
Y_T = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
LOGITS = _images(4, 3)
Y4 = torch.tensor([0, 1, 2, 0])
X_FLAT = _images(4, 5)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return models.MLP(in_features=5, hidden=(4,), num_classes=3)


def _conv_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


LOADER = [(X_FLAT, Y4)]


def _nan(*shape: int) -> np.ndarray:
    a = np.zeros(shape)
    a.flat[1] = np.nan
    return a


def _optimizer() -> optimizers.SGD:
    return optimizers.SGD([({"w": np.zeros(2)}, {"w": np.zeros(2)})], lr=0.1)


HISTORY = training.History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], lr=[0.1, 0.1])

CALLS = {
    c.name: c
    for c in [
        # ---- training
        Call("seed_everything", training.seed_everything, {"seed": 0, "deterministic": True}),
        Call("accuracy", training.accuracy, {"logits": LOGITS, "y": Y4}),
        Call("grad_norms", training.grad_norms, {"model": _mlp()}),
        Call(
            "fit",
            training.fit,
            {
                "model": _mlp(),
                "train_loader": LOADER,
                "epochs": 1,
                "device": "cpu",
                "progress": False,
                "verbose": False,
            },
        ),
        Call("evaluate", training.evaluate, {"model": _mlp(), "loader": LOADER, "device": "cpu"}),
        Call("predict", training.predict, {"model": _mlp(), "loader": LOADER, "device": "cpu"}),
        Call(
            "save_checkpoint",
            training.save_checkpoint,
            {"path": None, "model": _mlp(), "optimizer": None, "epoch": 0, "history": HISTORY},
        ),
        Call(
            "load_checkpoint",
            training.load_checkpoint,
            {"path": None, "model": _mlp(), "optimizer": None, "map_location": "cpu"},
        ),
        Call("History.best_epoch", HISTORY.best_epoch, {"metric": "train_loss"}),
        Call("History.to_json", HISTORY.to_json, {"path": None}),
        Call("History.from_dict", training.History.from_dict, {"data": HISTORY.as_dict()}),
        Call("History.from_json", training.History.from_json, {"path": None}),
        # ---- augment
        Call("random_flip", augment.random_flip, {"x": IMG, "p": 0.5, "generator": None}),
        Call("random_crop", augment.random_crop, {"x": IMG, "padding": 2, "mode": "reflect"}),
        Call("random_rotation", augment.random_rotation, {"x": IMG, "max_degrees": 10.0}),
        Call(
            "color_jitter",
            augment.color_jitter,
            {"x": IMG.sigmoid(), "brightness": 0.2, "contrast": 0.2, "saturation": 0.2},
        ),
        Call("gaussian_noise", augment.gaussian_noise, {"x": IMG, "std": 0.1}),
        Call(
            "BatchAugment",
            augment.BatchAugment,
            {
                "flip": True,
                "crop_padding": 2,
                "rotation": 0.0,
                "jitter": 0.0,
                "noise": 0.0,
                "crop_mode": "reflect",
            },
        ),
        Call(
            "BatchAugment()",
            lambda x: augment.BatchAugment(crop_padding=2)(x),
            {"x": IMG},
        ),
        Call(
            "AugmentedLoader",
            augment.AugmentedLoader,
            {"loader": [(IMG, Y4[:2])], "augment": augment.BatchAugment(), "seed": 0},
        ),
        Call(
            "train_transforms",
            augment.train_transforms,
            {
                "dataset": "cifar10",
                "mean": (0.5, 0.5, 0.5),
                "std": (0.25, 0.25, 0.25),
                "augment": True,
                "size": 32,
                "padding": 4,
                "rotation": 0.0,
                "jitter": 0.0,
            },
        ),
        # ---- fast
        Call(
            "GpuLoader",
            fast.GpuLoader,
            {
                "X": X_T,
                "y": Y_T,
                "batch_size": 4,
                "shuffle": True,
                "device": "cpu",
                "drop_last": False,
                "seed": 0,
                "normalize": True,
                "channels_last": False,
            },
        ),
        Call(
            "train_fast",
            fast.train_fast,
            {
                "model": _mlp(),
                "train_loader": LOADER,
                "epochs": 1,
                "lr": 0.1,
                "momentum": 0.9,
                "weight_decay": 5e-4,
                "label_smoothing": 0.1,
                "warmup": 0.2,
                "device": "cpu",
                "compile": False,
                "verbose": False,
            },
        ),
        Call(
            "evaluate_fast",
            fast.evaluate_fast,
            {"model": _mlp(), "loader": LOADER, "tta_flip": False, "device": "cpu"},
        ),
        Call(
            "measure_throughput",
            fast.measure_throughput,
            {
                "model": _conv_net(),
                "input_shape": (3, 4, 4),
                "batch_size": 2,
                "steps": 1,
                "warmup": 0,
                "device": "cpu",
                "compile": False,
                "optimizer": "sgd",
                "repeats": 1,
            },
        ),
        Call(
            "plain_loop_throughput",
            fast.plain_loop_throughput,
            {
                "model": _conv_net(),
                "input_shape": (3, 4, 4),
                "batch_size": 2,
                "steps": 1,
                "warmup": 0,
                "device": "cpu",
                "num_workers": 0,
                "repeats": 1,
            },
        ),
        Call(
            "format_ladder",
            fast.format_ladder,
            {
                "rows": [{"step": "a", "images_per_s": 10.0, "speedup": 1.0}],
                "macs_per_image": 1e6,
            },
        ),
        Call(
            "achieved_tflops",
            fast.achieved_tflops,
            {"macs_per_image": 1e6, "images_per_s": 100.0, "training_factor": 3},
        ),
        Call("peak_tflops", fast.peak_tflops, {"device": "cpu"}),
        Call(
            "copy_bandwidth",
            fast.copy_bandwidth,
            {"device": "cpu", "batch_shape": (2, 3, 4, 4), "repeats": 1},
        ),
        Call("synchronize", timing.synchronize, {"device": "cpu"}),
        Call(
            "warmup_linear_decay",
            fast.warmup_linear_decay,
            {"total_steps": 10, "warmup_steps": 2},
        ),
        Call("compile_available", fast.compile_available, {"device": "cpu"}),
        # ---- device
        Call("get_device", device.get_device, {"device": "cpu", "verbose": False}),
        Call("describe_device", device.describe_device, {"device": "cpu"}),
        Call(
            "to_device",
            device.to_device,
            {"obj": {"x": IMG}, "device": "cpu", "non_blocking": False},
        ),
        Call("amp_dtype", device.amp_dtype, {"device": "cpu"}),
        Call("autocast", device.autocast, {"device": "cpu", "enabled": None}),
        Call("needs_grad_scaler", device.needs_grad_scaler, {"device": "cpu"}),
        Call("make_grad_scaler", device.make_grad_scaler, {"device": "cpu", "enabled": None}),
        Call("use_channels_last", device.use_channels_last, {"device": "cpu"}),
        Call(
            "prepare_model",
            device.prepare_model,
            {"model": _mlp(), "device": "cpu", "channels_last": None},
        ),
        Call(
            "prepare_batch",
            device.prepare_batch,
            {"x": IMG, "device": "cpu", "channels_last": None},
        ),
        # ---- models
        Call(
            "MLP",
            models.MLP,
            {
                "in_features": 5,
                "hidden": (4,),
                "num_classes": 3,
                "activation": "relu",
                "dropout": 0.0,
                "batch_norm": False,
            },
        ),
        Call(
            "LeNet",
            models.LeNet,
            {"in_channels": 1, "num_classes": 10, "input_size": 28, "dropout": 0.0},
        ),
        Call("lenet_digits", models.lenet_digits, {"num_classes": 10}),
        Call(
            "SmallVGG",
            models.SmallVGG,
            {
                "in_channels": 3,
                "num_classes": 10,
                "widths": (4, 8),
                "dropout": 0.0,
                "batch_norm": True,
                "input_size": 8,
            },
        ),
        Call(
            "count_parameters",
            models.count_parameters,
            {"model": _mlp(), "trainable_only": True},
        ),
        # ---- resnet
        Call("conv3x3", resnet.conv3x3, {"in_planes": 3, "out_planes": 4, "stride": 1}),
        Call(
            "BasicBlock",
            resnet.BasicBlock,
            {"in_planes": 4, "planes": 8, "stride": 2, "shortcut": "A", "residual": True},
        ),
        Call(
            "CifarResNet",
            resnet.CifarResNet,
            {
                "depth": 8,
                "num_classes": 10,
                "residual": True,
                "shortcut": "A",
                "in_channels": 3,
                "width": 4,
            },
        ),
        Call("ResNet18", resnet.ResNet18, {"num_classes": 10, "in_channels": 3}),
        Call("resnet20", resnet.resnet20, {"width": 2}),
        Call("plain20", resnet.plain20, {"width": 2}),
        # ---- summary
        Call(
            "summary",
            summary.summary,
            {
                "model": _conv_net(),
                "input_size": (3, 4, 4),
                "batch_size": 1,
                "device": "cpu",
                "depth": None,
            },
        ),
        Call(
            "count_macs",
            summary.count_macs,
            {"model": _conv_net(), "input_size": (3, 4, 4), "device": "cpu"},
        ),
        Call("format_shape", summary.format_shape, {"shape": (6, 28, 28)}),
        # ---- schedules (the torch-facing ones; the rest are in test_bad_inputs.py)
        Call(
            "step_lr",
            schedules.step_lr,
            {"step": 3, "base_lr": 0.1, "step_size": 2, "gamma": 0.5},
        ),
        Call(
            "linear_warmup",
            schedules.linear_warmup,
            {"step": 1, "base_lr": 0.1, "warmup_steps": 3, "start_factor": 0.5},
        ),
        Call(
            "LRScheduler",
            schedules.LRScheduler,
            {"optimizer": _optimizer(), "fn": lambda step: 0.1},
        ),
        # ---- timing
        Call(
            "best_time",
            timing.best_time,
            {"fn": lambda: None, "repeats": 1, "warmup": 0, "device": None},
        ),
        # ---- toydata
        Call("make_moons", toydata.make_moons, {"n": 20, "noise": 0.1, "seed": 0}),
        Call(
            "make_circles",
            toydata.make_circles,
            {"n": 20, "noise": 0.1, "factor": 0.5, "seed": 0},
        ),
        Call(
            "make_spirals",
            toydata.make_spirals,
            {"n": 30, "n_classes": 3, "noise": 0.1, "seed": 0},
        ),
        Call(
            "train_val_test_split",
            toydata.train_val_test_split,
            {
                "X": np.zeros((20, 2)),
                "y": np.arange(20) % 2,
                "val_fraction": 0.2,
                "test_fraction": 0.2,
                "seed": 0,
                "stratify": True,
            },
        ),
        # ---- surfaces
        Call("quadratic", surfaces.quadratic, {"kappa": 10.0}),
        Call("rosenbrock", surfaces.rosenbrock, {"a": 1.0, "b": 100.0}),
        Call(
            "run_optimizer",
            surfaces.run_optimizer,
            {
                "optimizer_cls": optimizers.SGD,
                "surface": surfaces.quadratic(),
                "start": np.array([1.0, 1.0]),
                "steps": 3,
                "lr": 0.01,
            },
        ),
        Call(
            "gd_1d",
            surfaces.gd_1d,
            {"f_grad": lambda x: 2 * x, "x0": 1.0, "lr": 0.1, "steps": 3},
        ),
        # ---- landscape
        Call("random_direction", landscape.random_direction, {"model": _conv_net(), "seed": 0}),
        Call(
            "filter_normalize",
            landscape.filter_normalize,
            {
                "direction": [torch.ones(2, 3), torch.ones(2)],
                "params": [torch.ones(2, 3), torch.ones(2)],
            },
        ),
        Call(
            "loss_along",
            landscape.loss_along,
            {
                "model": _conv_net(),
                "directions": [landscape.random_direction(_conv_net())],
                "coords": [np.linspace(-1, 1, 3)],
                "X": X_T[:4],
                "y": Y4,
            },
        ),
        # ---- distributed
        Call("parameter_checksum", distributed.parameter_checksum, {"model": _mlp()}),
        Call(
            "synthetic_data",
            distributed.synthetic_data,
            {"n": 8, "seed": 0, "size": 4, "num_classes": 3},
        ),
        # ---- plots
        Call(
            "plot_history",
            plots.plot_history,
            {"history": HISTORY, "metrics": ("loss", "acc"), "title": None},
        ),
        Call(
            "plot_decision_boundary",
            plots.plot_decision_boundary,
            {
                "predict_fn": lambda X: (X[:, 0] > 0).astype(int),
                "X": np.random.default_rng(0).standard_normal((20, 2)),
                "y": np.arange(20) % 2,
                "resolution": 20,
            },
        ),
        Call(
            "plot_loss_surface",
            plots.plot_loss_surface,
            {
                "surface": surfaces.quadratic(),
                "trajectories": {"sgd": np.zeros((3, 2))},
                "levels": 10,
                "log_scale": True,
            },
        ),
        Call(
            "plot_trajectory_panels",
            plots.plot_trajectory_panels,
            {
                "surface": surfaces.quadratic(),
                "trajectories": {"sgd": np.zeros((3, 2))},
                "levels": 10,
                "log_scale": True,
                "panel_size": (3.0, 2.5),
            },
        ),
        Call(
            "plot_1d_descent",
            plots.plot_1d_descent,
            {"f": lambda x: x**2, "trajectory": np.array([1.0, 0.5, 0.25])},
        ),
        Call(
            "show_images",
            plots.show_images,
            {
                "images": _images(4, 1, 6, 6),
                "labels": [0, 1, 0, 1],
                "preds": [0, 1, 1, 1],
                "class_names": ["a", "b"],
                "ncols": 2,
            },
        ),
        Call("plot_image", plots.plot_image, {"img": np.zeros((6, 6))}),
        Call("plot_filters", plots.plot_filters, {"weights": _images(4, 1, 3, 3), "ncols": 2}),
        Call(
            "plot_feature_maps",
            plots.plot_feature_maps,
            {"maps": _images(4, 6, 6), "ncols": 2},
        ),
        Call(
            "confusion_matrix",
            plots.confusion_matrix,
            {"y_true": np.array([0, 1, 2, 1]), "y_pred": np.array([0, 2, 2, 1]), "num_classes": 3},
        ),
        Call(
            "plot_confusion_matrix",
            plots.plot_confusion_matrix,
            {
                "y_true": np.array([0, 1, 2, 1]),
                "y_pred": np.array([0, 2, 2, 1]),
                "class_names": ["a", "b", "c"],
                "normalize": False,
            },
        ),
        Call(
            "plot_activation_stats",
            plots.plot_activation_stats,
            {"acts": {"layer1": np.zeros((4, 3))}, "histograms": True},
        ),
        Call(
            "plot_grad_norms",
            plots.plot_grad_norms,
            {"norms": {"w": [1.0, 0.5]}, "log_scale": True, "labels": None, "reduce": "mean"},
        ),
        Call(
            "plot_activation_functions",
            plots.plot_activation_functions,
            {"names": ("relu", "sigmoid"), "x": np.linspace(-2, 2, 11)},
        ),
        # ---- widgets: the arguments of the constructors and functions only
        Call(
            "LRExplorer",
            widgets.LRExplorer,
            {
                "surface": "quadratic",
                "optimizer": "sgd",
                "log10_lr": -1.0,
                "steps": 5,
                "momentum": 0.9,
                "start": None,
            },
        ),
        Call(
            "LR1DExplorer",
            widgets.LR1DExplorer,
            {"x0": 4.0, "log10_lr": -1.0, "steps": 5, "x_star": None},
        ),
        Call(
            "ConvExplorer",
            widgets.ConvExplorer,
            {
                "input_size": 5,
                "kernel_size": 3,
                "stride": 1,
                "padding": 0,
                "dilation": 1,
                "transposed": False,
                "output_padding": 0,
                "in_channels": 1,
                "out_channels": 1,
            },
        ),
        Call(
            "ActivationExplorer",
            widgets.ActivationExplorer,
            {"activation": "sigmoid", "slope": 0.1},
        ),
        Call(
            "MLPWidthExplorer",
            widgets.MLPWidthExplorer,
            {
                "dataset": "moons",
                "width": 2,
                "depth": 1,
                "epochs": 2,
                "n_samples": 20,
                "lr": 0.01,
                "seed": 0,
            },
        ),
        Call("use_static", widgets.use_static, {"static": True}),
    ]
}

# (call, argument, bad value, exception, what the message must also contain)
CASES: list[tuple[str, str, Any, type, str]] = [
    # ---- models that are not nn.Module instances
    *[
        (c, "model", v, TypeError, "torch.nn.Module")
        for c in [
            "grad_norms",
            "fit",
            "evaluate",
            "predict",
            "save_checkpoint",
            "load_checkpoint",
            "train_fast",
            "evaluate_fast",
            "measure_throughput",
            "plain_loop_throughput",
            "prepare_model",
            "count_parameters",
            "summary",
            "count_macs",
            "parameter_checksum",
        ]
        for v in ("mlp", models.LeNet)
    ],
    # ---- non-bool flags
    *[
        (c, flag, v, TypeError, "a bool" if not auto else "True, False or None")
        for c, flag, auto in [
            ("seed_everything", "deterministic", False),
            ("fit", "amp", True),
            ("fit", "channels_last", True),
            ("fit", "compile", True),
            ("fit", "log_grad_norms", False),
            ("fit", "progress", False),
            ("fit", "verbose", False),
            ("evaluate", "amp", True),
            ("BatchAugment", "flip", False),
            ("train_transforms", "augment", False),
            ("GpuLoader", "shuffle", False),
            ("GpuLoader", "drop_last", False),
            ("GpuLoader", "normalize", False),
            ("GpuLoader", "channels_last", True),
            ("train_fast", "amp", True),
            ("train_fast", "compile", True),
            ("train_fast", "verbose", False),
            ("evaluate_fast", "tta_flip", False),
            ("measure_throughput", "compile", False),
            ("measure_throughput", "amp", True),
            ("get_device", "verbose", False),
            ("to_device", "non_blocking", False),
            ("autocast", "enabled", True),
            ("make_grad_scaler", "enabled", True),
            ("prepare_model", "channels_last", True),
            ("prepare_batch", "channels_last", True),
            ("MLP", "batch_norm", False),
            ("SmallVGG", "batch_norm", False),
            ("count_parameters", "trainable_only", False),
            ("BasicBlock", "residual", False),
            ("CifarResNet", "residual", False),
            ("train_val_test_split", "stratify", False),
            ("plot_loss_surface", "log_scale", False),
            ("plot_confusion_matrix", "normalize", False),
            ("plot_activation_stats", "histograms", False),
            ("plot_grad_norms", "log_scale", False),
            ("ConvExplorer", "transposed", False),
            ("use_static", "static", True),
        ]
        for v in ("False", 1)
    ],
    # ---- bad seeds
    *[
        (c, arg, v, exc, "seed" if arg != "seed" else ">= 0")
        for c, arg in [
            ("seed_everything", "seed"),
            ("AugmentedLoader", "seed"),
            ("GpuLoader", "seed"),
            ("make_moons", "seed"),
            ("make_circles", "seed"),
            ("make_spirals", "seed"),
            ("train_val_test_split", "seed"),
            ("synthetic_data", "seed"),
            ("MLPWidthExplorer", "seed"),
        ]
        for v, exc in ((-1, ValueError), ("0", TypeError), (1.5, TypeError))
    ],
    # ---- negative, zero and non-integer sizes and counts
    *[
        (c, arg, v, exc, ">= 1")
        for c, arg in [
            ("fit", "epochs"),
            ("fit", "early_stopping_patience"),
            ("GpuLoader", "batch_size"),
            ("train_fast", "epochs"),
            ("measure_throughput", "batch_size"),
            ("measure_throughput", "steps"),
            ("measure_throughput", "repeats"),
            ("plain_loop_throughput", "batch_size"),
            ("warmup_linear_decay", "total_steps"),
            ("MLP", "in_features"),
            ("MLP", "num_classes"),
            ("LeNet", "in_channels"),
            ("LeNet", "input_size"),
            ("lenet_digits", "num_classes"),
            ("SmallVGG", "num_classes"),
            ("conv3x3", "in_planes"),
            ("conv3x3", "out_planes"),
            ("conv3x3", "stride"),
            ("BasicBlock", "planes"),
            ("BasicBlock", "stride"),
            ("CifarResNet", "width"),
            ("CifarResNet", "in_channels"),
            ("ResNet18", "num_classes"),
            ("resnet20", "width"),
            ("plain20", "width"),
            ("summary", "batch_size"),
            ("summary", "depth"),
            ("step_lr", "step_size"),
            ("best_time", "repeats"),
            ("make_moons", "n"),
            ("make_circles", "n"),
            ("make_spirals", "n"),
            ("synthetic_data", "n"),
            ("synthetic_data", "size"),
            ("show_images", "ncols"),
            ("plot_filters", "ncols"),
            ("plot_feature_maps", "ncols"),
            ("plot_decision_boundary", "resolution"),
            ("plot_loss_surface", "levels"),
            ("LRExplorer", "steps"),
            ("LR1DExplorer", "steps"),
            ("ConvExplorer", "kernel_size"),
            ("ConvExplorer", "stride"),
            ("MLPWidthExplorer", "epochs"),
            ("MLPWidthExplorer", "n_samples"),
        ]
        for v, exc in ((0, ValueError), (2.0, TypeError), ("3", TypeError))
    ],
    *[
        (c, arg, v, exc, ">= 0")
        for c, arg in [
            ("random_crop", "padding"),
            ("BatchAugment", "crop_padding"),
            ("train_transforms", "padding"),
            ("warmup_linear_decay", "warmup_steps"),
            ("measure_throughput", "warmup"),
            ("plain_loop_throughput", "num_workers"),
            ("save_checkpoint", "epoch"),
            ("step_lr", "step"),
            ("linear_warmup", "step"),
            ("best_time", "warmup"),
            ("run_optimizer", "steps"),
            ("gd_1d", "steps"),
            ("ConvExplorer", "padding"),
        ]
        for v, exc in ((-1, ValueError), (1.5, TypeError))
    ],
    # torch's generators take seeds below 2**63
    *[
        (c, "seed", 2**70, ValueError, "2**63")
        for c in ["seed_everything", "GpuLoader", "AugmentedLoader", "synthetic_data"]
    ],
    ("measure_throughput", "input_shape", (3, 2, 2), ValueError, "must fit the model"),
    ("plain_loop_throughput", "input_shape", (3, 2, 2), ValueError, "must fit the model"),
    ("synthetic_data", "num_classes", 1, ValueError, ">= 2"),
    ("make_spirals", "n_classes", 1, ValueError, ">= 2"),
    ("MLPWidthExplorer", "width", 100, ValueError, "[1, 64]"),
    ("MLPWidthExplorer", "depth", 3, ValueError, "0, 1 or 2"),
    ("CifarResNet", "depth", 9, ValueError, "6n + 2"),
    ("MLP", "hidden", 8, TypeError, "tuple of layer widths"),
    ("MLP", "hidden", (8, 0), ValueError, ">= 1"),
    ("SmallVGG", "widths", (), ValueError, "at least one width"),
    ("SmallVGG", "input_size", 2, ValueError, "input_size"),
    ("LeNet", "input_size", 4, ValueError, "input_size"),
    # sizes given as floats that are not numbers
    ("synthetic_data", "n", float("nan"), TypeError, ">= 1"),
    ("make_moons", "n", float("inf"), TypeError, ">= 1"),
    # ---- real numbers out of range, NaN and inf
    *[
        (c, arg, v, ValueError, want)
        for c, arg, want in [
            ("random_flip", "p", "[0, 1]"),
            ("color_jitter", "brightness", "[0, 1)"),
            ("color_jitter", "contrast", "[0, 1)"),
            ("BatchAugment", "jitter", "[0, 1)"),
            ("train_fast", "momentum", "[0, 1)"),
            ("train_fast", "label_smoothing", "[0, 1)"),
            ("train_fast", "warmup", "[0, 1)"),
            ("MLP", "dropout", "[0, 1)"),
            ("LeNet", "dropout", "[0, 1)"),
            ("SmallVGG", "dropout", "[0, 1)"),
        ]
        for v in (1.5, -0.1, float("nan"))
    ],
    *[
        (c, arg, v, ValueError, want)
        for c, arg, want in [
            ("random_rotation", "max_degrees", ">= 0"),
            ("gaussian_noise", "std", ">= 0"),
            ("BatchAugment", "rotation", ">= 0"),
            ("BatchAugment", "noise", ">= 0"),
            ("train_transforms", "rotation", ">= 0"),
            ("train_fast", "lr", "> 0"),
            ("train_fast", "weight_decay", ">= 0"),
            ("fit", "lr", ">= 0"),
            ("achieved_tflops", "macs_per_image", "> 0"),
            ("achieved_tflops", "images_per_s", ">= 0"),
            ("achieved_tflops", "training_factor", "> 0"),
            ("format_ladder", "macs_per_image", "> 0"),
            ("step_lr", "base_lr", ">= 0"),
            ("step_lr", "gamma", "> 0"),
            ("linear_warmup", "base_lr", ">= 0"),
            ("quadratic", "kappa", "> 0"),
            ("rosenbrock", "b", "> 0"),
            ("gd_1d", "lr", ">= 0"),
            ("make_moons", "noise", ">= 0"),
            ("make_circles", "noise", ">= 0"),
            ("make_spirals", "noise", ">= 0"),
            ("MLPWidthExplorer", "lr", "> 0"),
            ("LRExplorer", "log10_lr", "finite"),
            ("LR1DExplorer", "log10_lr", "finite"),
            ("LR1DExplorer", "x0", "finite"),
            ("rosenbrock", "a", "finite"),
            ("gd_1d", "x0", "finite"),
        ]
        for v in (
            (-1.0, float("nan"), float("inf")) if "finite" not in want else (math.nan, math.inf)
        )
    ],
    *[
        (c, arg, "0.1", TypeError, "real number")
        for c, arg in [
            ("fit", "lr"),
            ("train_fast", "lr"),
            ("random_flip", "p"),
            ("gaussian_noise", "std"),
            ("LRExplorer", "log10_lr"),
            ("LRExplorer", "momentum"),
            ("LR1DExplorer", "x0"),
            ("ActivationExplorer", "slope"),
            ("achieved_tflops", "images_per_s"),
        ]
    ],
    ("LRExplorer", "momentum", 1.0, ValueError, "[0.0, 0.99]"),
    ("LRExplorer", "momentum", float("nan"), ValueError, "finite"),
    ("LRExplorer", "log10_lr", 2.0, ValueError, "[-4.0, 0.5]"),
    ("LR1DExplorer", "log10_lr", 1.0, ValueError, "[-3.0, 0.3]"),
    ("ActivationExplorer", "slope", 0.9, ValueError, "[0.0, 0.5]"),
    ("linear_warmup", "start_factor", 0.0, ValueError, "> 0"),
    ("linear_warmup", "start_factor", 1.5, ValueError, "(0, 1]"),
    ("make_circles", "factor", 1.0, ValueError, "(0, 1)"),
    ("make_circles", "factor", float("nan"), ValueError, "finite"),
    ("train_val_test_split", "val_fraction", 1.0, ValueError, "< 1"),
    ("train_val_test_split", "test_fraction", float("nan"), ValueError, "finite"),
    ("train_val_test_split", "test_fraction", 0.9, ValueError, "< 1"),
    ("train_transforms", "jitter", 1.5, ValueError, "[0, 1)"),
    ("train_transforms", "std", (0.25, 0.0, 0.25), ValueError, "> 0"),
    ("train_transforms", "std", (0.25, float("nan"), 0.25), ValueError, "> 0"),
    ("train_transforms", "mean", (0.5, 0.5), ValueError, "3"),
    ("train_transforms", "mean", (0.5, float("nan"), 0.5), ValueError, "finite"),
    # ---- choices
    *[
        (c, arg, v, ValueError, "one of")
        for c, arg, v in [
            ("fit", "scheduler_interval", "step"),
            ("random_crop", "mode", "wrap"),
            ("BatchAugment", "crop_mode", "wrap"),
            ("train_transforms", "dataset", "imagenet"),
            ("measure_throughput", "optimizer", "adam"),
            ("MLP", "activation", "swish"),
            ("BasicBlock", "shortcut", "C"),
            ("CifarResNet", "shortcut", "C"),
            ("History.best_epoch", "metric", "acc"),
            ("LRExplorer", "surface", "bowl"),
            ("LRExplorer", "optimizer", "lbfgs"),
            ("ActivationExplorer", "activation", "swish"),
            ("MLPWidthExplorer", "dataset", "iris"),
            ("plot_grad_norms", "reduce", "median"),
            ("plot_activation_functions", "names", ("relu", "swish")),
        ]
    ],
    # ---- devices
    *[
        (c, "device", v, exc, want)
        for c in [
            "fit",
            "evaluate",
            "predict",
            "GpuLoader",
            "train_fast",
            "measure_throughput",
            "get_device",
            "describe_device",
            "to_device",
            "amp_dtype",
            "needs_grad_scaler",
            "make_grad_scaler",
            "use_channels_last",
            "prepare_model",
            "prepare_batch",
            "compile_available",
            "synchronize",
            "best_time",
            "summary",
            "count_macs",
        ]
        for v, exc, want in (("tpu", ValueError, "device"), (3.5, TypeError, "torch.device"))
    ],
    # ---- images: wrong ndim, dtype, container
    *[
        (c, "x", v, exc, want)
        for c in [
            "random_flip",
            "random_crop",
            "random_rotation",
            "color_jitter",
            "gaussian_noise",
            "BatchAugment()",
        ]
        for v, exc, want in (
            (_images(3, 8, 8), ValueError, "4-D"),
            (IMG.numpy(), TypeError, "torch.Tensor"),
            (torch.zeros(2, 3, 8, 8, dtype=torch.int64), TypeError, "floating"),
        )
    ],
    ("color_jitter", "x", _images(2, 2, 8, 8), ValueError, "1 or 3 channels"),
    ("random_crop", "padding", 9, ValueError, "smaller than"),
    ("prepare_batch", "x", IMG.numpy(), TypeError, "torch.Tensor"),
    ("peak_tflops", "device", 3.5, TypeError, "torch.device"),  # any str may be a GPU name
    ("ActivationExplorer", "slope", -1.0, ValueError, "[0.0, 0.5]"),
    ("ActivationExplorer", "slope", math.nan, ValueError, "finite"),
    ("random_flip", "generator", 0, TypeError, "torch.Generator"),
    ("AugmentedLoader", "augment", "flip", TypeError, "callable"),
    ("AugmentedLoader", "loader", 3, TypeError, "iterable"),
    # ---- GpuLoader's data
    ("GpuLoader", "X", X_T[:, 0], ValueError, "4-D"),
    ("GpuLoader", "X", [[1.0]], TypeError, "torch.Tensor or numpy.ndarray"),
    ("GpuLoader", "y", Y_T[:5], ValueError, "8"),
    ("GpuLoader", "y", Y_T.double().fill_(float("nan")), TypeError, "integer class labels"),
    ("GpuLoader", "y", Y_T.double() + 0.5, TypeError, "integer class labels"),
    ("GpuLoader", "y", -Y_T - 1, ValueError, ">= 0"),
    ("GpuLoader", "dtype", torch.int32, TypeError, "floating torch.dtype"),
    ("GpuLoader", "mean", (0.5, 0.5), ValueError, "one value per channel"),
    ("GpuLoader", "std", (0.5, 0.0, 0.5), ValueError, "> 0"),
    # ---- metrics and labels (NaN and inf among labels are errors; logits may hold NaN)
    ("accuracy", "logits", LOGITS[0], ValueError, "2-D"),
    ("accuracy", "logits", np.array([["a", "b", "c"]] * 4), TypeError, "<U1"),
    ("accuracy", "y", Y4[:3], ValueError, "(4,)"),
    ("accuracy", "y", torch.tensor([0.0, 1.0, math.nan, 0.0]), ValueError, "NaN"),
    ("accuracy", "y", torch.tensor([0.0, 1.0, math.inf, 0.0]), ValueError, "inf"),
    ("accuracy", "y", torch.tensor([0.5, 1.0, 2.0, 0.0]), TypeError, "integer class labels"),
    ("accuracy", "y", torch.tensor([0, 1, 3, 0]), ValueError, "[0, 2]"),
    ("accuracy", "logits", torch.zeros(0, 3), ValueError, "at least one"),
    ("confusion_matrix", "y_true", np.array([0, 1, np.nan, 1]), ValueError, "NaN"),
    ("confusion_matrix", "y_pred", np.array([0, 1, np.inf, 1]), ValueError, "inf"),
    ("confusion_matrix", "y_pred", np.array([0, 1, 2]), ValueError, "same"),
    ("confusion_matrix", "y_true", np.array([0, -1, 2, 1]), ValueError, ">= 0"),
    ("confusion_matrix", "y_true", np.array([0.5, 1, 2, 1]), TypeError, "integer class labels"),
    ("confusion_matrix", "num_classes", 0, ValueError, ">= 1"),
    ("confusion_matrix", "num_classes", 2, ValueError, "[0, 1]"),
    ("plot_confusion_matrix", "class_names", ["a", "b"], ValueError, "class_names"),
    ("plot_history", "metrics", ("loss", "f1"), ValueError, "curves that history holds"),
    ("train_val_test_split", "y", np.array([0.0, np.nan] * 10), ValueError, "finite"),
    ("train_val_test_split", "y", np.arange(19) % 2, ValueError, "same"),
    ("plot_decision_boundary", "X", np.zeros((20, 3)), ValueError, "(*, 2)"),
    ("plot_decision_boundary", "X", _nan(20, 2), ValueError, "finite"),
    ("plot_decision_boundary", "y", np.arange(19) % 2, ValueError, "same"),
    ("plot_decision_boundary", "y", _nan(20), ValueError, "NaN"),
    ("plot_decision_boundary", "predict_fn", "model", TypeError, "callable"),
    ("synthetic_data", "n", -3, ValueError, ">= 1"),
    # ---- training data
    ("fit", "train_loader", [], ValueError, "at least one batch"),
    ("fit", "train_loader", 5, TypeError, "iterable"),
    ("fit", "loss_fn", "cross_entropy", TypeError, "callable"),
    ("fit", "optimizer", "adam", TypeError, "torch.optim.Optimizer"),
    (
        "fit",
        "train_loader",
        [(X_FLAT[:0], Y4[:0])],
        ValueError,
        "at least one example",
    ),
    ("fit", "train_loader", [(X_FLAT, Y4[:3])], ValueError, "(4,)"),
    ("fit", "train_loader", [(X_FLAT, Y4.float())], TypeError, "int64"),
    ("fit", "train_loader", [(X_FLAT, torch.tensor([0, 1, 5, 0]))], ValueError, "[0, 2]"),
    ("fit", "train_loader", [(X_T[:4], Y4)], ValueError, "must fit the model"),
    ("History.best_epoch", "metric", "val_acc", ValueError, "recorded values"),
    ("History.to_json", "path", 3, TypeError, "os.PathLike"),
    ("History.from_json", "path", None, TypeError, "os.PathLike"),
    ("History.from_dict", "data", 3, TypeError, "as_dict"),
    ("History.from_dict", "data", {"train_los": []}, ValueError, "History fields"),
    ("GpuLoader", "mean", (0.5, math.nan, 0.5), ValueError, "finite"),
    # containers of the wrong kind (a str is iterable, but never a loader or a list of names)
    ("fit", "train_loader", "batches", TypeError, "iterable"),
    ("evaluate_fast", "loader", "batches", TypeError, "iterable"),
    ("AugmentedLoader", "loader", "batches", TypeError, "iterable"),
    ("load_checkpoint", "map_location", "tpu", ValueError, "device"),
    ("load_checkpoint", "map_location", 3, TypeError, "torch.device"),
    ("train_transforms", "mean", 0.5, TypeError, "sequence"),
    ("train_transforms", "std", "0.25", TypeError, "sequence"),
    ("plot_history", "metrics", 3, TypeError, "sequence of metric names"),
    ("plot_loss_surface", "trajectories", [np.zeros((3, 2))], TypeError, "dict"),
    ("show_images", "class_names", "ab", TypeError, "sequence of class names"),
    ("plot_confusion_matrix", "class_names", 3, TypeError, "sequence of class names"),
    ("plot_grad_norms", "labels", 3, TypeError, "sequence of model names"),
    ("plot_activation_functions", "names", 3, TypeError, "sequence of activation names"),
    ("copy_bandwidth", "batch_shape", (2, 0, 4), ValueError, ">= 1"),
    ("copy_bandwidth", "batch_shape", 512, TypeError, "tuple"),
    ("copy_bandwidth", "repeats", 0, ValueError, ">= 1"),
    ("copy_bandwidth", "device", "tpu", ValueError, "device"),
    ("measure_throughput", "fp16", "False", TypeError, "a bool"),
    ("plot_trajectory_panels", "trajectories", {}, ValueError, "at least one"),
    ("plot_trajectory_panels", "trajectories", [np.zeros((3, 2))], TypeError, "dict"),
    ("plot_trajectory_panels", "panel_size", 3.0, TypeError, "pair"),
    ("plot_trajectory_panels", "panel_size", (3.0, -1.0), ValueError, "> 0"),
    ("plot_trajectory_panels", "levels", 0, ValueError, ">= 1"),
    ("plot_trajectory_panels", "log_scale", "False", TypeError, "a bool"),
    ("random_direction", "model", "net", TypeError, "torch.nn.Module"),
    ("random_direction", "seed", -1, ValueError, ">= 0"),
    ("random_direction", "seed", 2**70, ValueError, "2**63"),
    ("filter_normalize", "direction", [torch.ones(2, 3)], ValueError, "one tensor per parameter"),
    (
        "filter_normalize",
        "direction",
        [torch.ones(3, 2), torch.ones(2)],
        ValueError,
        "the shape of params[0]",
    ),
    ("loss_along", "model", "net", TypeError, "torch.nn.Module"),
    ("loss_along", "directions", [], ValueError, "one or two"),
    ("loss_along", "coords", [np.zeros(3), np.zeros(3)], ValueError, "one coordinate array"),
    ("loss_along", "coords", [np.zeros((3, 2))], ValueError, "1-D"),
    ("loss_along", "coords", [np.array([0.0, np.nan])], ValueError, "finite"),
    ("loss_along", "X", X_T[:4].numpy(), TypeError, "torch.Tensor"),
    ("loss_along", "y", Y4[:3], ValueError, "(4,)"),
    (
        "loss_along",
        "y",
        torch.tensor([0.0, math.nan, 1.0, 0.0]),
        ValueError,
        "integer class labels",
    ),
    ("fit", "val_loader", 5, TypeError, "iterable"),
    ("fit", "scheduler", "cosine", TypeError, "step()"),
    ("fit", "checkpoint_path", 3, TypeError, "path"),
    ("train_fast", "val_loader", 5, TypeError, "iterable"),
    ("evaluate_fast", "loader", 5, TypeError, "iterable"),
    ("evaluate", "loader", [], ValueError, "at least one batch"),
    ("evaluate", "loader", 5, TypeError, "iterable"),
    ("evaluate", "loss_fn", "mse", TypeError, "callable"),
    ("predict", "loader", [], ValueError, "at least one batch"),
    ("predict", "loader", 5, TypeError, "iterable"),
    ("train_fast", "train_loader", [], ValueError, "at least one batch"),
    ("evaluate_fast", "loader", [], ValueError, "at least one batch"),
    ("save_checkpoint", "path", 3, TypeError, "path"),
    ("save_checkpoint", "optimizer", "sgd", TypeError, "torch.optim.Optimizer"),
    ("save_checkpoint", "history", {"train_loss": []}, TypeError, "History"),
    ("load_checkpoint", "path", 3, TypeError, "path"),
    ("load_checkpoint", "optimizer", "sgd", TypeError, "torch.optim.Optimizer"),
    ("LRScheduler", "optimizer", "sgd", TypeError, "'lr' attribute"),
    ("LRScheduler", "fn", 0.1, TypeError, "callable"),
    ("best_time", "fn", 3, TypeError, "callable"),
    ("gd_1d", "f_grad", 3, TypeError, "callable"),
    ("run_optimizer", "optimizer_cls", "SGD", TypeError, "optimizer class"),
    ("run_optimizer", "surface", "quadratic", TypeError, "Surface"),
    ("run_optimizer", "start", np.array([1.0, 2.0, 3.0]), ValueError, "(2,)"),
    ("run_optimizer", "start", np.array([1.0, np.nan]), ValueError, "finite"),
    ("LRExplorer", "start", [1.0, 2.0, 3.0], ValueError, "(2,)"),
    ("LRExplorer", "start", [1.0, math.nan], ValueError, "finite"),
    ("measure_throughput", "input_shape", (3, 0, 4), ValueError, ">= 1"),
    ("measure_throughput", "input_shape", 3, TypeError, "(3, 32, 32)"),
    ("measure_throughput", "augment", "flip", TypeError, "callable"),
    ("plain_loop_throughput", "transform", "flip", TypeError, "callable"),
    ("format_ladder", "rows", "fast", TypeError, "list of rows"),
    ("format_ladder", "rows", [], ValueError, "at least one row"),
    ("summary", "input_size", (3, 0, 4), ValueError, ">= 1"),
    ("summary", "input_size", 3, TypeError, "(3, 32, 32)"),
    ("summary", "input_size", (3, 8, 8), ValueError, "cannot run"),
    ("count_macs", "input_size", (2, 4, 4), ValueError, "cannot run"),
    ("format_shape", "shape", 3, TypeError, "tuple"),
    # ---- plots' data
    ("plot_history", "history", "history", TypeError, "History"),
    ("plot_loss_surface", "surface", "quadratic", TypeError, "Surface"),
    ("plot_loss_surface", "trajectories", {"sgd": np.zeros((3, 3))}, ValueError, "(*, 2)"),
    ("plot_1d_descent", "f", 3, TypeError, "callable"),
    ("plot_1d_descent", "trajectory", np.zeros((3, 2)), ValueError, "1-D"),
    ("show_images", "images", np.zeros(5), ValueError, "(N, H, W)"),
    ("show_images", "labels", [0, 1, 0], ValueError, "4"),
    ("show_images", "preds", [0, 1, 0], ValueError, "4"),
    ("show_images", "class_names", ["a"], ValueError, "class_names"),
    ("plot_image", "img", np.zeros(5), ValueError, "(H, W)"),
    ("plot_filters", "weights", np.zeros((4, 3)), ValueError, "4-D"),
    ("plot_feature_maps", "maps", np.zeros(5), ValueError, "(C, H, W)"),
    ("plot_activation_stats", "acts", "acts", TypeError, "dict"),
    ("plot_activation_stats", "acts", {}, ValueError, "non-empty"),
    ("plot_grad_norms", "norms", [1.0, 2.0], TypeError, "dict"),
    ("plot_grad_norms", "labels", ["a", "b"], ValueError, "1"),
    ("plot_activation_functions", "x", np.zeros((3, 3)), ValueError, "1-D"),
    # ---- widgets
    ("LR1DExplorer", "x_star", math.nan, ValueError, "finite"),
    ("ConvExplorer", "output_padding", -1, ValueError, ">= 0"),
    ("ConvExplorer", "in_channels", 0, ValueError, ">= 1"),
]


def _good_kwargs(call: Call, tmp_path) -> dict[str, Any]:
    """``call.good`` with ``path=None`` replaced by a file that suits the call."""
    kwargs = dict(call.good)
    if "path" in kwargs and kwargs["path"] is None:
        if call.name == "History.to_json":
            kwargs["path"] = str(tmp_path / "history.json")
        elif call.name == "History.from_json":
            kwargs["path"] = str(tmp_path / "history.json")
            HISTORY.to_json(kwargs["path"])
        else:  # the checkpoint functions
            kwargs["path"] = str(tmp_path / "ck.pt")
            training.save_checkpoint(kwargs["path"], _mlp())
    return kwargs


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_gets_a_clear_error(case, tmp_path):
    call_name, arg, value, exc_type, expected = case
    call = CALLS[call_name]
    kwargs = {**_good_kwargs(call, tmp_path), arg: value}
    assert_clear_error(call.fn, kwargs, arg, value, exc_type, expected)


@pytest.mark.parametrize("name", list(CALLS))
def test_every_call_works_with_its_good_arguments(name, tmp_path):
    """The table's baseline: each replaced argument is the only thing wrong."""
    call = CALLS[name]
    result = call.fn(**_good_kwargs(call, tmp_path))
    if call.name == "autocast":
        with result:
            pass


def test_every_public_function_has_a_row():
    """A new public function of these modules needs its good call in CALLS."""
    import inspect

    covered = {c.fn for c in CALLS.values()}
    exempt = {
        "History",  # a dataclass of lists; History.best_epoch has a row
        "Surface",
        "ModelSummary",
        "Explorer",  # the base class: no arguments
        "course_style",  # a context manager without arguments
        "available_devices",
        "landmark_parameter_counts",
        "free_port",
        "build_parser",
        "main",  # argv: tested below
        "speedup_ladder",  # its arguments are measure_throughput's and plain_loop_throughput's
        "lr_explorer",  # the factory functions pass their arguments to the classes
        "lr_explorer_1d",
        "conv_explorer",
        "activation_explorer",
        "mlp_width_explorer",
        "resnet32",
        "resnet44",
        "resnet56",
        "resnet110",
        "plain32",
        "plain44",
        "plain56",
        "plain110",
    }
    missing = []
    for mod in (
        landscape,
        training,
        augment,
        fast,
        plots,
        widgets,
        device,
        models,
        resnet,
        summary,
        schedules,
        timing,
        toydata,
        surfaces,
        distributed,
    ):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not callable(obj) or name in exempt or obj in covered:
                continue
            if inspect.isfunction(obj) and obj.__module__ != mod.__name__:
                continue  # re-exported from another module (fast.synchronize)
            if name in {"make_xor", "make_regression_1d", "cosine_lr", "warmup_cosine"}:
                continue  # in test_bad_inputs.py
            missing.append(f"{mod.__name__}.{name}")
    assert not missing, f"public functions without a row: {missing}"


# ----------------------------------------------------------------------------
# the edges that are accepted, like torch
# ----------------------------------------------------------------------------


def test_the_distributed_command_line_names_the_bad_option():
    with pytest.raises(ValueError, match=r"--epochs must be >= 1, got 0"):
        distributed.main(["--synthetic", "--epochs", "0"])


def test_factory_functions_check_like_their_classes():
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        widgets.lr_explorer(steps=0)
    with pytest.raises(TypeError, match="transposed must be a bool, got 'False'"):
        widgets.conv_explorer(transposed="False")
    with pytest.raises(ValueError, match="width must be an integer >= 1, got 0"):
        resnet.resnet56(width=0)
    with pytest.raises(TypeError, match="residual must not be given"):
        resnet.plain56(residual=True)
    with pytest.raises(TypeError, match="num_workers must be an integer >= 0"):
        fast.speedup_ladder(_conv_net(), num_workers="2")


def test_numpy_batches_are_named_with_their_loader():
    with pytest.raises(TypeError, match=r"batches of train_loader must hold tensors.*ndarray"):
        training.fit(_mlp(), [(X_FLAT.numpy(), Y4)], epochs=1, device="cpu", progress=False)


def test_nan_in_images_and_logits_goes_through_as_in_torch():
    x = IMG.clone()
    x[0, 0, 0, 0] = math.nan
    assert torch.isnan(augment.random_flip(x, p=1.0)).sum() == 1
    logits = LOGITS.clone()
    logits[0, 0] = math.nan
    acc = training.accuracy(logits, Y4)
    # torch.argmax treats NaN as the largest value
    assert acc == (logits.argmax(1) == Y4).float().mean().item()


def test_labels_as_lists_numpy_and_tensors_agree():
    expected = training.accuracy(LOGITS, Y4)
    assert training.accuracy(LOGITS.numpy(), Y4.tolist()) == expected
    assert training.accuracy(LOGITS, Y4.double()) == expected
    cm = plots.confusion_matrix(Y4, Y4)
    np.testing.assert_array_equal(plots.confusion_matrix(Y4.tolist(), Y4.numpy()), cm)


AUGMENTATIONS = {
    "random_flip": lambda x: augment.random_flip(x, generator=torch.Generator().manual_seed(0)),
    "random_crop": lambda x: augment.random_crop(x, 2, generator=torch.Generator().manual_seed(0)),
    "random_rotation": lambda x: augment.random_rotation(
        x, 10.0, generator=torch.Generator().manual_seed(0)
    ),
    "color_jitter": lambda x: augment.color_jitter(x, generator=torch.Generator().manual_seed(0)),
    "gaussian_noise": lambda x: augment.gaussian_noise(
        x, generator=torch.Generator().manual_seed(0)
    ),
    "BatchAugment": lambda x: augment.BatchAugment(rotation=5.0, jitter=0.1, noise=0.1)(
        x, generator=torch.Generator().manual_seed(0)
    ),
}


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_a_zero_batch_gives_a_zero_batch(name):
    out = AUGMENTATIONS[name](torch.zeros(0, 3, 8, 8))
    assert out.shape == (0, 3, 8, 8)
