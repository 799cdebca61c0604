"""NumPy optimisers agree with torch.optim step for step (float64, 120 steps).

torch's CPU kernels use fused multiply-adds, so the two agree to the last bit
only up to ~1 ulp per operation; the hyper-parameters below keep the training
dynamics tame enough that this rounding noise is not amplified (an aggressive
lr on the tanh MLP turns 1e-16 into 1e-8 within 100 steps).
"""

import numpy as np
import pytest
import torch

from coursekit import optimizers as O

STEPS = 120

_RNG = np.random.default_rng(0)
X = torch.tensor(_RNG.standard_normal((16, 4)))
Y = torch.tensor(_RNG.standard_normal((16, 3)))
A = torch.tensor(_RNG.standard_normal((6, 3)))
B = torch.tensor(_RNG.standard_normal(6))


def _loss(W1, b1, W2, v):
    """A small MLP regression loss plus a quadratic in a second parameter group."""
    h = torch.tanh(X @ W1.T + b1)
    mlp = ((h @ W2.T - Y) ** 2).mean()
    quad = 0.5 * ((A @ v - B) ** 2).sum()
    return mlp + quad


def _numpy_grads(W1, b1, W2, v):
    """Hand-written backward pass of ``_loss`` (checked against autograd below)."""
    x, y, a, b = X.numpy(), Y.numpy(), A.numpy(), B.numpy()
    h = np.tanh(x @ W1.T + b1)
    dout = 2 * (h @ W2.T - y) / y.size
    dz = (dout @ W2) * (1 - h * h)
    return {"W1": dz.T @ x, "b1": dz.sum(0)}, {"W2": dout.T @ h, "v": a.T @ (a @ v - b)}


def test_numpy_grads_match_autograd():
    layer, head = _init()
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in {**layer, **head}.items()}
    _loss(**ts).backward()
    for d in _numpy_grads(**layer, **head):
        for k, g in d.items():
            np.testing.assert_allclose(g, ts[k].grad.numpy(), rtol=1e-12, atol=1e-14)


def _init():
    rng = np.random.default_rng(1)
    layer = {"W1": rng.standard_normal((5, 4)), "b1": rng.standard_normal(5) * 0.1}
    head = {"W2": rng.standard_normal((3, 5)), "v": rng.standard_normal(3)}
    return layer, head


def _run_torch(torch_cls, hyper):
    layer, head = _init()
    ts = {k: torch.tensor(v, requires_grad=True) for k, v in {**layer, **head}.items()}
    opt = torch_cls(list(ts.values()), foreach=False, **hyper)
    for _ in range(STEPS):
        opt.zero_grad()
        _loss(**ts).backward()
        opt.step()
    return {k: t.detach().numpy() for k, t in ts.items()}


def _run_numpy(np_cls, hyper):
    layer, head = _init()
    grads = [{k: np.zeros_like(v) for k, v in d.items()} for d in (layer, head)]
    opt = np_cls([(layer, grads[0]), (head, grads[1])], **hyper)
    for _ in range(STEPS):
        opt.zero_grad()
        for g, new in zip(grads, _numpy_grads(**layer, **head), strict=True):
            for k in g:
                g[k] += new[k]
        opt.step()
    return {**layer, **head}


