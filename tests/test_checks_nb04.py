"""The visible checks of notebook 04 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import nb04


# --------------------------------------------------------------------------- reference solutions
def collapse_linear(W1, b1, W2, b2):
    return W2 @ W1, W2 @ b1 + b2


def xor_weights():
    return {
        "W1": np.array([[1.0, 1.0], [1.0, 1.0]]),
        "b1": np.array([0.0, -1.0]),
        "w2": np.array([1.0, -2.0]),
        "b2": 0.0,
    }


def mlp_loss_and_grads(X, y, params):
    Z1 = X @ params["W1"].T + params["b1"]
    A1 = np.maximum(Z1, 0)
    logits = A1 @ params["W2"].T + params["b2"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -np.mean(log_p[np.arange(n), y])
    d = np.exp(log_p)
    d[np.arange(n), y] -= 1
    d /= n
    dZ1 = (d @ params["W2"]) * (Z1 > 0)
    grads = {"W1": dZ1.T @ X, "b1": dZ1.sum(0), "W2": d.T @ A1, "b2": d.sum(0)}
    return float(loss), grads


def count_mlp_params(sizes):
    return sum(n * m + m for n, m in zip(sizes[:-1], sizes[1:], strict=True))


# --------------------------------------------------------------------------- references agree with torch
def test_collapsed_linear_layers_match_torch():
    torch.manual_seed(0)
    first, second = torch.nn.Linear(3, 4).double(), torch.nn.Linear(4, 2).double()
    W, b = collapse_linear(
        *(p.detach().numpy() for p in (first.weight, first.bias, second.weight, second.bias))
    )
    x = torch.randn(5, 3, dtype=torch.float64)
    np.testing.assert_allclose(
        x.numpy() @ W.T + b, second(first(x)).detach().numpy(), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_mlp_reference_matches_autograd(seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(7, 5)), rng.integers(0, 3, size=7)
    params = {
        "W1": rng.normal(size=(4, 5)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(3, 4)),
        "b2": rng.normal(size=3),
    }
    loss, grads = nb04.mlp_loss_and_grads_reference(X, y, params)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    logits = torch.relu(torch.tensor(X) @ t["W1"].T + t["b1"]) @ t["W2"].T + t["b2"]
    loss_t = F.cross_entropy(logits, torch.tensor(y))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-13)
    for k in params:
        np.testing.assert_allclose(grads[k], t[k].grad.numpy(), rtol=1e-12, atol=1e-14)


def test_mlp_reference_is_finite_for_huge_logits():
    rng = np.random.default_rng(2)
    params = {k: 1e3 * rng.normal(size=s) for k, s in
              [("W1", (3, 2)), ("b1", (3,)), ("W2", (2, 3)), ("b2", (2,))]}  # fmt: skip
    loss, grads = nb04.mlp_loss_and_grads_reference(
        rng.normal(size=(4, 2)), np.arange(4) % 2, params
    )
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_relu_net_221_computes_the_network():
    p = {"W1": np.eye(2), "b1": np.array([0.0, -0.5]), "w2": np.array([2.0, 3.0]), "b2": 1.0}
    X = np.array([[1.0, 2.0], [-1.0, 0.25]])
    np.testing.assert_allclose(nb04.relu_net_221(p, X), [1 + 2 + 3 * 1.5, 1.0], rtol=1e-15)


def test_relu_net_221_rejects_wrong_shapes():
    p = xor_weights()
    p["W1"] = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \(2, 2\), got \(3, 2\)"):
        nb04.relu_net_221(p)
    with pytest.raises(ValueError, match="must have the key 'b2'"):
        nb04.relu_net_221({k: v for k, v in xor_weights().items() if k != "b2"})
    with pytest.raises(TypeError, match="params must be a dict"):
        nb04.relu_net_221([1, 2])


def test_parameter_counts_match_torch_models():
    for sizes in [(2, 2, 1), (784, 128, 10), (3, 5, 5, 5, 2)]:
        layers = [torch.nn.Linear(n, m) for n, m in zip(sizes[:-1], sizes[1:], strict=True)]
        assert count_mlp_params(sizes) == sum(p.numel() for lin in layers for p in lin.parameters())


# --------------------------------------------------------------------------- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn", "n"),
    [
        (nb04.check_collapse_linear, collapse_linear, 3),
        (nb04.check_xor_weights, xor_weights, 1),
        (nb04.check_mlp_loss_and_grads, mlp_loss_and_grads, 3),
        (nb04.check_count_mlp_params, count_mlp_params, 4),
    ],
)
def test_correct_solution_passes(check, fn, n, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n
    assert f"{n}/{n} cases passed" in capsys.readouterr().out


def test_another_xor_solution_passes(capsys):
    def other():
        # relu(x1 - x2) + relu(x2 - x1) = |x1 - x2|
        return {"W1": np.array([[1.0, -1.0], [-1.0, 1.0]]), "b1": np.zeros(2),
                "w2": np.ones(2), "b2": 0.0}  # fmt: skip

    assert nb04.check_xor_weights(other).passed
    capsys.readouterr()


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_collapse_in_the_wrong_order_fails_on_the_first_non_square_case(capsys):
    def wrong_order(W1, b1, W2, b2):
        return W1 @ W2, W2 @ b1 + b2

    with pytest.raises(AssertionError, match=r"case 1 \(2 -> 2 -> 2\)"):
        nb04.check_collapse_linear(wrong_order)
    out = capsys.readouterr().out
    assert "item 0:" in out and "expand W2 (W1 x + b1) + b2" in out


def test_collapse_forgetting_the_first_bias_fails(capsys):
    def no_b1(W1, b1, W2, b2):
        return W2 @ W1, b2

    with pytest.raises(AssertionError):
        nb04.check_collapse_linear(no_b1)
    assert "item 1:" in capsys.readouterr().out


def test_linear_xor_attempt_fails_with_the_hint(capsys):
    def linear():
        # relu never switches off here, so the network is linear and cannot compute XOR
        return {"W1": np.eye(2), "b1": np.ones(2), "w2": np.array([0.5, 0.5]), "b2": -1.0}

    with pytest.raises(AssertionError, match="xor_weights"):
        nb04.check_xor_weights(linear)
    out = capsys.readouterr().out
    assert "values differ" in out and "relu(x1 + x2 - 1)" in out


def test_xor_with_wrong_shapes_is_explained(capsys):
    def flat():
        return {"W1": np.ones(4), "b1": np.zeros(2), "w2": np.ones(2), "b2": 0.0}

    with pytest.raises(AssertionError):
        nb04.check_xor_weights(flat)
    assert "params['W1'] must have shape (2, 2), got (4,)" in capsys.readouterr().out


def test_mlp_loss_summed_instead_of_averaged_fails_on_the_batch(capsys):
    def summed(X, y, params):
        loss, grads = mlp_loss_and_grads(X, y, params)
        return loss * len(y), {k: g * len(y) for k, g in grads.items()}

    with pytest.raises(AssertionError, match=r"case 2 \(batch of 6\)"):
        nb04.check_mlp_loss_and_grads(summed)
    assert "divided by N" in capsys.readouterr().out


def test_mlp_without_relu_mask_fails(capsys):
    def no_mask(X, y, params):
        loss, grads = mlp_loss_and_grads(X, y, params)
        A1 = np.maximum(X @ params["W1"].T + params["b1"], 0)
        logits = A1 @ params["W2"].T + params["b2"]
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        dZ1 = (p / len(y)) @ params["W2"]  # forgot * (Z1 > 0)
        return loss, {**grads, "W1": dZ1.T @ X, "b1": dZ1.sum(0)}

    with pytest.raises(AssertionError, match="mlp_loss_and_grads"):
        nb04.check_mlp_loss_and_grads(no_mask)
    assert "key 'W1'" in capsys.readouterr().out


def test_mlp_naive_softmax_overflows_on_large_logits(capsys):
    def naive(X, y, params):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = np.maximum(Z1, 0)
        logits = A1 @ params["W2"].T + params["b2"]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            loss = float(-np.mean(np.log(p[np.arange(len(y)), y])))
        _, grads = mlp_loss_and_grads(X, y, params)
        return loss, grads

    with pytest.raises(AssertionError, match=r"case 3 \(large logits\)"):
        nb04.check_mlp_loss_and_grads(naive)
    assert "exp of raw logits overflows" in capsys.readouterr().out


def test_count_without_biases_fails(capsys):
    def weights_only(sizes):
        return sum(n * m for n, m in zip(sizes[:-1], sizes[1:], strict=True))

    with pytest.raises(AssertionError, match=r"case 1 \(the 2-2-1 network\)"):
        nb04.check_count_mlp_params(weights_only)
    assert "m biases" in capsys.readouterr().out


def test_count_returning_a_float_fails(capsys):
    def as_float(sizes):
        return float(count_mlp_params(sizes))

    with pytest.raises(AssertionError):
        nb04.check_count_mlp_params(as_float)
    assert "expected an integer, got float" in capsys.readouterr().out
