"""coursekit.layers against torch.nn / autograd in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.blocks import ResidualBlock
from coursekit.gradcheck import check_layer
from coursekit.layers import (
    MLP,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Linear,
    PReLU,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
    dropout_backward,
    dropout_forward,
    flatten_backward,
    flatten_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    linear_backward,
    linear_forward,
    prelu_backward,
    prelu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from coursekit.optimizers import SGD

TOL = dict(rtol=1e-10, atol=1e-12)


def _grads(fn, *arrays, dout_seed=0):
    """Run fn on torch copies of arrays; return (out, dout, grads) with a random dout."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    dout = np.random.default_rng(dout_seed).standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), dout, [t.grad.numpy() for t in ts]


@pytest.mark.parametrize(
    "n, d_in, d_out, bias", [(4, 3, 5, True), (1, 7, 2, False), (6, 1, 1, True)]
)
def test_linear_matches_torch(n, d_in, d_out, bias):
    rng = np.random.default_rng(n)
    x, w, b = (
        rng.standard_normal((n, d_in)),
        rng.standard_normal((d_out, d_in)),
        rng.standard_normal(d_out),
    )
    if bias:
        t_out, dout, (tdx, tdw, tdb) = _grads(F.linear, x, w, b)
    else:
        t_out, dout, (tdx, tdw) = _grads(F.linear, x, w)
    out, cache = linear_forward(x, w, b if bias else None)
    np.testing.assert_allclose(out, t_out, **TOL)
    dx, dw, db = linear_backward(dout, cache)
    np.testing.assert_allclose(dx, tdx, **TOL)
    np.testing.assert_allclose(dw, tdw, **TOL)
    if bias:
        np.testing.assert_allclose(db, tdb, **TOL)
    else:
        assert db is None


def test_linear_weight_is_out_by_in():
    # erratum: for y = A x + b with x in R^N, y in R^M, A is M x N
    layer = Linear(4, 3, rng=0)
    assert layer.params["w"].shape == (3, 4)
    x = np.arange(4.0)
    np.testing.assert_allclose(layer(x[None])[0], layer.params["w"] @ x + layer.params["b"], **TOL)


@pytest.mark.parametrize(
    "fwd, bwd, ref",
    [
        (relu_forward, relu_backward, torch.relu),
        (sigmoid_forward, sigmoid_backward, torch.sigmoid),
        (tanh_forward, tanh_backward, torch.tanh),
        (
            lambda x: leaky_relu_forward(x, 0.2),
            leaky_relu_backward,
            lambda t: F.leaky_relu(t, 0.2),
        ),
    ],
)
def test_elementwise_activations_match_torch(fwd, bwd, ref):
    x = np.random.default_rng(1).standard_normal((3, 4, 2)) * 3
    x[0, 0, 0] = 0.0  # torch's convention for the kink
    t_out, dout, (tdx,) = _grads(ref, x)
    out, cache = fwd(x)
    np.testing.assert_allclose(out, t_out, **TOL)
    np.testing.assert_allclose(bwd(dout, cache), tdx, **TOL)


@pytest.mark.parametrize("shape, n_alpha", [((4, 3), 1), ((2, 3, 4, 5), 3), ((5, 2, 3), 2)])
def test_prelu_matches_torch(shape, n_alpha):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    alpha = rng.uniform(0.0, 0.5, n_alpha)
    t_out, dout, (tdx, tda) = _grads(F.prelu, x, alpha)
    out, cache = prelu_forward(x, alpha)
    np.testing.assert_allclose(out, t_out, **TOL)
    dx, dalpha = prelu_backward(dout, cache)
    np.testing.assert_allclose(dx, tdx, **TOL)
    np.testing.assert_allclose(dalpha, tda, **TOL)
    assert dalpha.shape == alpha.shape