CASES = [
    (O.SGD, torch.optim.SGD, {"lr": 0.05}),
    (O.SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.9}),
    (O.SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    (O.SGD, torch.optim.SGD, {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    (O.Adagrad, torch.optim.Adagrad, {"lr": 0.1}),
    (
        O.Adagrad,
        torch.optim.Adagrad,
        {"lr": 0.2, "lr_decay": 0.01, "weight_decay": 0.02, "initial_accumulator_value": 0.1},
    ),
    (O.RMSprop, torch.optim.RMSprop, {"lr": 0.01}),
    (O.RMSprop, torch.optim.RMSprop, {"lr": 0.002, "centered": True}),
    (
        O.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.002, "alpha": 0.95, "momentum": 0.5, "centered": True, "eps": 1e-4},
    ),
    (
        O.RMSprop,
        torch.optim.RMSprop,
        {"lr": 0.003, "weight_decay": 0.1, "eps": 1e-6, "momentum": 0.9},
    ),
    (O.Adam, torch.optim.Adam, {}),
    (O.Adam, torch.optim.Adam, {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    # beta1 <= 0.5 takes torch.lerp's other branch.
    (O.Adam, torch.optim.Adam, {"lr": 0.005, "betas": (0.4, 0.9), "eps": 1e-3}),
    (O.AdamW, torch.optim.AdamW, {}),
    (O.AdamW, torch.optim.AdamW, {"lr": 0.02, "weight_decay": 0.5, "betas": (0.85, 0.95)}),
]


@pytest.mark.parametrize(
    "np_cls, torch_cls, hyper", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_matches_torch_step_for_step(np_cls, torch_cls, hyper):
    ours = _run_numpy(np_cls, hyper)
    theirs = _run_torch(torch_cls, hyper)
    start = {**_init()[0], **_init()[1]}
    for k in ours:
        assert not np.allclose(ours[k], start[k])  # the run really moved the parameters
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-11, atol=1e-12, err_msg=k)


def test_adam_first_step_worked_example():
    # After one bias-corrected step m / sqrt(v) = g / |g|: every coordinate moves by ~lr.
    p = {"w": np.array([1.0, -2.0, 3.0])}
    g = {"w": np.array([0.5, -4.0, 1e-3])}
    O.Adam((p, g), lr=0.001).step()
    np.testing.assert_allclose(p["w"], [1.0 - 0.001, -2.0 + 0.001, 3.0 - 0.001], rtol=1e-7)


def test_sgd_worked_example_and_in_place_update():
    w = np.array([1.0, 2.0])
    params, grads = {"w": w}, {"w": np.array([0.5, -1.0])}
    opt = O.SGD([(params, grads)], lr=0.1, momentum=0.9)
    opt.step()  # buffer = g
    opt.step()  # buffer = 0.9 g + g = 1.9 g
    np.testing.assert_allclose(w, [1.0 - 0.1 * 0.5 * 2.9, 2.0 + 0.1 * 2.9])
    assert params["w"] is w  # updated in place, not replaced


def test_adamw_decays_independently_of_gradient_scale():
    # Zero gradient: Adam (L2) takes a step of ~lr in sign(w), AdamW only shrinks by (1 - lr * wd).
    pa, pw = {"w": np.array([2.0])}, {"w": np.array([2.0])}
    ga, gw = {"w": np.zeros(1)}, {"w": np.zeros(1)}
    O.Adam((pa, ga), lr=0.1, weight_decay=0.01).step()
    O.AdamW((pw, gw), lr=0.1, weight_decay=0.01).step()
    assert pw["w"][0] == pytest.approx(2.0 * (1 - 0.1 * 0.01))
    assert pa["w"][0] == pytest.approx(2.0 - 0.1, rel=1e-6)


def test_lr_attribute_is_read_every_step_and_zero_grad():
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    opt = O.SGD((p, g), lr=0.5)
    opt.lr = 0.25
    opt.step()
    np.testing.assert_allclose(p["w"], [0.75, 0.75])
    opt.zero_grad()
    assert not g["w"].any()


def test_float32_parameters_stay_float32():
    p, g = {"w": np.ones(3, np.float32)}, {"w": np.full(3, 0.5, np.float32)}
    O.Adam((p, g), lr=0.1).step()
    assert p["w"].dtype == np.float32
    np.testing.assert_allclose(p["w"], 0.9, rtol=1e-6)


def test_errors():
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -0.1"):
        O.SGD((p, g), lr=-0.1)
    with pytest.raises(ValueError, match="nesterov must be False unless momentum > 0"):
        O.SGD((p, g), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"betas\[1\] must lie in \[0, 1\), got 1.0"):
        O.Adam((p, g), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="its grad_dict has no such key"):
        O.Adam(({"w": np.ones(2)}, {"v": np.ones(2)}))
    with pytest.raises(TypeError, match=r"params\[0\]\['w'\] must be a floating-point np.ndarray"):
        O.SGD(({"w": [1.0, 2.0]}, {"w": np.ones(2)}), lr=0.1)
    with pytest.raises(ValueError, match="params must contain at least one"):
        O.RMSprop([])
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\)"):
        O.RMSprop((p, g), alpha=1.5)
    bad = O.Adagrad(({"w": np.ones(2)}, {"w": np.ones(3)}))
    with pytest.raises(
        ValueError, match=r"grad 'w' must have the parameter's shape \(2,\), got \(3,\)"
    ):
        bad.step()


# Two layers of one shape whose parameters have the same names, as every Dense layer's
# ("W", "b") do: each needs its own state (moments, buffers, step count).
Y4 = torch.tensor(_RNG.standard_normal((16, 4)))


def _twin_init():
    rng = np.random.default_rng(2)
    return [{"W": rng.standard_normal((4, 4)), "b": rng.standard_normal(4) * 0.1} for _ in "ab"]


def _twin_loss(first, second):
    h = torch.tanh(X @ first["W"].T + first["b"])
    return ((h @ second["W"].T + second["b"] - Y4) ** 2).mean()


@pytest.mark.parametrize(
    "np_cls, torch_cls, hyper", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_parameters_with_the_same_name_in_two_pairs_keep_their_own_state(np_cls, torch_cls, hyper):
    steps = 30
    first, second = _twin_init()
    grads = [{k: np.zeros_like(v) for k, v in d.items()} for d in (first, second)]
    opt = np_cls([(first, grads[0]), (second, grads[1])], **hyper)
    for _ in range(steps):
        ts = [
            {k: torch.tensor(v, requires_grad=True) for k, v in d.items()} for d in (first, second)
        ]
        _twin_loss(*ts).backward()
        for g, t in zip(grads, ts, strict=True):
            for k in g:
                g[k][...] = t[k].grad.numpy()
        opt.step()

    ts = [{k: torch.tensor(v, requires_grad=True) for k, v in d.items()} for d in _twin_init()]
    topt = torch_cls([t for d in ts for t in d.values()], foreach=False, **hyper)
    for _ in range(steps):
        topt.zero_grad()
        _twin_loss(*ts).backward()
        topt.step()
    for ours, theirs in zip((first, second), ts, strict=True):
        for k in ours:
            np.testing.assert_allclose(
                ours[k], theirs[k].detach().numpy(), rtol=1e-11, atol=1e-12, err_msg=k
            )
    assert len(opt.state) == 4 or not any(opt.state.values())  # one state per parameter


# Found by mutation testing (docs/mutation.md): hyper-parameter errors must name the
# parameter; the defaults are torch's; exactly 1 is a weight decay and a momentum too.
@pytest.mark.parametrize(
    "cls, name",
    [
        (O.SGD, "momentum"), (O.SGD, "dampening"), (O.SGD, "weight_decay"),
        (O.Adagrad, "lr_decay"), (O.Adagrad, "weight_decay"),
        (O.Adagrad, "initial_accumulator_value"), (O.Adagrad, "eps"),
        (O.RMSprop, "eps"), (O.RMSprop, "weight_decay"), (O.RMSprop, "momentum"),
        (O.Adam, "eps"), (O.Adam, "weight_decay"), (O.AdamW, "eps"),
    ],
)  # fmt: skip
def test_a_negative_hyper_parameter_is_named(cls, name):
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    kwargs = {"lr": 0.1} if cls is O.SGD else {}
    with pytest.raises(ValueError, match=rf"^{name} must be a finite number >= 0, got -1"):
        cls((p, g), **kwargs, **{name: -1.0})


def test_bool_and_pair_arguments_are_named():
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    with pytest.raises(TypeError, match=r"^nesterov must be a bool"):
        O.SGD((p, g), lr=0.1, nesterov=1)
    with pytest.raises(TypeError, match=r"^centered must be a bool"):
        O.RMSprop((p, g), centered="yes")
    for betas in [0.9, (0.9,), (0.9, 0.99, 0.999)]:
        with pytest.raises(TypeError, match=r"^betas must be a pair \(beta1, beta2\), got"):
            O.Adam((p, g), betas=betas)
    with pytest.raises(ValueError, match=r"^betas\[0\] must lie in \[0, 1\)"):
        O.Adam((p, g), betas=(1.0, 0.9))
    with pytest.raises(TypeError, match=r"^grad 'w' must hold real numbers"):
        O.SGD(({"w": np.ones(2)}, {"w": np.array(["a", "b"])}), lr=0.1).step()


def test_params_errors_say_what_is_wrong():
    w = np.ones(2)
    with pytest.raises(
        TypeError, match=r"^params must be a list of \(param_dict, grad_dict\) pairs"
    ):
        O.SGD(3, lr=0.1)
    with pytest.raises(
        TypeError, match=r"^params\[0\] must be a \(param_dict, grad_dict\) pair, got"
    ):
        O.SGD([({"w": w},)], lr=0.1)
    with pytest.raises(
        TypeError, match=r"^params\[0\] must be a \(param_dict, grad_dict\) pair, got"
    ):
        O.SGD([{"w": w}], lr=0.1)
    with pytest.raises(TypeError, match=r"^params\[0\] must hold two dicts, got \(dict, list\)"):
        O.SGD([({"w": w}, [w])], lr=0.1)
    with pytest.raises(TypeError, match=r"^params\[0\] must hold two dicts, got \(list, dict\)"):
        O.SGD([([w], {"w": w})], lr=0.1)
    with pytest.raises(
        TypeError,
        match=r"must be a floating-point np.ndarray \(updated in place\), got ndarray of dtype int64",
    ):
        O.SGD(({"w": np.ones(2, dtype=np.int64)}, {"w": w}), lr=0.1)
    with pytest.raises(
        TypeError, match=r"floating-point np.ndarray \(updated in place\), got list$"
    ):
        O.SGD(({"w": [1.0]}, {"w": w}), lr=0.1)
    # A list of two pairs is two pairs, not one (param_dict, grad_dict) pair.
    a, b = ({"w": np.ones(1)}, {"w": np.ones(1)}), ({"v": np.ones(1)}, {"v": np.ones(1)})
    assert len(O.SGD([a, b], lr=0.1).pairs) == 2


@pytest.mark.parametrize(
    "np_cls, torch_cls", [(O.SGD, None), (O.Adagrad, torch.optim.Adagrad),
                          (O.RMSprop, torch.optim.RMSprop), (O.Adam, torch.optim.Adam),
                          (O.AdamW, torch.optim.AdamW)],
)  # fmt: skip
def test_defaults_are_torchs(np_cls, torch_cls):
    if torch_cls is None:
        return
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    ours = np_cls((p, g))
    theirs = torch_cls([torch.zeros(2, requires_grad=True)]).defaults
    for key in ("lr", "eps", "weight_decay", "momentum", "lr_decay", "initial_accumulator_value"):
        if key in theirs:
            assert getattr(ours, key) == theirs[key], key


@pytest.mark.parametrize(
    "np_cls, torch_cls, hyper",
    [
        (O.SGD, torch.optim.SGD, {"lr": 0.01, "weight_decay": 1.0}),
        (O.SGD, torch.optim.SGD, {"lr": 0.01, "momentum": 1.0}),
        (O.Adagrad, torch.optim.Adagrad, {"lr": 0.1, "weight_decay": 1.0}),
        (O.RMSprop, torch.optim.RMSprop, {"lr": 0.001, "weight_decay": 1.0}),
        (O.Adam, torch.optim.Adam, {"lr": 0.01, "weight_decay": 1.0}),
    ],
)
def test_a_weight_decay_or_momentum_of_exactly_one_counts(np_cls, torch_cls, hyper):
    ours = _run_numpy(np_cls, hyper)
    theirs = _run_torch(torch_cls, hyper)
    for k in ours:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-9, atol=1e-10, err_msg=k)


def test_lerp_switches_formula_at_one_half_like_torch():
    # With start = 1e16 and end = 1 the two formulas round differently.
    for weight in (0.5, 1.0, 0.25):
        start, end = np.array([1e16]), np.array([1.0])
        expected = torch.lerp(torch.tensor(start), torch.tensor(end), weight).numpy()
        O._lerp_(start, end, weight)
        assert start[0] == expected[0], weight


def test_float32_state_stays_float32():
    # Buffers in float64 would change the rounding of every later step (and double memory).
    for cls, hyper in [(O.SGD, {"momentum": 0.9}), (O.RMSprop, {"momentum": 0.9}), (O.Adam, {})]:
        p, g = {"w": np.ones(3, np.float32)}, {"w": np.full(3, 0.5, np.float32)}
        opt = cls((p, g), lr=0.1, **hyper)
        opt.step()
        arrays = [v for s in opt.state.values() for v in s.values() if isinstance(v, np.ndarray)]
        assert arrays and all(a.dtype == np.float32 for a in arrays), cls.__name__


def test_dampening_without_momentum_is_plain_sgd_like_torch():
    # torch keeps no momentum buffer when momentum == 0, so dampening does nothing.
    hyper = {"lr": 0.1, "momentum": 0.0, "dampening": 0.5}
    ours, theirs = _run_numpy(O.SGD, hyper), _run_torch(torch.optim.SGD, hyper)
    for k in ours:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_messages_start_with_the_argument():
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    with pytest.raises(ValueError, match=r"^params must contain at least one \(param_dict, grad"):
        O.SGD([], lr=0.1)
    with pytest.raises(ValueError, match=r"^nesterov must be False unless momentum > 0"):
        O.SGD((p, g), lr=0.1, nesterov=True)


def test_repr_shows_the_hyper_parameters_only():
    p, g = {"w": np.zeros(2)}, {"w": np.zeros(2)}
    opt = O.SGD((p, g), lr=0.5, momentum=0.9)
    opt.step()  # with state: still only the hyper-parameters
    assert repr(opt) == "SGD(lr=0.5, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)"
    assert repr(O.Adam((p, g), lr=1e-3)) == (
        "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)"
    )
