"""Graded exercises of notebook 01 (loss functions); none may use ``coursekit.losses``."""

from __future__ import annotations

import numpy as np

from coursekit import losses
from coursekit.checks import nb01
from coursekit.grading.spec import Call, Exercise

FORBID = nb01.FORBID  # the rule the visible checks state


def _softmax_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for scale, label in ((1.0, "moderate logits"), (400.0, "large logits"), (1e4, "huge logits")):
        n, k = rng.integers(1, 7), rng.integers(2, 7)
        calls.append(Call((rng.normal(size=(n, k)) * scale,), label=label))
    calls.append(Call((rng.normal(size=(rng.integers(2, 6), 1)) * 100,), label="one class"))
    tie = np.full((1, rng.integers(2, 6)), rng.normal() * 500)
    calls.append(Call((tie,), label="equal logits"))
    return calls


def _bce_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for scale, label in ((2.0, "moderate logits"), (900.0, "large logits")):
        n = rng.integers(1, 9)
        z = rng.normal(size=n) * scale
        y = rng.integers(0, 2, size=n).astype(np.float64)
        calls.append(Call((z, y), label=label))
    calls.append(Call((rng.normal(size=1) * 5, np.ones(1)), label="one logit"))
    z = rng.choice([-1.0, 1.0], size=6) * rng.uniform(710, 1e4, size=6)  # exp overflows
    calls.append(Call((z, rng.integers(0, 2, size=6).astype(np.float64)), label="extreme logits"))
    return calls


def _ce_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for scale, label in ((1.0, "moderate logits"), (80.0, "large logits")):
        n, k = rng.integers(1, 9), rng.integers(2, 6)
        logits = rng.normal(size=(n, k)) * scale
        calls.append(Call((logits, rng.integers(0, k, size=n)), label=label))
    k = int(rng.integers(2, 6))
    calls.append(Call((rng.normal(size=(1, k)) * 3, rng.integers(0, k, size=1)), label="one row"))
    k = int(rng.integers(20, 60))
    n = int(rng.integers(2, 9))
    calls.append(
        Call((rng.normal(size=(n, k)) * 1000, rng.integers(0, k, size=n)), label="many classes")
    )
    return calls


EXERCISES = [
    Exercise(
        grade_id="nb01-softmax-tests",
        target="softmax_rows",
        check=nb01.check_softmax_rows,
        hidden=_softmax_calls,
        reference=lambda z: losses.softmax(z, axis=1),
        rtol=1e-9,
        atol=1e-12,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb01-bce-logits-tests",
        target="bce_with_logits",
        check=nb01.check_bce_with_logits,
        hidden=_bce_calls,
        reference=lambda z, y: float(losses.binary_cross_entropy_with_logits(z, y)),
        rtol=1e-10,
        atol=1e-12,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb01-cross-entropy-tests",
        target="cross_entropy_and_grad",
        check=nb01.check_cross_entropy_and_grad,
        hidden=_ce_calls,
        reference=lambda logits, y: (
            float(losses.cross_entropy(logits, y)),
            losses.cross_entropy_grad(logits, y),
        ),
        rtol=1e-9,
        atol=1e-12,
        forbid=FORBID,
    ),
]
