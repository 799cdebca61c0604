"""Graded exercises of notebook 05 (training deep networks).

None may use ``coursekit.normalization`` (batch norm).
"""

from __future__ import annotations

import numpy as np

from coursekit import normalization
from coursekit.checks import nb05
from coursekit.grading.spec import Call, Exercise

FORBID = nb05.FORBID  # the rule the visible checks state


# --------------------------------------------------------------------------- batch norm
def _batchnorm_reference(x, gamma, beta, eps=1e-5):
    out, _ = normalization.batchnorm_forward(x, gamma, beta, None, None, training=True, eps=eps)
    return out


def _batch(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    loc = rng.normal(size=d) * 5.0
    scale = 10.0 ** rng.uniform(-1.0, 1.0, size=d)
    return loc + scale * rng.normal(size=(k, d))


def _batchnorm_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for label in ("random batch", "random batch, larger eps"):
        k, d = int(rng.integers(2, 17)), int(rng.integers(1, 8))
        eps = float(10.0 ** rng.uniform(-6, -3 if label == "random batch" else -0.5))
        gamma, beta = rng.normal(size=d), rng.normal(size=d)
        calls.append(Call((_batch(rng, k, d), gamma, beta), {"eps": eps}, label=label))
    # a constant unit has variance 0: eps keeps the division finite and the output is beta
    k, d = int(rng.integers(2, 9)), int(rng.integers(2, 6))
    x = _batch(rng, k, d)
    # a value with few mantissa bits, so the mean of the column is exactly that value
    x[:, int(rng.integers(d))] = float(rng.integers(-16, 17)) / 4.0
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    calls.append(Call((x, gamma, beta), {"eps": 1e-5}, label="constant unit"))
    k, d = int(rng.integers(2, 17)), int(rng.integers(1, 8))
    gamma, beta = rng.normal(size=d), rng.normal(size=d)
    calls.append(Call((_batch(rng, k, d), gamma, beta), label="default eps"))
    return calls


# --------------------------------------------------------------------------- dropout
def _dropout_reference(x, p, u, training=True):
    if not training:
        return x.copy()
    return x * (u >= p) / (1.0 - p)


def _dropout_calls(rng: np.random.Generator) -> list[Call]:
    def shape() -> tuple[int, ...]:
        return tuple(int(s) for s in rng.integers(1, 7, size=int(rng.integers(1, 4))))

    calls = []
    for label, training in (("training", True), ("evaluation mode", False)):
        s = shape()
        p = float(rng.uniform(0.05, 0.95))
        calls.append(
            Call((rng.normal(size=s), p, rng.random(s)), {"training": training}, label=label)
        )
    # some u equal to p exactly: those units are kept (u >= p)
    s = shape()
    p = float(rng.integers(1, 20)) / 20.0
    u = rng.random(s)
    u.flat[rng.random(u.size) < 0.4] = p
    u.flat[int(rng.integers(u.size))] = p  # at least one
    calls.append(Call((rng.normal(size=s), p, u), {"training": True}, label="u equal to p"))
    s = shape()
    calls.append(Call((rng.normal(size=s), 0.0, rng.random(s)), {"training": True}, label="p = 0"))
    n = int(rng.integers(2000, 5000))
    p = float(rng.uniform(0.1, 0.6))
    calls.append(Call((rng.normal(size=n), p, rng.random(n)), label="many units, default mode"))
    return calls


# --------------------------------------------------------------------------- early stopping
def _loss_curve(rng: np.random.Generator, epochs: int, ties: bool) -> list[float]:
    """A noisy, mostly falling validation loss; on a coarse grid when ``ties`` (equal losses)."""
    trend = rng.uniform(0.5, 3.0) * np.exp(-np.arange(epochs) / rng.uniform(2.0, 15.0))
    curve = trend + rng.uniform(0.0, 0.1) + rng.normal(scale=rng.uniform(0.01, 0.2), size=epochs)
    if ties:
        curve = np.round(curve * 10.0) / 10.0
    return [float(v) for v in curve]


def _early_stopping_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for label, ties in (("noisy curve", False), ("equal losses", True), ("noisy curve", False)):
        epochs = int(rng.integers(5, 41))
        patience = int(rng.integers(1, 7))
        calls.append(Call((_loss_curve(rng, epochs, ties), patience), label=label))
    # strictly falling: never stops
    epochs = int(rng.integers(1, 21))
    falling = np.cumsum(rng.uniform(0.01, 1.0, size=epochs))[::-1]
    calls.append(Call(([float(v) for v in falling], int(rng.integers(1, 5))), label="never stops"))
    # strictly rising after the first epoch: stops after exactly `patience` bad epochs
    patience = int(rng.integers(1, 6))
    rising = np.cumsum(rng.uniform(0.01, 1.0, size=patience + int(rng.integers(1, 6))))
    calls.append(Call(([float(v) for v in rising], patience), label="gets worse at once"))
    # falls, then returns to its best value (a tie: not an improvement), then gets worse
    patience = int(rng.integers(1, 5))
    falling = np.sort(rng.choice(np.arange(1, 40), size=int(rng.integers(1, 8)), replace=False))
    best = int(falling[0])
    worse = rng.integers(best + 1, 60, size=patience + int(rng.integers(0, 4)))
    curve = [v / 10.0 for v in [*falling[::-1].tolist(), best, *worse.tolist()]]
    calls.append(Call((curve, patience), label="tie with the best"))
    # patience 1
    calls.append(Call((_loss_curve(rng, int(rng.integers(3, 15)), False), 1), label="patience 1"))
    return calls


EXERCISES = [
    Exercise(
        grade_id="nb05-batchnorm-tests",
        target="batchnorm_forward",
        check=nb05.check_batchnorm_forward,
        hidden=_batchnorm_calls,
        reference=_batchnorm_reference,
        rtol=1e-9,
        atol=1e-12,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb05-dropout-tests",
        target="inverted_dropout",
        check=nb05.check_inverted_dropout,
        hidden=_dropout_calls,
        reference=_dropout_reference,
        rtol=1e-12,
        atol=0.0,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb05-early-stopping-tests",
        target="early_stopping",
        check=nb05.check_early_stopping,
        hidden=_early_stopping_calls,
        reference=nb05.early_stopping_reference,
        exact=True,
        forbid=FORBID,
    ),
]
