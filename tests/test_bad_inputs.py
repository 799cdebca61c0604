"""Every public NumPy-half function x the kinds of bad input that apply to it.

Each bad call must raise ``ValueError`` (bad value or shape) or ``TypeError``
(bad type) whose message names the argument, shows the bad value (or its
shape / dtype) and says what was expected ("must ..."). Nothing may come back
silently. The inputs the API accepts (lists, torch tensors, zero batches) must
work the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from coursekit import (
    activations,
    conv,
    conv_arithmetic,
    gradcheck,
    initializers,
    layers,
    losses,
    normalization,
    optimizers,
    pooling,
    schedules,
    solver,
    toydata,
)
from coursekit.autodiff import Value
from coursekit.blocks import ResidualBlock


@dataclass
class Call:
    """One public function with arguments that work; each case replaces one of them."""

    name: str
    fn: Callable[..., Any]
    good: dict[str, Any]


def _img(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape)


X4 = _img(2, 3, 5, 5)
W4 = _img(4, 3, 3, 3)
X2 = _img(4, 3)


def _train_numpy(y_train: Any = None, **kw: Any) -> dict:
    net = layers.MLP((3, 3), rng=0)
    y = np.array([0, 1, 2, 0]) if y_train is None else y_train
    return solver.train_numpy(net, X2, y, optimizers.SGD(net.parameters(), 0.1), 1, 2, **kw)


def _with_nan(a: np.ndarray, value: float = np.nan) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flat[1] = value
    return a


CALLS = {
    c.name: c
    for c in [
        Call("conv2d_forward", conv.conv2d_forward, {"x": X4, "w": W4, "b": np.zeros(4)}),
        Call("conv2d_naive", conv.conv2d_naive, {"x": X4, "w": W4, "b": np.zeros(4)}),
        Call(
            "conv_transpose2d_forward",
            conv.conv_transpose2d_forward,
            {"x": X4, "w": _img(3, 4, 3, 3), "b": np.zeros(4)},
        ),
        Call("im2col", conv.im2col, {"x": X4, "kernel_size": 3}),
        Call("maxpool2d_forward", pooling.maxpool2d_forward, {"x": X4, "kernel_size": 2}),
        Call("avgpool2d_forward", pooling.avgpool2d_forward, {"x": X4, "kernel_size": 2}),
        Call("linear_forward", layers.linear_forward, {"x": X2, "w": _img(2, 3), "b": np.zeros(2)}),
        Call("flatten_forward", layers.flatten_forward, {"x": X4}),
        Call("dropout_forward", layers.dropout_forward, {"x": X2, "p": 0.5, "training": True}),
        Call("relu_forward", layers.relu_forward, {"x": X2}),
        Call("sigmoid", activations.sigmoid, {"x": X2}),
        Call("leaky_relu", activations.leaky_relu, {"x": X2, "negative_slope": 0.1}),
        Call(
            "batchnorm_forward",
            normalization.batchnorm_forward,
            {
                "x": X2,
                "gamma": np.ones(3),
                "beta": np.zeros(3),
                "running_mean": None,
                "running_var": None,
                "training": True,
            },
        ),
        Call(
            "layernorm_forward",
            normalization.layernorm_forward,
            {"x": X2, "gamma": np.ones(3), "beta": np.zeros(3)},
        ),
        Call("softmax", losses.softmax, {"x": X2, "axis": -1}),
        Call("log_softmax", losses.log_softmax, {"x": X2, "axis": -1}),
        Call("logsumexp", losses.logsumexp, {"x": X2, "axis": -1, "keepdims": False}),
        Call("mse", losses.mse, {"pred": X2, "target": X2 + 1}),
        Call(
            "cross_entropy",
            losses.cross_entropy,
            {"logits": X2, "y": np.array([0, 1, 2, 0]), "label_smoothing": 0.0},
        ),
        Call("rel_error", gradcheck.rel_error, {"a": X2, "b": X2}),
        Call("xavier_uniform", initializers.xavier_uniform, {"shape": (3, 4), "rng": 0}),
        Call("he_normal", initializers.he_normal, {"shape": (3, 4), "rng": 0}),
        Call(
            "Linear", layers.Linear, {"in_features": 3, "out_features": 2, "bias": True, "rng": 0}
        ),
        Call("Dropout", layers.Dropout, {"p": 0.5, "rng": 0}),
        Call("MLP", layers.MLP, {"sizes": (3, 4, 2), "rng": 0}),
        Call(
            "Conv2d",
            conv.Conv2d,
            {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "bias": True, "rng": 0},
        ),
        Call(
            "ConvTranspose2d",
            conv.ConvTranspose2d,
            {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "bias": True, "rng": 0},
        ),
        Call("ResidualBlock", ResidualBlock, {"in_channels": 3, "out_channels": 4, "rng": 0}),
        Call("BatchNorm2d", normalization.BatchNorm2d, {"num_features": 3}),
        Call("MaxPool2d", pooling.MaxPool2d, {"kernel_size": 2}),
        Call("make_xor", toydata.make_xor, {"n": 20, "noise": 0.1, "seed": 0}),
        Call("make_regression_1d", toydata.make_regression_1d, {"n": 20, "seed": 0}),
        Call(
            "conv_output_size",
            conv_arithmetic.conv_output_size,
            {"n": 7, "kernel_size": 3, "strict": False},
        ),
        Call(
            "pool_output_size",
            conv_arithmetic.pool_output_size,
            {"n": 7, "kernel_size": 2, "ceil_mode": False},
        ),
        Call("linear_params", conv_arithmetic.linear_params, {"in_features": 3, "out_features": 2}),
        Call(
            "conv_params",
            conv_arithmetic.conv_params,
            {"in_channels": 3, "out_channels": 2, "kernel_size": 3},
        ),
        Call(
            "trace_shapes",
            conv_arithmetic.trace_shapes,
            {"input_shape": (3, 8, 8), "layers": [("conv", 4, 3), ("pool", 2), ("flatten",)]},
        ),
        Call("cosine_lr", schedules.cosine_lr, {"step": 3, "base_lr": 0.1, "total_steps": 10}),
        Call(
            "warmup_cosine",
            schedules.warmup_cosine,
            {"step": 1, "base_lr": 0.1, "warmup_steps": 3, "total_steps": 10},
        ),
        Call(
            "train_numpy",
            _train_numpy,
            {"y_train": np.array([0, 1, 2, 0]), "seed": 0, "progress": False, "verbose": False},
        ),
    ]
}

# (call, argument, bad value, exception, what the message must also contain)
# kinds: wrong ndim, wrong dtype, NaN/inf, negative or zero sizes, mismatched batch sizes,
# zero-size dimensions, non-bool flags, bad seeds, wrong container types
CASES: list[tuple[str, str, Any, type, str]] = [
    # wrong ndim
    *[
        (c, "x", np.zeros((2, 3, 5)), ValueError, "4-D")
        for c in [
            "conv2d_forward",
            "conv2d_naive",
            "conv_transpose2d_forward",
            "im2col",
            "maxpool2d_forward",
            "avgpool2d_forward",
        ]
    ],
    ("conv2d_forward", "w", np.zeros((4, 3, 3)), ValueError, "4-D"),
    ("linear_forward", "x", X4, ValueError, "2-D"),
    ("linear_forward", "w", np.zeros(3), ValueError, "2-D"),
    ("flatten_forward", "x", np.zeros(3), ValueError, "at least 2-D"),
    ("batchnorm_forward", "x", np.zeros(3), ValueError, "2-D or 3-D or 4-D"),
    ("softmax", "x", np.float64(1.0), ValueError, "0-D"),
    # wrong dtype: strings, complex numbers, objects
    *[
        (c, "x", np.array([["a", "b", "c"]] * 4), TypeError, "dtype <U1")
        for c in [
            "linear_forward",
            "dropout_forward",
            "relu_forward",
            "sigmoid",
            "leaky_relu",
            "batchnorm_forward",
            "layernorm_forward",
            "softmax",
            "log_softmax",
            "logsumexp",
        ]
    ],
    ("conv2d_forward", "w", W4.astype(complex), TypeError, "complex128"),
    ("mse", "pred", np.array([None] * 12).reshape(4, 3), TypeError, "dtype object"),
    ("cross_entropy", "y", np.full(4, 0.5), TypeError, "integer class labels"),
    # mismatched shapes and batch sizes
    ("conv2d_forward", "b", np.zeros(3), ValueError, "(4,)"),
    ("conv2d_forward", "w", _img(4, 2, 3, 3), ValueError, "3 channels"),
    ("linear_forward", "w", _img(2, 4), ValueError, "3 features"),
    ("mse", "target", np.zeros((3, 3)), ValueError, "(3, 3)"),
    ("cross_entropy", "y", np.array([0, 1, 2]), ValueError, "4 and 3"),
    ("batchnorm_forward", "gamma", np.ones(2), ValueError, "(3,)"),
    ("layernorm_forward", "gamma", np.ones(4), ValueError, "(4,)"),
    # zero-size dimensions that would give silent nonsense
    ("conv2d_forward", "w", np.zeros((4, 3, 0, 3)), ValueError, "zero-size"),
    ("conv2d_naive", "w", np.zeros((4, 3, 3, 0)), ValueError, "zero-size"),
    ("conv_transpose2d_forward", "w", np.zeros((3, 4, 0, 3)), ValueError, "zero-size"),
    ("softmax", "x", np.zeros((4, 0)), ValueError, "at least one entry"),
    ("log_softmax", "x", np.zeros((4, 0)), ValueError, "at least one entry"),
    ("logsumexp", "x", np.zeros((4, 0)), ValueError, "at least one entry"),
    # negative, zero and non-integer sizes
    ("im2col", "kernel_size", 0, ValueError, ">= 1"),
    ("im2col", "kernel_size", 2.5, TypeError, "int"),
    ("maxpool2d_forward", "kernel_size", -1, ValueError, ">= 1"),
    ("Linear", "in_features", 0, ValueError, ">= 1"),
    ("Conv2d", "out_channels", -2, ValueError, ">= 1"),
    ("BatchNorm2d", "num_features", 0, ValueError, ">= 1"),
    ("MaxPool2d", "kernel_size", 0, ValueError, ">= 1"),
    ("make_xor", "n", 0, ValueError, ">= 1"),
    ("conv_output_size", "n", 0, ValueError, ">= 1"),
    ("pool_output_size", "kernel_size", 0, ValueError, ">= 1"),
    ("linear_params", "out_features", -1, ValueError, ">= 1"),
    ("xavier_uniform", "shape", (3, 0), ValueError, ">= 1"),
    ("cosine_lr", "total_steps", 0, ValueError, ">= 1"),
    ("cosine_lr", "base_lr", float("nan"), ValueError, "finite"),
    ("dropout_forward", "p", 1.0, ValueError, "[0, 1)"),
    ("dropout_forward", "p", float("nan"), ValueError, "[0, 1)"),
    ("leaky_relu", "negative_slope", float("inf"), ValueError, "finite"),
    ("cross_entropy", "label_smoothing", -0.1, ValueError, "[0, 1"),
    ("warmup_cosine", "min_lr", -0.01, ValueError, ">= 0"),
    # non-bool flags: "False" is truthy, 0/1 are more often slips than choices
    *[
        (c, flag, v, TypeError, "a bool")
        for c, flag in [
            ("dropout_forward", "training"),
            ("batchnorm_forward", "training"),
            ("train_numpy", "progress"),
            ("train_numpy", "verbose"),
            ("logsumexp", "keepdims"),
            ("conv_output_size", "strict"),
            ("pool_output_size", "ceil_mode"),
            ("linear_params", "bias"),
            ("conv_params", "bias"),
            ("Linear", "bias"),
            ("Conv2d", "bias"),
            ("ConvTranspose2d", "bias"),
        ]
        for v in ("False", 1)
    ],
    # bad seeds and generators
    *[
        (c, arg, v, exc, "seed")
        for c, arg in [
            ("dropout_forward", "rng"),
            ("Linear", "rng"),
            ("Dropout", "rng"),
            ("MLP", "rng"),
            ("Conv2d", "rng"),
            ("ConvTranspose2d", "rng"),
            ("ResidualBlock", "rng"),
            ("xavier_uniform", "rng"),
            ("he_normal", "rng"),
            ("make_xor", "seed"),
            ("make_regression_1d", "seed"),
            ("train_numpy", "seed"),
        ]
        for v, exc in ((-1, ValueError), ("0", TypeError), (1.5, TypeError))
    ],
    # NaN and inf inside arrays where they cannot be meant: class labels (torch's
    # cross_entropy would index with them), sizes and shapes. Data (x, logits,
    # predictions, targets of mse) may hold NaN: it propagates as in torch.
    *[
        (c, arg, _with_nan([0, 1, 2, 0], v), ValueError, "integer class labels")
        for c, arg in [("cross_entropy", "y"), ("train_numpy", "y_train")]
        for v in (np.nan, np.inf, -np.inf)
    ],
    ("xavier_uniform", "shape", (3, float("nan")), TypeError, "tuple of ints"),
    ("he_normal", "shape", np.array([3.0, np.inf]), TypeError, "tuple of ints"),
    ("MLP", "sizes", (3, float("nan"), 2), TypeError, "integer"),
    ("conv_output_size", "n", float("nan"), TypeError, "integer"),
    ("pool_output_size", "kernel_size", float("inf"), TypeError, "int"),
    ("conv_params", "kernel_size", (3, float("nan")), TypeError, "int"),
    ("trace_shapes", "input_shape", (3, float("nan"), 8), TypeError, "integer"),
    ("cosine_lr", "step", float("nan"), TypeError, "integer"),
    ("warmup_cosine", "min_lr", float("inf"), ValueError, "finite"),
    ("Dropout", "p", float("nan"), ValueError, "[0, 1)"),
    ("make_xor", "noise", float("nan"), ValueError, "finite"),
    # containers of the wrong kind
    ("trace_shapes", "input_shape", 3, TypeError, "(C, H, W)"),
    ("trace_shapes", "input_shape", None, TypeError, "(C, H, W)"),
    ("trace_shapes", "layers", None, TypeError, "layer specs"),
    ("trace_shapes", "layers", [("pool",)], ValueError, "('pool', k[, stride])"),
    ("trace_shapes", "layers", [("conv", 4)], ValueError, "('conv', out_channels, k"),
    ("trace_shapes", "layers", [("flatten",), ("linear",)], ValueError, "('linear', out_features)"),
    ("trace_shapes", "layers", [("relu", 2)], ValueError, "no arguments"),
    # a callable is shown by what it returned
    (
        "make_regression_1d",
        "fn",
        lambda x: x[:-1],
        ValueError,
        "(20,) to the same shape, got (19,)",
    ),
]


def _shown(value: Any) -> list[str]:
    """Ways a message may show the bad value: its repr, its shape (an array, a
    sequence), an entry of it, or the type of an object ("got str")."""
    got_type = f"got {type(value).__name__}"
    if isinstance(value, (np.ndarray, torch.Tensor)):
        # a small array may be shown whole: "start must hold finite numbers, got [1.0, nan]"
        n = value.numel() if isinstance(value, torch.Tensor) else value.size
        small = [str(value.tolist()), repr(value)] if 0 < n <= 8 else []
        return [str(tuple(value.shape)), str(value.dtype), got_type, *small] + (
            [str(value.shape)] if isinstance(value, torch.Tensor) else []
        )
    if isinstance(value, float):
        return [repr(value), str(value)]
    if isinstance(value, (list, tuple)):
        if not value:
            return [repr(value), "empty", "got 0"]
        entries = [s for v in value for s in _shown(v)]
        # a sequence may be shown by its length: "got 3 tensors"
        return [repr(value), str((len(value),)), f"got {len(value)}", got_type, *entries]
    if isinstance(value, dict):
        entries = [s for v in value.values() for s in _shown(v)]
        return [repr(value), got_type, *[repr(k) for k in value], *entries]
    if callable(value) and not isinstance(value, type):
        return ["got"]
    # an object is shown by its type: "model must be a torch.nn.Module, got str"
    return [repr(value), str(value), got_type]


def case_id(case: tuple) -> str:
    """A readable test id: call-argument=value."""
    call, arg, value, _, _ = case
    if isinstance(value, (np.ndarray, torch.Tensor)):
        shown = f"shape{tuple(value.shape)}"
    else:
        shown = repr(value)[:20]
    return f"{call}-{arg}={shown}"


def assert_clear_error(
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    arg: str,
    value: Any,
    exc_type: type,
    expected: str,
) -> None:
    """``fn(**kwargs)`` raises ``exc_type`` whose message names ``arg``, shows ``value``
    and says what was expected (``must`` ... ``expected``); nothing is returned."""
    result = None
    with pytest.raises((ValueError, TypeError)) as info:
        result = fn(**kwargs)
    assert result is None, "a value was returned for a bad input"
    message = str(info.value)
    assert info.type is exc_type, f"{info.type.__name__} instead of {exc_type.__name__}: {message}"
    # the argument is named (as itself, or as an entry of it such as layers[0])
    assert re.search(rf"(?<![\w-]){re.escape(arg)}(?![\w])", message) or (f"{arg}[" in message), (
        f"{arg!r} is not named in: {message}"
    )
    assert any(s in message for s in _shown(value)), f"bad value not shown in: {message}"
    assert "must" in message and expected in message, f"expected {expected!r} in: {message}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_gets_a_clear_error(case):
    call_name, arg, value, exc_type, expected = case
    call = CALLS[call_name]
    assert_clear_error(call.fn, {**call.good, arg: value}, arg, value, exc_type, expected)


def test_every_call_works_with_its_good_arguments():
    """The table's baseline: each replaced argument is the only thing wrong."""
    for call in CALLS.values():
        call.fn(**call.good)


