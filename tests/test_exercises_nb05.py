"""The graded exercises of notebook 05: wrong solutions fail, references hold.

What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import torch
from exercise_helpers import EXERCISES, SECRETS, hidden_failures, memorizer

from coursekit import training

# --------------------------------------------------------------------------- batch norm
BN = EXERCISES["nb05-batchnorm-tests"]


def _bn_without_eps(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gamma * (x - mu) / np.sqrt(var) + beta


def _bn_unbiased(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + eps) + beta


def test_batchnorm_wrong_solutions_fail():
    public, hidden = hidden_failures(BN, _bn_unbiased, SECRETS[0])
    assert public and hidden
    assert {v.problem for v in hidden} == {"wrong values"}
    # forgetting eps: the constant unit becomes 0 / 0
    _, hidden = hidden_failures(BN, _bn_without_eps, SECRETS[0])
    assert "constant unit" in {v.label for v in hidden}


def test_batchnorm_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(BN, memorizer(BN, _bn_without_eps), SECRETS[1])
    assert not public and hidden


def test_batchnorm_constant_unit_gives_beta():
    for secret in SECRETS:
        call = next(c for c in BN.hidden_calls(secret) if c.label == "constant unit")
        x, gamma, beta = call.args
        out = BN.reference(*call.args, **call.kwargs)
        col = [j for j in range(x.shape[1]) if np.all(x[:, j] == x[0, j])]
        assert col and np.all(out[:, col] == beta[col])


# --------------------------------------------------------------------------- dropout
DROPOUT = EXERCISES["nb05-dropout-tests"]


def _dropout_no_rescale(x, p, u, training=True):
    return x * (u >= p) if training else x


def _dropout_strict_mask(x, p, u, training=True):
    return x * (u > p) / (1.0 - p) if training else x


def test_dropout_wrong_solutions_fail():
    public, hidden = hidden_failures(DROPOUT, _dropout_no_rescale, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong values"}
    for secret in SECRETS:  # a unit with u == p is kept: the hidden tie case catches u > p
        public, hidden = hidden_failures(DROPOUT, _dropout_strict_mask, secret)
        assert public and [v.label for v in hidden] == ["u equal to p"]


def test_dropout_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(DROPOUT, memorizer(DROPOUT, _dropout_no_rescale), b"x")
    assert not public and hidden


# --------------------------------------------------------------------------- early stopping
STOP = EXERCISES["nb05-early-stopping-tests"]


def _stop_ties_improve(val_losses, patience):
    best, best_epoch, bad = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss <= best:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return best_epoch, epoch + 1
    return best_epoch, len(val_losses)


def _stop_as_list(val_losses, patience):
    return list(STOP.reference(val_losses, patience))


def test_early_stopping_wrong_solutions_fail():
    public, hidden = hidden_failures(STOP, _stop_as_list, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong type"}
    # hidden curves with equal losses catch a tie counted as an improvement
    failing = set()
    for secret in SECRETS:
        public, hidden = hidden_failures(STOP, _stop_ties_improve, secret)
        failing |= {v.label for v in hidden}
    assert public and {"equal losses", "tie with the best"} <= failing
    for secret in SECRETS:
        _, hidden = hidden_failures(STOP, _stop_ties_improve, secret)
        assert "tie with the best" in {v.label for v in hidden}


def test_early_stopping_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(STOP, memorizer(STOP, lambda v, p: (0, len(v))), b"x")
    assert not public and hidden


def test_early_stopping_reference_is_the_rule_of_fit():
    """The reference stops where coursekit.training.fit stops, on the hidden loss curves."""
    x, y = torch.zeros(2, 1), torch.zeros(2, dtype=torch.int64)
    for call in STOP.hidden_calls(SECRETS[0])[:4]:
        losses, patience = call.args
        scripted = iter(losses)
        with mock.patch.object(
            training, "_run_epoch_eval", lambda *a, _it=scripted: (next(_it), 0.0)
        ):
            history = training.fit(
                torch.nn.Linear(1, 2),
                [(x, y)],
                [(x, y)],
                epochs=len(losses),
                lr=0.0,
                device="cpu",
                early_stopping_patience=patience,
                progress=False,
            )
        assert STOP.reference(losses, patience) == (history.best_epoch("val_loss"), history.epochs)