def test_activation_classes_match_functional_and_torch_repr():
    x = np.random.default_rng(3).standard_normal((2, 3))
    for mine, ref in [
        (ReLU(), torch.nn.ReLU()),
        (Sigmoid(), torch.nn.Sigmoid()),
        (Tanh(), torch.nn.Tanh()),
        (LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
        (PReLU(3, init=0.25), torch.nn.PReLU(3, init=0.25).double()),  # 0.25: exact in float32
    ]:
        np.testing.assert_allclose(mine(x), ref(torch.tensor(x)).detach().numpy(), **TOL)
        assert repr(mine) == repr(ref)
        assert mine.backward(np.ones_like(x)).shape == x.shape


def test_prelu_layer_gradcheck():
    layer = PReLU(3, init=0.2)
    x = np.random.default_rng(4).standard_normal((4, 3, 2))
    x[np.abs(x) < 1e-3] = 0.5  # keep finite differences away from the kink
    errors = check_layer(layer, x)
    assert set(errors) == {"x", "alpha"} and max(errors.values()) < 1e-7


def test_linear_layer_gradcheck():
    errors = check_layer(Linear(5, 3, rng=1), np.random.default_rng(5).standard_normal((4, 5)))
    assert set(errors) == {"x", "w", "b"} and max(errors.values()) < 1e-7


def test_flatten_round_trip():
    x = np.random.default_rng(6).standard_normal((2, 3, 4, 5))
    out, cache = flatten_forward(x)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out, torch.flatten(torch.tensor(x), 1).numpy())
    np.testing.assert_array_equal(flatten_backward(out, cache), x)
    layer = Flatten()
    assert layer(x).shape == (2, 60) and layer.backward(out).shape == x.shape
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 60\), got \(2, 59\)"):
        flatten_backward(np.zeros((2, 59)), cache)
    with pytest.raises(ValueError, match=r"x must be at least 2-D \(N, ...\), got 1-D"):
        flatten_forward(np.zeros(3))


def test_dropout_statistics_and_eval_identity():
    x = np.ones((200, 500))
    p = 0.3
    out, mask = dropout_forward(x, p, training=True, rng=0)
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.01  # ~p of the units dropped
    np.testing.assert_allclose(out[kept], 1 / (1 - p), **TOL)  # survivors scaled up
    assert abs(out.mean() - 1.0) < 0.01  # inverted dropout keeps the mean
    dout = np.random.default_rng(7).standard_normal(x.shape)
    np.testing.assert_allclose(dropout_backward(dout, mask), dout * kept / (1 - p), **TOL)
    same, _ = dropout_forward(x, p, training=True, rng=0)
    np.testing.assert_array_equal(same, out)  # seeded
    ev, cache = dropout_forward(x, p, training=False)
    assert ev is x and cache is None

    layer = Dropout(0.5, rng=1)
    y = np.random.default_rng(8).standard_normal((50, 40))
    assert not np.array_equal(layer(y), y)
    layer.eval()
    np.testing.assert_array_equal(layer(y), y)
    np.testing.assert_array_equal(layer.backward(dout[:50, :40]), dout[:50, :40])
    assert repr(layer) == "Dropout(p=0.5)"
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got 1.0"):
        Dropout(1.0)


def _torch_mlp(model: MLP) -> torch.nn.Sequential:
    mods = []
    for layer in model:
        if isinstance(layer, Linear):
            lin = torch.nn.Linear(layer.in_features, layer.out_features).double()
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(layer.params["w"]))
                lin.bias.copy_(torch.tensor(layer.params["b"]))
            mods.append(lin)
        else:
            mods.append({"ReLU": torch.nn.ReLU, "Tanh": torch.nn.Tanh}[type(layer).__name__]())
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_matches_torch_sequential(activation):
    model = MLP([6, 8, 5, 3], activation=activation, rng=0)
    ref = _torch_mlp(model)
    assert repr(model).replace("MLP(", "Sequential(", 1) == repr(ref)
    x = np.random.default_rng(9).standard_normal((7, 6))
    xt = torch.tensor(x, requires_grad=True)
    t_out = ref(xt)
    out = model(x)
    np.testing.assert_allclose(out, t_out.detach().numpy(), **TOL)
    dout = np.random.default_rng(10).standard_normal(out.shape)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(model.backward(dout), xt.grad.numpy(), **TOL)
    linears = [m for m in ref if isinstance(m, torch.nn.Linear)]
    pairs = model.parameters()
    assert len(pairs) == len(linears) == 3
    for (_, grads), lin in zip(pairs, linears, strict=True):
        np.testing.assert_allclose(grads["w"], lin.weight.grad.numpy(), **TOL)
        np.testing.assert_allclose(grads["b"], lin.bias.grad.numpy(), **TOL)
    assert model.num_parameters() == sum(p.numel() for p in ref.parameters())