# ----------------------------------------------------------------------------
# inputs the API accepts, the same way everywhere
# ----------------------------------------------------------------------------

FORWARDS: list[tuple[str, Callable[[Any], Any], tuple[int, ...]]] = [
    ("conv2d_forward", lambda x: conv.conv2d_forward(x, W4)[0], (2, 3, 5, 5)),
    (
        "conv_transpose2d_forward",
        lambda x: conv.conv_transpose2d_forward(x, _img(3, 4, 3, 3))[0],
        (2, 3, 5, 5),
    ),
    ("maxpool2d_forward", lambda x: pooling.maxpool2d_forward(x, 2, 1, 1)[0], (2, 3, 5, 5)),
    ("avgpool2d_forward", lambda x: pooling.avgpool2d_forward(x, 2)[0], (2, 3, 5, 5)),
    ("GlobalAvgPool2d", lambda x: pooling.GlobalAvgPool2d().forward(x), (2, 3, 5, 5)),
    ("flatten_forward", lambda x: layers.flatten_forward(x)[0], (2, 3, 5, 5)),
    ("linear_forward", lambda x: layers.linear_forward(x, _img(2, 3))[0], (4, 3)),
    ("relu_forward", lambda x: layers.relu_forward(x)[0], (4, 3)),
    ("dropout_forward", lambda x: layers.dropout_forward(x, 0.5, True, 0)[0], (4, 3)),
    ("batchnorm eval", lambda x: normalization.BatchNorm2d(3).eval().forward(x), (2, 3, 5, 5)),
    (
        "layernorm_forward",
        lambda x: normalization.layernorm_forward(x, np.ones(3), np.zeros(3))[0],
        (4, 3),
    ),
    ("softmax", lambda x: losses.softmax(x), (4, 3)),
    (
        "Sequential",
        lambda x: layers.Sequential(
            conv.Conv2d(3, 2, 3, rng=0),
            layers.ReLU(),
            pooling.MaxPool2d(2),
            layers.Flatten(),
            layers.Linear(2, 2, rng=1),
        ).forward(x),
        (2, 3, 5, 5),
    ),
]


