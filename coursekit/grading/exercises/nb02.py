"""Graded exercises of notebook 02 (gradient descent, momentum, Adam).

Momentum and Adam are judged against ``torch.optim`` (one step from a given
state); neither may use ``coursekit.optimizers``, which implements both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from coursekit.checks import nb02
from coursekit.grading.plaindata import Function
from coursekit.grading.spec import Call, Exercise, mismatch

FORBID = nb02.FORBID  # the rule the visible checks state


# --------------------------------------------------------------------------- gradient descent
def _gd_calls(rng: np.random.Generator) -> list[Call]:
    """Quadratic bowls sum(c * theta**2 / 2): the gradient is c * theta (Function "scale")."""

    def call(steps: int, rate: tuple[float, float], label: str) -> Call:
        d = int(rng.integers(1, 5))
        c = rng.uniform(0.5, 5.0, size=d)
        theta0 = rng.normal(size=d) * 3
        # lr * max(c) in ``rate``: below 1 converges smoothly, 1..2 oscillates, above 2 diverges.
        lr = float(rng.uniform(*rate) / c.max())
        return Call((Function("scale", c), theta0, lr, steps), after=True, label=label)

    return [
        call(int(rng.integers(3, 9)), (0.05, 0.9), "converging steps"),
        call(int(rng.integers(4, 9)), (1.1, 1.9), "oscillating steps"),
        call(int(rng.integers(3, 7)), (2.2, 3.0), "diverging steps"),
        call(0, (0.05, 0.9), "zero steps"),
        call(1, (0.05, 2.5), "one step"),
    ]


def _gd_reference(grad: Any, theta0: np.ndarray, lr: float, steps: int) -> tuple:
    path = [np.array(theta0, dtype=np.float64)]
    for _ in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    # The trajectory, and theta0 as it must be after the call (unchanged).
    return np.stack(path), np.array(theta0, dtype=np.float64)


def _gd_answer(got: Any, call: Call | None) -> Any:
    """Hidden calls: keep theta0 from the arguments sent back after the call."""
    if call is None or call.public:  # a public call: the trajectory only, as the check
        return got
    path, after = got
    return path, after[1]


_GD_RTOL, _GD_ATOL = 1e-12, 1e-14


def _gd_judge(got: tuple, expected: tuple, call: Call) -> str:
    """The trajectory within the tolerances; theta0 exactly as it was."""
    return mismatch(got[0], expected[0], _GD_RTOL, _GD_ATOL, "[0]") or mismatch(
        got[1], expected[1], 0.0, 0.0, "[1]"
    )


# --------------------------------------------------------------------------- momentum
def _momentum_calls(rng: np.random.Generator) -> list[Call]:
    def call(momentum: float, empty: bool, label: str) -> Call:
        d = int(rng.integers(1, 7))
        theta = rng.normal(size=d) * 2
        grad = rng.normal(size=d) * 10.0 ** rng.uniform(-2, 2)
        buf = np.zeros(d) if empty else rng.normal(size=d) * 10.0 ** rng.uniform(-2, 2)
        lr = float(10.0 ** rng.uniform(-3, 0))
        return Call((theta, grad, buf, lr, float(momentum)), label=label)

    return [
        call(rng.uniform(0.5, 0.99), True, "first step"),
        call(rng.uniform(0.5, 0.99), False, "with history"),
        call(rng.uniform(0.01, 0.5), False, "small momentum"),
        call(0.0, False, "momentum zero"),
        call(rng.uniform(0.9, 0.999), False, "heavy momentum"),
    ]


def _momentum_reference(theta, grad, buf, lr, momentum):
    """One step of ``torch.optim.SGD`` with its momentum buffer set to ``buf``."""
    p = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum)
    opt.state[p]["momentum_buffer"] = torch.tensor(buf, dtype=torch.float64)
    p.grad = torch.tensor(grad, dtype=torch.float64)
    opt.step()
    if momentum == 0:  # torch keeps no buffer without momentum: it is the gradient
        return p.detach().numpy(), np.array(grad, dtype=np.float64)
    return p.detach().numpy(), opt.state[p]["momentum_buffer"].numpy()


# --------------------------------------------------------------------------- Adam
def _adam_calls(rng: np.random.Generator) -> list[Call]:
    def call(t: int, label: str, grad_scales: np.ndarray | None = None, **hyper: float) -> Call:
        beta1 = hyper.get("beta1", 0.9)
        beta2 = hyper.get("beta2", 0.999)
        d = int(rng.integers(1, 6)) if grad_scales is None else len(grad_scales)
        scales = 10.0 ** rng.uniform(-2, 2, size=d) if grad_scales is None else grad_scales
        theta = rng.normal(size=d)
        m, v = np.zeros(d), np.zeros(d)
        for _ in range(t - 1):  # the state t - 1 earlier steps leave
            g = rng.normal(size=d) * scales
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
        grad = rng.normal(size=d) * scales
        return Call((theta, grad, m, v, t), kwargs=hyper, label=label)

    def hyper() -> dict[str, float]:
        return {
            "lr": float(10.0 ** rng.uniform(-3, -1)),
            "beta1": float(rng.uniform(0.5, 0.95)),
            "beta2": float(rng.uniform(0.9, 0.9999)),
            "eps": float(10.0 ** rng.uniform(-9, -3)),
        }

    return [
        call(1, "first step, default hyper-parameters"),
        call(int(rng.integers(2, 30)), "later step, default hyper-parameters"),
        call(1, "first step, other hyper-parameters", **hyper()),
        call(int(rng.integers(2, 30)), "later step, other hyper-parameters", **hyper()),
        call(
            int(rng.integers(5, 60)),
            "gradients of very different sizes",
            np.array([1e-2, 1.0, 1e2]) * 10.0 ** rng.uniform(-0.5, 0.5, size=3),
            **hyper(),
        ),
        call(int(rng.integers(200, 2000)), "many steps", **hyper()),
    ]


def _adam_reference(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of ``torch.optim.Adam`` from the state (m, v) after t - 1 steps."""
    p = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps, foreach=False)
    opt.state[p].update(
        step=torch.tensor(float(t - 1)),
        exp_avg=torch.tensor(m, dtype=torch.float64),
        exp_avg_sq=torch.tensor(v, dtype=torch.float64),
    )
    p.grad = torch.tensor(grad, dtype=torch.float64)
    opt.step()
    state = opt.state[p]
    return p.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()


EXERCISES = [
    Exercise(
        grade_id="nb02-gradient-descent-tests",
        target="gradient_descent",
        check=nb02.check_gradient_descent,
        hidden=_gd_calls,
        reference=_gd_reference,
        answer=_gd_answer,
        judge=_gd_judge,
        rtol=_GD_RTOL,
        atol=_GD_ATOL,
    ),
    Exercise(
        grade_id="nb02-momentum-tests",
        target="momentum_step",
        check=nb02.check_momentum_step,
        hidden=_momentum_calls,
        reference=_momentum_reference,
        rtol=1e-12,
        atol=1e-14,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb02-adam-tests",
        target="adam_step",
        check=nb02.check_adam_step,
        hidden=_adam_calls,
        reference=_adam_reference,
        rtol=1e-10,
        atol=1e-14,
        forbid=FORBID,
    ),
]