def test_mlp_structure_and_errors():
    model = MLP((784, 128, 10), rng=0)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert model.num_parameters() == 784 * 128 + 128 + 128 * 10 + 10
    with pytest.raises(ValueError, match="sizes must be a sequence of at least 2"):
        MLP([5])
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP([2, 3], activation="swish")
    with pytest.raises(ValueError, match=r"sizes\[1\] must be an integer >= 1, got 0"):
        MLP([2, 0, 1])


def test_sequential_train_eval_parameters_and_optimizer():
    drop = Dropout(0.5)
    net = Sequential(Linear(3, 4, rng=0), ReLU(), drop, Sequential(Linear(4, 2, rng=1)))
    assert len(net.parameters()) == 2  # one pair per layer with parameters, nested too
    net.eval()
    assert not drop.training and not net[3][0].training
    net.train()
    assert drop.training
    # the pairs are the layers' own dicts, so an optimiser updates the model in place
    net.eval()
    x = np.random.default_rng(11).standard_normal((5, 3))
    out = net(x)
    net.backward(np.ones_like(out))
    w_before = net[0].params["w"].copy()
    SGD(net.parameters(), lr=0.1).step()
    np.testing.assert_allclose(net[0].params["w"], w_before - 0.1 * net[0].grads["w"], **TOL)
    with pytest.raises(TypeError, match=r"layers\[1\] must be a coursekit Layer, got ufunc"):
        Sequential(Linear(2, 2), np.tanh)


def _torch_block(block: ResidualBlock) -> tuple[torch.nn.Module, list]:
    """The same basic block in torch, with the NumPy block's weights."""

    class Block(torch.nn.Module):
        def __init__(self, convs, has_proj):
            super().__init__()
            self.convs = torch.nn.ModuleList(convs)
            self.bns = torch.nn.ModuleList(
                [torch.nn.BatchNorm2d(c.out_channels).double() for c in convs]
            )
            self.has_proj = has_proj

        def forward(self, x):
            h = F.relu(self.bns[0](self.convs[0](x)))
            h = self.bns[1](self.convs[1](h))
            s = self.bns[2](self.convs[2](x)) if self.has_proj else x
            return F.relu(h + s)

    mine = [block.block[0], block.block[3]]
    if block.shortcut is not None:
        mine.append(block.shortcut[0])
    convs = []
    for c in mine:
        t = torch.nn.Conv2d(
            c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, bias=False
        ).double()
        with torch.no_grad():
            t.weight.copy_(torch.tensor(c.params["w"]))
        convs.append(t)
    return Block(convs, block.shortcut is not None), mine


