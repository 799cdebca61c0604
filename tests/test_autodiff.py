"""The scalar autodiff engine against torch autograd."""

import math

import numpy as np
import pytest
import torch

from coursekit.autodiff import Value, describe_graph, draw_graph, topo_order


def _expr(a, b, c):
    """Uses every operation; works unchanged on Values and on torch scalars."""
    d = a * b + 3.0 - c / 2.0
    e = (d**2).tanh() + (a - b).sigmoid() * c.exp()
    f = (e + 1.5).log() - (-b).relu() + 2.0 / (1.0 + c**2) - 1.0 * a
    g = 4.0 - f * a + (b * 0.5) ** 3 + (d + a).relu() / 3.0
    return g * e + d  # a, b, c and d reach the output along several paths


def _grads_torch(fn, *vals):
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals]
    out = fn(*ts)
    out.backward()
    return out.item(), [t.grad.item() for t in ts]


@pytest.mark.parametrize("seed", range(6))
def test_random_expression_matches_torch(seed):
    vals = np.random.default_rng(seed).uniform(-2, 2, 3).tolist()
    leaves = [Value(v) for v in vals]
    out = _expr(*leaves)
    out.backward()
    value, grads = _grads_torch(_expr, *vals)
    assert out.data == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose([v.grad for v in leaves], grads, rtol=1e-10, atol=1e-12)


def _network(x1, x2, w11, w12, w21, w22, b21, b22, w31, w32, b3, y):
    """The 2-2-1 network of notebook 03: tanh hidden layer, sigmoid output, BCE loss."""
    a21 = (w11 * x1 + w12 * x2 + b21).tanh()
    a22 = (w21 * x1 + w22 * x2 + b22).tanh()
    z3 = w31 * a21 + w32 * a22 + b3
    y_hat = z3.sigmoid()
    loss = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log())
    return loss, (a21, a22, z3, y_hat)


def test_two_two_one_network_matches_torch_and_hand_formulas():
    x = [0.5, -1.2]
    w = [0.3, -0.4, 0.8, 0.2, 0.1, -0.3, 0.7, -0.5, 0.05]
    y = 1.0
    params = [Value(v) for v in w]
    loss, (a21, a22, z3, y_hat) = _network(*x, *params, y)
    loss.backward()

    def torch_loss(*ps):
        return _network(*x, *ps, y)[0]

    value, grads = _grads_torch(torch_loss, *w)
    assert loss.data == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose([p.grad for p in params], grads, rtol=1e-10, atol=1e-14)

    # The hand-derived formulas of the worked example.
    w11, w12, w21, w22, b21, b22, w31, w32, b3 = params
    assert z3.grad == pytest.approx(y_hat.data - y)  # dE/dz3 = y_hat - y
    assert w31.grad == pytest.approx((y_hat.data - y) * a21.data)  # dE/dw3_1
    # dE/dW2_12 = (y_hat - y) w3_1 (1 - tanh^2 z2_1) x_2
    assert w12.grad == pytest.approx((y_hat.data - y) * w31.data * (1 - a21.data**2) * x[1])


def test_backward_twice_gives_the_same_gradients():
    a, b = Value(1.5), Value(-0.7)
    out = (a * b + a).tanh() * a  # a is used three times
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == first
    _, grads = _grads_torch(lambda p, q: (p * q + p).tanh() * p, 1.5, -0.7)
    np.testing.assert_allclose(first, grads, rtol=1e-12)


def test_same_node_used_twice_accumulates():
    a = Value(3.0)
    b = a + a  # d b / d a = 2, not 1: the two contributions must add up
    b.backward()
    assert a.grad == 2.0
    c = a * a
    c.backward()
    assert a.grad == 6.0


def test_relu_gradient_at_zero_and_stable_sigmoid():
    z = Value(0.0)
    z.relu().backward()
    assert z.grad == 0.0
    big = Value(-1000.0)
    s = big.sigmoid()
    s.backward()
    assert s.data == pytest.approx(math.exp(-1000.0)) and big.grad == pytest.approx(0.0)