@pytest.mark.parametrize("name, fn, shape", FORWARDS, ids=[f[0] for f in FORWARDS])
def test_lists_and_torch_tensors_give_the_numpy_result(name, fn, shape):
    x = _img(*shape)
    expected = fn(x)
    np.testing.assert_array_equal(fn(x.tolist()), expected)
    np.testing.assert_array_equal(fn(torch.from_numpy(x)), expected)


@pytest.mark.parametrize("name, fn, shape", FORWARDS, ids=[f[0] for f in FORWARDS])
def test_a_zero_batch_gives_a_zero_batch(name, fn, shape):
    out = fn(np.zeros((0, *shape[1:])))
    assert out.shape[0] == 0 and out.shape[1:] == fn(_img(*shape)).shape[1:]


def test_global_average_of_an_empty_feature_map_is_an_error_not_nan():
    with pytest.raises(ValueError, match=r"x must have H >= 1 and W >= 1.*\(2, 3, 0, 4\)"):
        pooling.GlobalAvgPool2d().forward(np.zeros((2, 3, 0, 4)))


def test_layer_modes_must_be_bools():
    layer = layers.Dropout(0.5, rng=0)
    with pytest.raises(TypeError, match="mode must be a bool, got 'False'"):
        layer.train("False")
    assert layer.training is True