@pytest.mark.parametrize("c_in, c_out, stride", [(3, 3, 1), (2, 4, 2)])
def test_residual_block_matches_torch(c_in, c_out, stride):
    block = ResidualBlock(c_in, c_out, stride, rng=0)
    assert (block.shortcut is None) == (c_in == c_out and stride == 1)
    ref, convs = _torch_block(block)
    x = np.random.default_rng(12).standard_normal((4, c_in, 6, 5))
    xt = torch.tensor(x, requires_grad=True)
    t_out = ref(xt)
    out = block(x)
    assert out.shape == (4, c_out, (6 - 1) // stride + 1, (5 - 1) // stride + 1)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-11)
    dout = np.random.default_rng(13).standard_normal(out.shape)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(block.backward(dout), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for mine, t in zip(convs, ref.convs, strict=True):
        np.testing.assert_allclose(mine.grads["w"], t.weight.grad.numpy(), rtol=1e-9, atol=1e-11)
    # parameters(): 2 convs + 2 BNs in the block (+ conv + BN in the projection)
    assert len(block.parameters()) == (4 if block.shortcut is None else 6)


def test_residual_identity_gradient_adds_the_direct_path():
    lin = Linear(3, 3, rng=2)
    res = Residual(lin, activation=None)
    x = np.random.default_rng(14).standard_normal((2, 3))
    np.testing.assert_allclose(res(x), lin(x) + x, **TOL)
    dout = np.ones((2, 3))
    np.testing.assert_allclose(res.backward(dout), dout @ lin.params["w"] + dout, **TOL)
    errors = check_layer(Residual(Linear(3, 3, rng=3), activation=Tanh()), x)
    assert max(errors.values()) < 1e-7
    with pytest.raises(ValueError, match=r"block output \(2, 4\) and shortcut output \(2, 3\)"):
        Residual(Linear(3, 4))(x)
    with pytest.raises(TypeError, match="block must be a coursekit Layer"):
        Residual(np.tanh)


def test_linear_errors():
    with pytest.raises(ValueError, match=r"x must be 2-D \(N, D_in\)"):
        linear_forward(np.zeros((2, 3, 4)), np.zeros((5, 3)))
    with pytest.raises(
        ValueError, match=r"x has 4 features but w of shape \(5, 3\) expects D_in = 3"
    ):
        linear_forward(np.zeros((2, 4)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"b must have shape \(5,\), got \(3,\)"):
        linear_forward(np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(3))
    _, cache = linear_forward(np.zeros((2, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 5\), got \(3, 5\)"):
        linear_backward(np.zeros((3, 5)), cache)
    with pytest.raises(ValueError, match="dout must have the shape of the layer's output"):
        relu_backward(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="in_features must be an integer >= 1"):
        Linear(2.5, 3)
    with pytest.raises(RuntimeError, match="Linear.backward called before forward"):
        Linear(2, 3).backward(np.zeros((1, 3)))


def test_layer_base_and_astype():
    with pytest.raises(NotImplementedError):
        Layer().forward(np.zeros(1))
    net = MLP([3, 4, 2], rng=0).astype(np.float32)
    out = net(np.ones((2, 3), dtype=np.float32))
    assert out.dtype == np.float32
    assert all(p.dtype == np.float32 for params, _ in net.parameters() for p in params.values())


# --------------------------------------------------------------------------- #
# behaviours a planted bug would otherwise slip through (mutation testing)
# --------------------------------------------------------------------------- #
def test_messages_start_with_the_argument():
    # every message names the argument first: anchored at the start, so a mangled
    # or missing name ("XXxXX must ...", "None must ...") fails
    ok2 = np.zeros((2, 3))
    cases = [
        (TypeError, r"^x must hold real numbers", lambda: linear_forward("a", np.zeros((5, 3)))),
        (TypeError, r"^w must hold real numbers", lambda: linear_forward(ok2, "a")),
        (
            TypeError,
            r"^b must hold real numbers",
            lambda: linear_forward(ok2, np.zeros((5, 3)), "a"),
        ),
        (
            ValueError,
            r"^x must be 2-D \(N, D_in\); use flatten_forward / Flatten for images, got 3-D",
            lambda: linear_forward(np.zeros((2, 3, 4)), np.zeros((5, 3))),
        ),
        (
            ValueError,
            r"^w must be 2-D \(D_out, D_in\), got 1-D",
            lambda: linear_forward(ok2, np.zeros(3)),
        ),
        (
            ValueError,
            r"^x has 4 features but w of shape \(5, 3\) expects D_in = 3 "
            r"\(w must be \(D_out, D_in\)\)$",
            lambda: linear_forward(np.zeros((2, 4)), np.zeros((5, 3))),
        ),
        (
            ValueError,
            r"^b must have shape \(5,\), got \(3,\)$",
            lambda: linear_forward(ok2, np.zeros((5, 3)), np.zeros(3)),
        ),
        (
            TypeError,
            r"^dout must hold real numbers",
            lambda: linear_backward("a", linear_forward(ok2, np.zeros((5, 3)))[1]),
        ),
        (
            ValueError,
            r"^dout must have shape \(2, 5\), got \(3, 5\)$",
            lambda: linear_backward(np.zeros((3, 5)), linear_forward(ok2, np.zeros((5, 3)))[1]),
        ),
        (TypeError, r"^x must hold real numbers", lambda: relu_forward("a")),
        (TypeError, r"^x must hold real numbers", lambda: leaky_relu_forward("a")),
        (TypeError, r"^x must hold real numbers", lambda: prelu_forward("a", np.ones(1))),
        (TypeError, r"^alpha must hold real numbers", lambda: prelu_forward(ok2, "a")),
        (TypeError, r"^x must hold real numbers", lambda: flatten_forward("a")),
        (
            ValueError,
            r"^x must be at least 2-D \(N, \.\.\.\), got 1-D with shape \(3,\)$",
            lambda: flatten_forward(np.zeros(3)),
        ),
        (TypeError, r"^dout must hold real numbers", lambda: flatten_backward("a", (2, 3))),
        (
            ValueError,
            r"^dout must have shape \(2, 60\), got \(2, 59\)$",
            lambda: flatten_backward(np.zeros((2, 59)), (2, 3, 4, 5)),
        ),
        (TypeError, r"^x must hold real numbers", lambda: dropout_forward("a")),
        (ValueError, r"^p must lie in \[0, 1\), got 1.0$", lambda: dropout_forward(ok2, 1.0)),
        (TypeError, r"^training must be a bool, got 1$", lambda: dropout_forward(ok2, 0.5, 1)),
        (TypeError, r"^rng must be None, an int seed", lambda: dropout_forward(ok2, rng="a")),
        (TypeError, r"^dout must hold real numbers", lambda: dropout_backward("a", None)),
        (TypeError, r"^dout must hold real numbers", lambda: dropout_backward("a", np.ones(3))),
        (
            ValueError,
            r"^dout must have the shape of the layer's output \(4,\), got \(3,\)$",
            lambda: relu_backward(np.zeros(3), np.zeros(4)),
        ),
        (TypeError, r"^dout must hold real numbers", lambda: relu_backward("a", np.zeros(4))),
        (
            TypeError,
            r"^in_features must be an integer >= 1, got 2.5 \(float\)$",
            lambda: Linear(2.5, 3),
        ),
        (ValueError, r"^out_features must be an integer >= 1, got 0$", lambda: Linear(2, 0)),
        (TypeError, r"^bias must be a bool, got 1$", lambda: Linear(2, 3, bias=1)),
        (TypeError, r"^rng must be None, an int seed", lambda: Linear(2, 3, rng="a")),
        (TypeError, r"^negative_slope must be a real number, got 'a'$", lambda: LeakyReLU("a")),
        (ValueError, r"^num_parameters must be an integer >= 1, got 0$", lambda: PReLU(0)),
        (ValueError, r"^p must lie in \[0, 1\), got 1.0$", lambda: Dropout(1.0)),
        (TypeError, r"^rng must be None, an int seed", lambda: Dropout(0.5, rng="a")),
        (
            TypeError,
            r"^layers\[1\] must be a coursekit Layer, got ufunc: <ufunc 'tanh'>$",
            lambda: Sequential(Linear(2, 2), np.tanh),
        ),
        (
            TypeError,
            r"^block must be a coursekit Layer, got ufunc$",
            lambda: Residual(np.tanh),
        ),
        (
            TypeError,
            r"^shortcut must be a coursekit Layer, got ufunc$",
            lambda: Residual(ReLU(), shortcut=np.tanh),
        ),
        (
            TypeError,
            r"^activation must be a Layer, an activation name or None, got 5$",
            lambda: Residual(ReLU(), activation=5),
        ),
        (
            ValueError,
            r"^activation must be one of \['relu', 'sigmoid', 'tanh', 'leaky_relu', 'prelu'\], "
            r"got 'swish'$",
            lambda: Residual(ReLU(), activation="swish"),
        ),
        (
            ValueError,
            r"^activation must be one of \['relu', 'sigmoid', 'tanh', 'leaky_relu', 'prelu'\], "
            r"got 'swish'$",
            lambda: MLP([2, 3], activation="swish"),
        ),
        (
            ValueError,
            r"^sizes must be a sequence of at least 2 layer sizes, got \[5\]$",
            lambda: MLP([5]),
        ),
        (
            ValueError,
            r"^sizes must be a sequence of at least 2 layer sizes, got '784'$",
            lambda: MLP("784"),
        ),
        (
            ValueError,
            r"^sizes must be a sequence of at least 2 layer sizes, got b'12'$",
            lambda: MLP(b"12"),
        ),
        (
            ValueError,
            r"^sizes must be a sequence of at least 2 layer sizes, got 5$",
            lambda: MLP(5),
        ),
        (ValueError, r"^sizes\[2\] must be an integer >= 1, got 0$", lambda: MLP([2, 3, 0])),
        (TypeError, r"^rng must be None, an int seed", lambda: MLP([2, 3], rng="a")),
        (
            ValueError,
            r"^block output \(2, 4\) and shortcut output \(2, 3\) must have the same shape; "
            r"use a projection shortcut when the block changes the shape$",
            lambda: Residual(Linear(3, 4))(np.zeros((2, 3))),
        ),
    ]
    for exc, pattern, call in cases:
        with pytest.raises(exc, match=pattern):
            call()


def test_two_d_input_and_a_zero_batch_flatten():
    x = np.arange(12.0).reshape(3, 4)
    out, cache = flatten_forward(x)
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(flatten_backward(out, cache), x)
    out, cache = flatten_forward(np.zeros((0, 3, 4)))
    assert out.shape == (0, 12)
    assert flatten_backward(np.zeros((0, 12)), cache).shape == (0, 3, 4)
    out, _ = flatten_forward(np.arange(6).reshape(2, 3))  # integers become float64
    assert out.dtype == np.float64


def test_float32_stays_float32():
    rng = np.random.default_rng(20)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    out, cache = linear_forward(x, w, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in linear_backward(np.ones((4, 2), np.float32), cache))
    for fwd, bwd in [
        (relu_forward, relu_backward),
        (sigmoid_forward, sigmoid_backward),
        (tanh_forward, tanh_backward),
        (leaky_relu_forward, leaky_relu_backward),
        (flatten_forward, flatten_backward),
    ]:
        out, cache = fwd(x)
        assert out.dtype == np.float32
        assert bwd(np.ones_like(out), cache).dtype == np.float32
    out, mask = dropout_forward(x, 0.5, rng=0)
    assert out.dtype == np.float32 and mask.dtype == np.float32
    # the float32 mask holds exactly 0 or 1 / (1 - p) rounded once
    assert set(np.unique(mask)) <= {np.float32(0.0), np.float32(1 / np.float32(0.5))}
    out, mask = dropout_forward(x, 0.3, rng=0)
    kept = mask != 0
    np.testing.assert_array_equal(out[kept], x[kept] / np.float32(0.7))
    # integer input is computed in float64
    out, cache = relu_forward(np.array([[-1, 2]]))
    assert out.dtype == np.float64 and cache.dtype == np.float64
    out, cache = leaky_relu_forward(np.array([[-1, 2]]))
    assert out.dtype == np.float64 and cache[0].dtype == np.float64
    out, cache = linear_forward(np.array([[1, 2]]), np.array([[1, 1]]), np.array([1]))
    assert out.dtype == np.float64 and cache[0].dtype == np.float64
    np.testing.assert_array_equal(out, [[4.0]])


def test_default_hyper_parameters_are_torch_s():
    x = np.linspace(-2, 2, 9)
    out, cache = leaky_relu_forward(x)
    np.testing.assert_allclose(out, F.leaky_relu(torch.tensor(x)).numpy(), **TOL)
    assert cache[1] == 0.01
    assert repr(LeakyReLU()) == repr(torch.nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert LeakyReLU().negative_slope == 0.01
    prelu_layer = PReLU()
    assert repr(prelu_layer) == repr(torch.nn.PReLU())
    np.testing.assert_array_equal(prelu_layer.params["alpha"], [0.25])
    assert prelu_layer.params["alpha"].dtype == np.float64
    assert PReLU(2, init=1).params["alpha"].dtype == np.float64
    assert Dropout().p == 0.5 and repr(Dropout()) == "Dropout(p=0.5)"
    assert repr(Linear(2, 3, bias=False)) == repr(torch.nn.Linear(2, 3, bias=False))
    assert repr(Linear(2, 3)) == repr(torch.nn.Linear(2, 3))
    # dropout_forward: p = 0.5, training on, by default
    x = np.ones((100, 100))
    out, mask = dropout_forward(x, rng=0)
    assert mask is not None and abs((out == 0).mean() - 0.5) < 0.02
    np.testing.assert_array_equal(out[out != 0], 2.0)
    model = MLP(rng=0)
    assert model.sizes == [784, 128, 10]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert type(Residual(Linear(2, 2)).activation) is ReLU


def test_dropout_p_zero_and_eval_skip_the_mask():
    x = np.random.default_rng(21).standard_normal((3, 4))
    out, cache = dropout_forward(x, 0.0, training=True, rng=0)
    assert out is x and cache is None
    out, cache = dropout_forward(x, 0.5, training=False, rng=0)
    assert out is x and cache is None
    out, cache = dropout_forward(x, 0.5, training=True, rng=0)
    assert cache is not None and cache.shape == x.shape
    dout = np.ones_like(x)
    np.testing.assert_array_equal(dropout_backward(dout, cache), cache)
    assert dropout_backward(dout, None) is dout


def test_dropout_layer_seed_p_and_backward():
    x = np.ones((100, 100))
    a, b = Dropout(0.3, rng=5), Dropout(0.3, rng=5)
    out = a(x)
    np.testing.assert_array_equal(out, b(x))  # seeded
    assert not np.array_equal(a(x), out)  # one stream: the next mask differs
    assert abs((out == 0).mean() - 0.3) < 0.02  # its own p, not the default
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, **TOL)
    dout = np.random.default_rng(22).standard_normal(x.shape)
    a(x)
    mask = a._cache[0]
    np.testing.assert_allclose(a.backward(dout), dout * mask, **TOL)
    shared = np.random.default_rng(9)
    c = Dropout(0.5, rng=shared)
    assert c.rng is shared


def test_linear_init_is_torch_s_uniform_and_seeded():
    layer = Linear(16, 400, rng=0)
    w, b = layer.params["w"], layer.params["b"]
    assert w.shape == (400, 16) and b.shape == (400,)
    for p in (w, b):  # U(-1/sqrt(in), 1/sqrt(in)) = U(-0.25, 0.25), for the bias too
        assert p.dtype == np.float64
        assert -0.25 <= p.min() < -0.24 and 0.24 < p.max() <= 0.25
        assert abs(p.mean()) < 0.02
    same = Linear(16, 400, rng=0)
    np.testing.assert_array_equal(same.params["w"], w)
    np.testing.assert_array_equal(same.params["b"], b)
    assert not np.array_equal(Linear(16, 400, rng=1).params["w"], w)
    gen = np.random.default_rng(0)
    first, second = Linear(16, 400, rng=gen), Linear(16, 400, rng=gen)
    np.testing.assert_array_equal(first.params["w"], w)  # the Generator itself is used
    assert not np.array_equal(second.params["w"], w)  # and its stream goes on


def test_parameter_and_gradient_keys():
    x = np.random.default_rng(23).standard_normal((4, 3))
    layer = Linear(3, 2, rng=0)
    assert set(layer.params) == set(layer.grads) == {"w", "b"}
    assert all(not g.any() and g.shape == layer.params[k].shape for k, g in layer.grads.items())
    layer(x)
    layer.backward(np.ones((4, 2)))
    assert set(layer.grads) == {"w", "b"}
    np.testing.assert_allclose(layer.grads["b"], [4.0, 4.0], **TOL)
    np.testing.assert_allclose(layer.grads["w"], np.ones((4, 2)).T @ x, **TOL)

    no_bias = Linear(3, 2, bias=False, rng=0)
    assert set(no_bias.params) == set(no_bias.grads) == {"w"}
    no_bias(x)
    no_bias.backward(np.ones((4, 2)))
    assert set(no_bias.grads) == {"w"}
    assert no_bias.extra_repr() == "in_features=3, out_features=2, bias=False"

    prelu_layer = PReLU(3)
    assert set(prelu_layer.params) == set(prelu_layer.grads) == {"alpha"}
    prelu_layer(np.ones((2, 3)))
    prelu_layer.backward(np.ones((2, 3)))
    assert set(prelu_layer.grads) == {"alpha"} and prelu_layer.grads["alpha"].shape == (3,)
    for leaf in (ReLU(), Sigmoid(), Tanh(), LeakyReLU(), Flatten(), Dropout()):
        assert leaf.params == {} and leaf.grads == {} and leaf.parameters() == []


def test_backward_before_forward_names_the_layer():
    for layer in (
        Linear(2, 3),
        ReLU(),
        Sigmoid(),
        Tanh(),
        LeakyReLU(),
        PReLU(),
        Flatten(),
        Dropout(),
    ):
        name = type(layer).__name__
        with pytest.raises(RuntimeError, match=rf"^{name}\.backward called before forward"):
            layer.backward(np.zeros((1, 3)))
    drop = Dropout().eval()
    drop(np.ones(3))  # an eval-mode forward caches None, which still counts
    np.testing.assert_array_equal(drop.backward(np.ones(3)), np.ones(3))


def test_every_activation_name_builds_its_layer():
    names = {
        "relu": ReLU,
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "leaky_relu": LeakyReLU,
        "prelu": PReLU,
    }
    for name, cls in names.items():
        model = MLP([2, 3, 4, 2], activation=name, rng=0)
        assert [type(m) for m in model] == [Linear, cls, Linear, cls, Linear]
        assert type(Residual(Linear(2, 2), activation=name).activation) is cls


def test_mlp_is_seeded_and_sequential_has_a_length():
    a, b = MLP([3, 5, 2], rng=4), MLP([3, 5, 2], rng=4)
    for (pa, _), (pb, _) in zip(a.parameters(), b.parameters(), strict=True):
        for k in pa:
            np.testing.assert_array_equal(pa[k], pb[k])
    first, second = a[0].params["w"], a[2].params["w"]
    assert not np.array_equal(first[:2, :2], second[:2, :2])  # one stream, not one seed each
    assert not np.array_equal(MLP([3, 5, 2], rng=5)[0].params["w"], first)
    assert a.sizes == [3, 5, 2] and len(a) == 3 and list(a) == a.layers
    assert len(MLP([2, 3])) == 1 and type(MLP([2, 3])[0]) is Linear
    assert len(Sequential()) == 0


def test_residual_children_with_a_projection_shortcut():
    block, proj = Linear(3, 4, rng=0), Linear(3, 4, rng=1)
    res = Residual(block, shortcut=proj, activation="tanh")
    assert [n for n, _ in res.children()] == ["block", "shortcut", "activation"]
    assert len(res.parameters()) == 2
    assert "(shortcut): Linear(in_features=3, out_features=4, bias=True)" in repr(res)
    res.eval()
    assert not block.training and not proj.training and not res.activation.training
    x = np.random.default_rng(24).standard_normal((2, 3))
    np.testing.assert_allclose(res(x), np.tanh(block(x) + proj(x)), **TOL)
    errors = check_layer(res, x)
    assert max(errors.values()) < 1e-7
    plain = Residual(block, activation=None)
    assert [n for n, _ in plain.children()] == ["block"]
    assert len(plain.parameters()) == 1