def test_topo_order_puts_inputs_first():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b
    d = c + a
    order = topo_order(d)
    assert order[-1] is d and len(order) == 4
    pos = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for child in node._prev:
            assert pos[id(child)] < pos[id(node)]


def test_topo_order_handles_deep_graphs():
    x = Value(0.5)
    y = x
    for _ in range(5000):  # deeper than Python's default recursion limit
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


def test_describe_graph_lists_data_and_grad():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    c.backward()
    text = describe_graph(c)
    lines = text.splitlines()
    assert len(lines) == 3
    assert "(c)" in lines[-1] and "n0 * n1" in lines[-1] and "data=-6" in lines[-1]
    assert "(a)" in lines[0] and "grad=-3" in lines[0]
    assert "(b)" in lines[1] and "grad= 2" in lines[1]


def test_errors():
    with pytest.raises(TypeError, match="data must be a real number, got 'x'"):
        Value("x")
    with pytest.raises(TypeError, match="exponent must be an int or float"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="log needs a positive value, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="root must be a Value"):
        topo_order(3.0)


@pytest.mark.parametrize(
    "x, k",
    [
        (0.0, 0),
        (0.0, 1),
        (0.0, 2),
        (0.0, 0.5),
        (0.0, -1),
        (-0.0, -1),
        (0.0, -2),
        (-2.0, 3),
        (10.0, 1000),
        (-10.0, 1001),
        (2.0, -0.5),
    ],
)
def test_power_edge_cases_match_torch(x, k):
    v = Value(x)
    out = v**k
    out.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ref = t**k
    ref.backward()
    np.testing.assert_allclose([out.data, v.grad], [ref.item(), t.grad.item()], rtol=1e-15)


def test_polynomial_at_zero_matches_torch():
    """sum(w_k * x**k) at x = 0: the x**0 term must not evaluate 0.0 ** -1."""
    ws = [0.5, -1.0, 2.0, 3.0]
    x, w = Value(0.0), [Value(wk) for wk in ws]
    out = sum((wk * x**k for k, wk in enumerate(w)), Value(0.0))
    out.backward()
    tx = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(ws, dtype=torch.float64, requires_grad=True)
    ref = sum(tw[k] * tx**k for k in range(len(ws)))
    ref.backward()
    assert out.data == ref.item() == 0.5
    assert x.grad == tx.grad.item() == -1.0
    np.testing.assert_equal([wk.grad for wk in w], tw.grad.numpy())


def test_division_by_zero_and_overflow_give_inf_like_torch():
    a, b = Value(1.0), Value(0.0)
    q = a / b
    q.backward()
    ta = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    tq = ta / tb
    tq.backward()
    assert [q.data, a.grad, b.grad] == [tq.item(), ta.grad.item(), tb.grad.item()]
    e = Value(1000.0)
    big = e.exp()
    big.backward()
    assert big.data == e.grad == torch.tensor(1000.0, dtype=torch.float64).exp().item() == math.inf


def test_negative_base_with_fractional_exponent_is_a_clear_error():
    # Python would give a complex number (torch: nan); say which value and exponent
    with pytest.raises(ValueError, match="exponent 0.5 of a negative value -4.0 has no real"):
        Value(-4) ** 0.5
    assert (Value(-4) ** 2).data == 16.0


def test_draw_graph_draws_every_node_and_edge_left_to_right():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Annotation

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = (a * b + a).tanh()
    c.backward()
    fig, ax = plt.subplots()
    assert draw_graph(c, ax=ax) is ax
    order = topo_order(c)
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    boxes = [t for t in ax.texts if not isinstance(t, Annotation)]
    assert len(arrows) == sum(len(node._prev) for node in order)
    assert len(boxes) == len(order)
    x_of = {t.get_text().split("\n")[0]: t.get_position()[0] for t in boxes}
    # inputs left of the operations that use them, the result rightmost
    assert x_of["a"] < x_of["*"] < x_of["+"] < x_of["tanh"]
    assert x_of["b"] == x_of["*"] - 1
    tanh_box = next(t.get_text() for t in boxes if t.get_text().startswith("tanh"))
    assert tanh_box == f"tanh\n{c.data:.3g}\ng 1"
    plt.close(fig)