def test_string_gradients_are_named_by_the_optimizer():
    params, grads = {"w": np.zeros(2)}, {"w": np.array(["a", "b"])}
    with pytest.raises(TypeError, match=r"grad 'w' must hold real numbers.*dtype <U1"):
        optimizers.SGD([(params, grads)], lr=0.1).step()


def test_numerical_gradient_of_a_vector_valued_f_says_so():
    with pytest.raises(ValueError, match=r"f must return one real number .* shape \(3,\)"):
        gradcheck.numerical_gradient(lambda z: z * 2, np.zeros(3))


def test_value_errors_name_the_operand():
    with pytest.raises(TypeError, match="data must be a real number, got 'x'"):
        Value("x")
    with pytest.raises(ValueError, match="exponent 0.5 of a negative value -4.0"):
        Value(-4) ** 0.5


# ----------------------------------------------------------------------------
# NaN in data goes through as in torch (only labels, sizes and flags are checked)
# ----------------------------------------------------------------------------

Y = np.array([0, 1, 2, 0])
F = torch.nn.functional


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


# (name, ours(x2, x4), torch's(x2, x4)) with x2 of shape (4, 3), x4 of shape (2, 3, 5, 5)
NAN_PROPAGATION: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("relu_forward", lambda x, _: layers.relu_forward(x)[0], lambda x, _: F.relu(_t(x))),
    ("sigmoid", lambda x, _: activations.sigmoid(x), lambda x, _: torch.sigmoid(_t(x))),
    (
        "leaky_relu",
        lambda x, _: activations.leaky_relu(x, 0.1),
        lambda x, _: F.leaky_relu(_t(x), 0.1),
    ),
    ("softmax", lambda x, _: losses.softmax(x), lambda x, _: torch.softmax(_t(x), -1)),
    ("log_softmax", lambda x, _: losses.log_softmax(x), lambda x, _: torch.log_softmax(_t(x), -1)),
    ("logsumexp", lambda x, _: losses.logsumexp(x), lambda x, _: torch.logsumexp(_t(x), -1)),
    ("mse", lambda x, _: np.array(losses.mse(x, X2)), lambda x, _: F.mse_loss(_t(x), _t(X2))),
    (
        "cross_entropy",
        lambda x, _: np.array(losses.cross_entropy(x, Y)),
        lambda x, _: F.cross_entropy(_t(x), _t(Y)),
    ),
    (
        "cross_entropy smoothed",
        lambda x, _: np.array(losses.cross_entropy(x, Y, label_smoothing=0.1)),
        lambda x, _: F.cross_entropy(_t(x), _t(Y), label_smoothing=0.1),
    ),
    (
        "conv2d_forward",
        lambda _, x: conv.conv2d_forward(x, W4)[0],
        lambda _, x: F.conv2d(_t(x), _t(W4)),
    ),
    (
        "avgpool2d_forward",
        lambda _, x: pooling.avgpool2d_forward(x, 2)[0],
        lambda _, x: F.avg_pool2d(_t(x), 2),
    ),
    (
        "maxpool2d_forward",
        lambda _, x: pooling.maxpool2d_forward(x, 2)[0],
        lambda _, x: F.max_pool2d(_t(x), 2),
    ),
]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name, ours, theirs", NAN_PROPAGATION, ids=[n[0] for n in NAN_PROPAGATION])
def test_nan_and_inf_in_data_go_through_as_in_torch(name, ours, theirs, bad):
    x2, x4 = X2.copy(), X4.copy()
    x2[0, 1] = bad  # not the true class of row 0 (label 0)
    x4[0, 1, 2, 2] = bad
    out, expected = np.asarray(ours(x2, x4)), theirs(x2, x4).numpy()
    assert out.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-8, equal_nan=True)
