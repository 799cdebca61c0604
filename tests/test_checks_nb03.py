"""The visible checks of notebook 03 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_exercises_nb03 import topological_order_recursive

from coursekit.checks import nb03


# --------------------------------------------------------------------------- reference solutions
def backward_221(x, y, params):
    z2 = params["W2"] @ x + params["b2"]
    a2 = np.tanh(z2)
    y_hat = 1 / (1 + np.exp(-(params["w3"] @ a2 + params["b3"])))
    delta3 = y_hat - y
    delta2 = delta3 * params["w3"] * (1 - a2**2)
    return {"W2": np.outer(delta2, x), "b2": delta2, "w3": delta3 * a2, "b3": float(delta3)}


def linear_tanh_backward(dout, x, w, b):
    dz = dout * (1 - np.tanh(x @ w.T + b) ** 2)
    return dz @ w, dz.T @ x, dz.sum(axis=0)


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def iterative_topological_order(inputs, root):
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((parent, False) for parent in inputs[node])
    return order


# --------------------------------------------------------------------------- references agree with autograd
def _torch_221(x, y, params):
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, dtype=torch.float64)
    y_hat = torch.sigmoid(t["w3"] @ torch.tanh(t["W2"] @ xt + t["b2"]) + t["b3"])
    loss = torch.nn.functional.binary_cross_entropy(
        y_hat, torch.tensor(float(y), dtype=torch.float64)
    )
    loss.backward()
    return {k: v.grad.numpy() for k, v in t.items()}, float(y_hat.detach())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_backward_221_reference_matches_autograd(seed, y):
    rng = np.random.default_rng(seed)
    params = {
        "W2": rng.normal(size=(2, 2)),
        "b2": rng.normal(size=2),
        "w3": rng.normal(size=2),
        "b3": float(rng.normal()),
    }
    x = rng.normal(size=2)
    got = nb03.backward_221_reference(x, y, params)
    want, y_hat = _torch_221(x, y, params)
    for k in params:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-14)
    assert nb03.forward_221(x, params)["y_hat"] == pytest.approx(y_hat, rel=1e-14)


def test_worked_example_numbers():
    ex = nb03.WORKED_EXAMPLE
    f = nb03.forward_221(ex["x"], ex["params"])
    # z2 = W2 x + b2 = (0.5 - 1 + 0.2, 0.25 + 1 - 0.5)
    np.testing.assert_allclose(f["z2"], [-0.3, 0.75], rtol=1e-15)
    np.testing.assert_allclose(f["a2"], np.tanh([-0.3, 0.75]), rtol=1e-15)
    g = nb03.backward_221_reference(ex["x"], ex["y"], ex["params"])
    assert g["b3"] == pytest.approx(f["y_hat"] - 1.0, rel=1e-15)
    # dE/dW2_12 = (y_hat - y) w3_1 (1 - tanh^2 z2_1) x_2, the formula on the slides
    expected_12 = (f["y_hat"] - 1.0) * 1.5 * (1 - np.tanh(-0.3) ** 2) * 2.0
    assert g["W2"][0, 1] == pytest.approx(expected_12, rel=1e-14)


def test_linear_tanh_reference_matches_autograd():
    rng = np.random.default_rng(4)
    dout, x = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    w, b = rng.normal(size=(3, 4)), rng.normal(size=3)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    torch.tanh(xt @ wt.T + bt).backward(torch.tensor(dout))
    got_all = nb03.linear_tanh_backward_reference(dout, x, w, b)
    for got, t in zip(got_all, (xt, wt, bt), strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn", "n"),
    [
        (nb03.check_backward_221, backward_221, 4),
        (nb03.check_linear_tanh_backward, linear_tanh_backward, 3),
        (nb03.check_numerical_gradient, numerical_gradient, 3),
        (nb03.check_iterative_topological_order, iterative_topological_order, 5),
    ],
)
def test_correct_solution_passes(check, fn, n, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n
    assert f"{n}/{n} cases passed" in capsys.readouterr().out


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_backward_221_with_transposed_weight_gradient_fails(capsys):
    def transposed(x, y, params):
        g = backward_221(x, y, params)
        return {**g, "W2": g["W2"].T}

    with pytest.raises(AssertionError, match=r"case 1 \(the worked example\)"):
        nb03.check_backward_221(transposed)
    out = capsys.readouterr().out
    assert "key 'W2'" in out and "np.outer(delta2, x)" not in out  # case 1's hint
    assert "dE/dz3 = y_hat - y" in out


def test_backward_221_ignoring_y_fails_on_the_y0_case(capsys):
    def always_one(x, y, params):
        return backward_221(x, 1.0, params)

    with pytest.raises(AssertionError, match=r"case 2 \(label y = 0\)"):
        nb03.check_backward_221(always_one)
    assert "3/4 cases passed" in capsys.readouterr().out


def test_backward_221_with_tanh_prime_at_the_output_fails(capsys):
    def wrong_derivative(x, y, params):
        g = backward_221(x, y, params)
        a2 = np.tanh(params["W2"] @ x + params["b2"])
        delta2 = g["b2"] / (1 - a2**2) * (1 - np.tanh(a2) ** 2)  # tanh' evaluated at a2
        return {**g, "b2": delta2, "W2": np.outer(delta2, x)}

    with pytest.raises(AssertionError, match="backward_221"):
        nb03.check_backward_221(wrong_derivative)
    assert "key 'W2'" in capsys.readouterr().out


def test_backward_221_missing_key_is_named(capsys):
    def no_bias(x, y, params):
        g = backward_221(x, y, params)
        del g["b3"]
        return g

    with pytest.raises(AssertionError):
        nb03.check_backward_221(no_bias)
    assert "missing key 'b3'" in capsys.readouterr().out


def test_linear_tanh_backward_without_batch_sum_fails(capsys):
    def no_sum(dout, x, w, b):
        dx, dw, _ = linear_tanh_backward(dout, x, w, b)
        return dx, dw, (dout * (1 - np.tanh(x @ w.T + b) ** 2))[0]

    with pytest.raises(AssertionError, match=r"case 2 \(batch of 4, 3 -> 2\)"):
        nb03.check_linear_tanh_backward(no_sum)
    out = capsys.readouterr().out
    assert "item 2:" in out and "db sums dz over the batch axis" in out


def test_linear_tanh_backward_forgetting_tanh_prime_fails(capsys):
    def linear_only(dout, x, w, b):
        return dout @ w, dout.T @ x, dout.sum(axis=0)

    with pytest.raises(AssertionError, match=r"case 1 \(one example, 3 -> 2\)"):
        nb03.check_linear_tanh_backward(linear_only)
    assert "dz = dout * (1 - tanh(z)^2)" in capsys.readouterr().out


def test_linear_tanh_backward_with_wrong_shapes_reports_shape(capsys):
    def transposed_dw(dout, x, w, b):
        dx, dw, db = linear_tanh_backward(dout, x, w, b)
        return dx, dw.T, db

    with pytest.raises(AssertionError):
        nb03.check_linear_tanh_backward(transposed_dw)
    assert (
        "item 1: shape mismatch: expected shape (2, 3), got shape (3, 2)" in capsys.readouterr().out
    )


def test_one_sided_difference_fails(capsys):
    def forward_difference(f, x, h=1e-5):
        grad = np.zeros_like(x)
        f0 = f(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            grad[i] = (f(x) - f0) / h
            x[i] = old
        return grad

    with pytest.raises(AssertionError, match=r"case 1 \(sum of cubes"):
        nb03.check_numerical_gradient(forward_difference)
    assert "only accurate to O(h)" in capsys.readouterr().out


def test_numerical_gradient_that_does_not_restore_x_fails(capsys):
    def no_restore(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            fp = f(x)
            x[i] = old - h
            grad[i] = (fp - f(x)) / (2 * h)
        return grad

    with pytest.raises(AssertionError, match=r"case 1 \(sum of cubes"):
        nb03.check_numerical_gradient(no_restore)
    out = capsys.readouterr().out
    # The gradient is right: the feedback is about x, not about the formula.
    assert "x was changed by your function" in out and "set x[i] = old" in out
    assert "one-sided" not in out and "gradient entries differ" not in out


def test_one_sided_difference_feedback_is_about_the_formula_not_x(capsys):
    def forward_difference(f, x, h=1e-5):
        grad = np.zeros_like(x)
        f0 = f(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            grad[i] = (f(x) - f0) / h
            x[i] = old
        return grad

    with pytest.raises(AssertionError):
        nb03.check_numerical_gradient(forward_difference)
    out = capsys.readouterr().out
    assert "gradient entries differ" in out and "x was changed" not in out


def test_numerical_gradient_ignoring_h_fails_on_the_h_case(capsys):
    def fixed_h(f, x, h):
        return numerical_gradient(f, x, 1e-2)

    with pytest.raises(AssertionError, match=r"case 1"):
        nb03.check_numerical_gradient(fixed_h)
    capsys.readouterr()


def test_numerical_gradient_on_flat_arrays_only_fails_on_2d(capsys):
    def flat_only(f, x, h):
        grad = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            e = np.zeros_like(x)
            e[i] = h
            grad[i] = (f(x + e) - f(x - e)) / (2 * h)
        return grad

    with pytest.raises(AssertionError, match=r"case 2 \(x sin x, x of shape \(2, 3\)\)"):
        nb03.check_numerical_gradient(flat_only)
    assert "np.ndindex" in capsys.readouterr().out


# --------------------------------------------------------------------------- exercise 4
SECTION_1 = {"f": ["q", "z"], "q": ["x", "y"], "x": [], "y": [], "z": []}


def test_topological_order_reference_is_valid_and_visits_only_what_root_needs():
    order = nb03.topological_order_reference(SECTION_1, "f")
    assert order[-1] == "f" and sorted(order) == ["f", "q", "x", "y", "z"]
    assert nb03.order_problem(order, SECTION_1, "f") == ""
    assert nb03.topological_order_reference({"a": [], "b": ["a"], "c": ["a"]}, "b") == ["a", "b"]
    deep = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(20_000)}
    assert nb03.topological_order_reference(deep, "n19999")[0] == "n0"


@pytest.mark.parametrize(
    ("got", "advice"),
    [
        (["x", "y", "q", "z", "f"], ""),
        (["z", "y", "x", "q", "f"], ""),  # any valid order
        (("x", "y", "q", "z", "f"), "return a list of node names"),
        (["x", "x", "y", "q", "z", "f"], "'x' appears 2 times"),
        (["x", "y", "q", "z", "f", "w"], "'f' does not depend on 'w'"),
        (["x", "q", "z", "f"], "'f' depends on 'y', which is missing"),
        (["f", "q", "z", "x", "y"], "'f' comes before its input 'q'"),
    ],
)
def test_order_problem_names_what_is_wrong(got, advice):
    problem = nb03.order_problem(got, SECTION_1, "f")
    assert problem.startswith(advice) if advice else problem == ""


def test_recursive_topological_order_fails_on_the_deep_chain(capsys):
    recursive = topological_order_recursive
    with pytest.raises(AssertionError, match=r"case 5 \(a chain of 5000 nodes\)"):
        nb03.check_iterative_topological_order(recursive)
    out = capsys.readouterr().out
    assert "4/5 cases passed" in out and "RecursionError" in out and "own stack" in out


def test_topological_order_without_visited_set_lists_a_shared_node_twice(capsys):
    def no_visited(inputs, root):
        order, stack = [], [(root, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            else:
                stack.append((node, True))
                stack.extend((parent, False) for parent in inputs[node])
        return order

    with pytest.raises(AssertionError, match=r"case 2 \(g = x y \+ x, x used twice\)"):
        nb03.check_iterative_topological_order(no_visited)
    out = capsys.readouterr().out
    assert "'x' appears 2 times" in out and "in a set" in out


def test_topological_order_of_every_key_is_told_to_start_from_root(capsys):
    def every_key(inputs, root):
        order = iterative_topological_order({**inputs, "__all__": list(inputs)}, "__all__")
        return order[:-1]

    with pytest.raises(AssertionError, match=r"case 3 \(a node out does not depend on\)"):
        nb03.check_iterative_topological_order(every_key)
    assert "'out' does not depend on 'd'" in capsys.readouterr().out


def test_topological_order_in_preorder_is_told_to_append_after_the_inputs(capsys):
    def preorder(inputs, root):
        order, visited, stack = [], set(), [root]
        while stack:
            node = stack.pop()
            if node not in visited:
                visited.add(node)
                order.append(node)
                stack.extend(inputs[node])
        return order

    with pytest.raises(AssertionError, match=r"case 1 \(f = \(x \+ y\) z\)"):
        nb03.check_iterative_topological_order(preorder)
    assert "'f' comes before its input" in capsys.readouterr().out
