"""The visible checks of notebook 05 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit.checks import nb05


# --------------------------------------------------------------------------- reference solutions
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def inverted_dropout(x, p, u, training=True):
    if not training:
        return x
    return x * (u >= p) / (1 - p)


def early_stopping(val_losses, patience):
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad == patience:
                return best_epoch, epoch + 1
    return best_epoch, len(val_losses)


# --------------------------------------------------------------------------- the references are right
def test_batchnorm_reference_matches_torch_training_mode():
    rng = np.random.default_rng(0)
    x, gamma, beta = rng.normal(2, 3, size=(7, 4)), rng.normal(size=4), rng.normal(size=4)
    want = F.batch_norm(
        torch.tensor(x),
        None,
        None,
        torch.tensor(gamma),
        torch.tensor(beta),
        training=True,
        eps=0.01,
    )
    np.testing.assert_allclose(batchnorm_forward(x, gamma, beta, 0.01), want.numpy(), rtol=1e-12)


def test_torch_dropout_keeps_zero_or_scaled_values():
    torch.manual_seed(0)
    x = torch.ones(10_000, dtype=torch.float64)
    out = F.dropout(x, p=0.25, training=True)
    assert set(out.unique().tolist()) == {0.0, 4 / 3}
    assert abs(out.mean().item() - 1.0) < 0.03
    assert torch.equal(F.dropout(x, p=0.25, training=False), x)


def test_inverted_dropout_preserves_the_mean():
    rng = np.random.default_rng(1)
    x, u = np.full(200_000, 2.0), rng.random(200_000)
    assert abs(inverted_dropout(x, 0.3, u).mean() - 2.0) < 0.02


def test_early_stopping_reference_agrees_with_the_notebook_solution():
    rng = np.random.default_rng(2)
    for _ in range(200):
        losses = list(np.round(rng.random(rng.integers(1, 12)), 1))
        patience = int(rng.integers(1, 4))
        assert nb05.early_stopping_reference(losses, patience) == early_stopping(losses, patience)


# --------------------------------------------------------------------------- correct answers pass
CHECKS = [
    (nb05.check_batchnorm_forward, batchnorm_forward, 4),
    (nb05.check_inverted_dropout, inverted_dropout, 4),
    (nb05.check_early_stopping, early_stopping, 5),
]


@pytest.mark.parametrize(("check", "fn", "n"), CHECKS)
def test_correct_solution_passes(check, fn, n, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n
    assert f"{n}/{n} cases passed" in capsys.readouterr().out


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_unbiased_variance_is_caught(capsys):
    def unbiased(x, gamma, beta, eps=1e-5):
        return gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta

    with pytest.raises(AssertionError, match=r"case 1 \(two values, one feature\)"):
        nb05.check_batchnorm_forward(unbiased)
    assert "divide by K = 2, not K - 1" in capsys.readouterr().out


def test_manchester_normaliser_std_plus_eps_is_caught(capsys):
    def std_plus_eps(x, gamma, beta, eps=1e-5):
        return gamma * (x - x.mean(0)) / (x.std(0) + eps) + beta

    with pytest.raises(AssertionError, match=r"case 3 \(eps inside the square root\)"):
        nb05.check_batchnorm_forward(std_plus_eps)
    out = capsys.readouterr().out
    assert "3/4 cases passed" in out and "sqrt(var + eps)" in out


def test_statistics_over_the_wrong_axis_are_caught(capsys):
    def per_example(x, gamma, beta, eps=1e-5):
        mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
        return gamma * (x - mu) / np.sqrt(var + eps) + beta

    with pytest.raises(AssertionError, match=r"case 1 \(two values, one feature\)"):
        nb05.check_batchnorm_forward(per_example)
    out = capsys.readouterr().out
    assert "axis 0, over the K examples" in out and "got:      array(shape=(2, 1)" in out


def test_dropout_without_scaling_is_caught(capsys):
    def unscaled(x, p, u, training=True):
        return x * (u >= p) if training else x

    with pytest.raises(AssertionError, match=r"case 1 \(training, p = 0.5\)"):
        nb05.check_inverted_dropout(unscaled)
    out = capsys.readouterr().out
    assert "1 / (1 - p) = 2" in out and "values differ" in out


def test_dropout_active_in_eval_mode_is_caught(capsys):
    def always_on(x, p, u, training=True):
        return x * (u >= p) / (1 - p)

    with pytest.raises(AssertionError, match=r"case 3 \(evaluation mode\)"):
        nb05.check_inverted_dropout(always_on)
    assert "identity" in capsys.readouterr().out


def test_dropout_keeping_the_wrong_units_is_caught(capsys):
    def inverted_mask(x, p, u, training=True):
        return x * (u < p) / (1 - p) if training else x

    with pytest.raises(AssertionError, match="inverted_dropout"):
        nb05.check_inverted_dropout(inverted_mask)
    assert "keep a unit where u >= p" in capsys.readouterr().out


def test_early_stopping_returning_the_stop_epoch_index_is_caught(capsys):
    def off_by_one(val_losses, patience):
        best_epoch, run = early_stopping(val_losses, patience)
        return best_epoch, run - 1

    with pytest.raises(AssertionError, match=r"case 1 \(stops after 3 bad epochs\)"):
        nb05.check_early_stopping(off_by_one)
    out = capsys.readouterr().out
    assert "expected: (2, 6)" in out and "got:      (2, 5)" in out


def test_early_stopping_counting_ties_as_improvements_is_caught(capsys):
    def ties_improve(val_losses, patience):
        best, best_epoch, bad = float("inf"), 0, 0
        for epoch, loss in enumerate(val_losses):
            if loss <= best:
                best, best_epoch, bad = loss, epoch, 0
            else:
                bad += 1
                if bad == patience:
                    return best_epoch, epoch + 1
        return best_epoch, len(val_losses)

    with pytest.raises(AssertionError, match=r"case 3 \(a tie is not an improvement\)"):
        nb05.check_early_stopping(ties_improve)
    assert "strictly lower" in capsys.readouterr().out


def test_early_stopping_without_reset_is_caught(capsys):
    def no_reset(val_losses, patience):
        best, best_epoch, bad = float("inf"), 0, 0
        for epoch, loss in enumerate(val_losses):
            if loss < best:
                best, best_epoch = loss, epoch
            else:
                bad += 1
                if bad == patience:
                    return best_epoch, epoch + 1
        return best_epoch, len(val_losses)

    with pytest.raises(AssertionError, match=r"case 5 \(the counter resets\)"):
        nb05.check_early_stopping(no_reset)
    assert "reset the count" in capsys.readouterr().out
