"""The visible checks of notebook 01 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import nb01


# --- reference solutions
def softmax_rows(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def bce_with_logits(z, y):
    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def cross_entropy_and_grad(logits, y):
    logits = np.asarray(logits, dtype=float)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    grad = np.exp(log_p)
    grad[np.arange(n), y] -= 1.0
    return float(-log_p[np.arange(n), y].mean()), grad / n


# --- the references agree with torch
def test_reference_solutions_agree_with_torch():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 4)) * 30
    y = rng.integers(0, 4, size=6)
    torch_sm = F.softmax(torch.tensor(z), dim=1).numpy()
    np.testing.assert_allclose(softmax_rows(z), torch_sm, rtol=1e-12, atol=1e-15)

    zb, yb = rng.normal(size=7) * 20, rng.integers(0, 2, size=7).astype(float)
    torch_bce = F.binary_cross_entropy_with_logits(torch.tensor(zb), torch.tensor(yb)).item()
    assert bce_with_logits(zb, yb) == pytest.approx(torch_bce, rel=1e-12)

    zt = torch.tensor(z, requires_grad=True)
    loss_t = F.cross_entropy(zt, torch.tensor(y))
    loss_t.backward()
    loss, grad = cross_entropy_and_grad(z, y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn", "n_cases"),
    [
        (nb01.check_softmax_rows, softmax_rows, 5),
        (nb01.check_bce_with_logits, bce_with_logits, 4),
        (nb01.check_cross_entropy_and_grad, cross_entropy_and_grad, 4),
    ],
)
def test_correct_solution_passes(check, fn, n_cases, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n_cases
    assert f"{n_cases}/{n_cases} cases passed" in capsys.readouterr().out


# --- not attempted


# --- wrong answers get specific feedback
def test_naive_softmax_fails_on_large_logits(capsys):
    def naive(z):
        e = np.exp(np.asarray(z, dtype=float))
        return e / e.sum(axis=1, keepdims=True)

    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(AssertionError, match=r"case 3 \(large logits\) failed"):
            nb01.check_softmax_rows(naive)
    out = capsys.readouterr().out
    assert "subtract the row's maximum" in out
    assert "got:" in out and "nan" in out


def test_global_max_softmax_fails_on_rows_of_different_scale(capsys):
    def global_max(z):
        z = np.asarray(z, dtype=float)
        e = np.exp(z - z.max())
        return e / e.sum(axis=1, keepdims=True)

    with np.errstate(invalid="ignore"):
        with pytest.raises(AssertionError, match="rows on very different scales"):
            nb01.check_softmax_rows(global_max)
    assert "not the maximum of the whole array" in capsys.readouterr().out


def test_softmax_over_the_wrong_axis_fails(capsys):
    def wrong_axis(z):
        z = np.asarray(z, dtype=float)
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    with pytest.raises(AssertionError, match=r"case 1 \(two equal logits\) failed"):
        nb01.check_softmax_rows(wrong_axis)
    assert "values differ" in capsys.readouterr().out


def test_naive_bce_fails_on_large_logits(capsys):
    def naive(z, y):
        p = 1 / (1 + np.exp(-np.asarray(z, dtype=float)))
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        with pytest.raises(AssertionError, match="large logits"):
            nb01.check_bce_with_logits(naive)
    assert "never exponentiate a large positive number" in capsys.readouterr().out


def test_bce_returning_per_example_losses_is_told_to_average(capsys):
    def no_mean(z, y):
        z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
        return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))

    with pytest.raises(AssertionError, match="bce_with_logits"):
        nb01.check_bce_with_logits(no_mean)
    out = capsys.readouterr().out
    # Case 1 has one example, so the array has shape (1,): not a scalar.
    assert "expected a scalar number, got an array of shape (1,)" in out


def test_bce_with_flipped_label_term_fails(capsys):
    def flipped(z, y):
        z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
        return float(np.mean(np.maximum(z, 0) + z * y + np.log1p(np.exp(-np.abs(z)))))

    with pytest.raises(AssertionError, match=r"case 2 \(worked example\)"):
        nb01.check_bce_with_logits(flipped)
    assert "values differ by" in capsys.readouterr().out


def test_cross_entropy_without_dividing_by_n_fails(capsys):
    def no_divide(logits, y):
        loss, grad = cross_entropy_and_grad(logits, y)
        return loss, grad * len(y)

    with pytest.raises(AssertionError, match=r"case 1 \(uniform logits\)"):
        nb01.check_cross_entropy_and_grad(no_divide)
    out = capsys.readouterr().out
    assert "item 1:" in out and "(1/3 - one_hot) / N" in out


def test_cross_entropy_returning_a_list_is_told_to_return_a_tuple(capsys):
    def as_list(logits, y):
        return list(cross_entropy_and_grad(logits, y))

    with pytest.raises(AssertionError, match="cross_entropy_and_grad"):
        nb01.check_cross_entropy_and_grad(as_list)
    assert "expected a tuple, got list" in capsys.readouterr().out


def test_unstable_cross_entropy_fails_on_large_logits(capsys):
    def unstable(logits, y):
        logits = np.asarray(logits, dtype=float)
        n = len(y)
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        grad = p.copy()
        grad[np.arange(n), y] -= 1
        return float(-np.log(p[np.arange(n), y]).mean()), grad / n

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        with pytest.raises(AssertionError, match=r"case 4 \(large logits\)"):
            nb01.check_cross_entropy_and_grad(unstable)
    assert "shifted = z - row max" in capsys.readouterr().out
