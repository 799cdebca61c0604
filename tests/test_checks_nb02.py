"""The visible checks of notebook 02 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coursekit.checks import nb02


# --- reference solutions
def gradient_descent(grad, theta0, lr, steps):
    path = [np.array(theta0, dtype=float)]
    for _ in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    return np.stack(path)


def momentum_step(theta, grad, buf, lr, momentum):
    buf = momentum * buf + grad
    return theta - lr * buf, buf


def adam_step(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


# --- the references follow torch.optim
def _torch_run(opt_cls, theta0, grads, **hyper):
    p = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([p], **hyper)
    path = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


def test_momentum_step_matches_torch_sgd_for_20_steps():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(20, 3))
    theta, buf, path = rng.normal(size=3), np.zeros(3), []
    expected = _torch_run(torch.optim.SGD, theta, grads, lr=0.05, momentum=0.9)
    for g in grads:
        theta, buf = momentum_step(theta, g, buf, 0.05, 0.9)
        path.append(theta)
    np.testing.assert_allclose(np.array(path), expected, rtol=0, atol=1e-13)


def test_adam_step_matches_torch_adam_for_20_steps():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(20, 4)) * np.array([1e-3, 1.0, 10.0, 1e3])
    theta, m, v, path = rng.normal(size=4), np.zeros(4), np.zeros(4), []
    expected = _torch_run(torch.optim.Adam, theta, grads, lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    for t, g in enumerate(grads, start=1):
        theta, m, v = adam_step(theta, g, m, v, t, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)
        path.append(theta)
    np.testing.assert_allclose(np.array(path), expected, rtol=0, atol=1e-13)


def test_adam_worked_example_first_step_is_about_lr():
    theta, m, v = adam_step(np.array([1.0]), np.array([4.0]), np.zeros(1), np.zeros(1), 1)
    np.testing.assert_allclose(m, [0.4], rtol=1e-15)
    np.testing.assert_allclose(v, [0.016], rtol=1e-12)
    np.testing.assert_allclose(1.0 - theta, [1e-3 * 4 / (4 + 1e-8)], rtol=1e-12)


# --- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn"),
    [
        (nb02.check_gradient_descent, gradient_descent),
        (nb02.check_momentum_step, momentum_step),
        (nb02.check_adam_step, adam_step),
    ],
)
def test_correct_solution_passes(check, fn, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == 4
    assert "4/4 cases passed" in capsys.readouterr().out


# --- wrong answers get specific feedback
def test_gradient_descent_without_the_start_row_fails(capsys):
    def no_start(grad, theta0, lr, steps):
        return gradient_descent(grad, theta0, lr, steps)[1:]

    with pytest.raises(AssertionError, match=r"case 1 \(1-D parabola\)"):
        nb02.check_gradient_descent(no_start)
    out = capsys.readouterr().out
    assert "expected shape (4, 1), got shape (3, 1)" in out
    assert "row 0 is theta0" in out


def test_gradient_ascent_fails_with_values(capsys):
    def ascent(grad, theta0, lr, steps):
        return gradient_descent(grad, theta0, -lr, steps)

    with pytest.raises(AssertionError, match="gradient_descent"):
        nb02.check_gradient_descent(ascent)
    out = capsys.readouterr().out
    assert "first at index (1, 0): expected 0.8" in out


def test_gradient_descent_returning_a_list_fails(capsys):
    def as_list(grad, theta0, lr, steps):
        return list(gradient_descent(grad, theta0, lr, steps))

    with pytest.raises(AssertionError):
        nb02.check_gradient_descent(as_list)
    assert "expected a numpy array, got list" in capsys.readouterr().out


def test_dampened_momentum_fails_with_hint(capsys):
    def dampened(theta, grad, buf, lr, momentum):
        buf = momentum * buf + (1 - momentum) * grad
        return theta - lr * buf, buf

    with pytest.raises(AssertionError, match=r"case 1 \(first step \(empty buffer\)\)"):
        nb02.check_momentum_step(dampened)
    assert "new_buf = momentum * buf + grad" in capsys.readouterr().out


def test_momentum_stepping_with_the_old_buffer_fails(capsys):
    def old_buffer(theta, grad, buf, lr, momentum):
        return theta - lr * buf, momentum * buf + grad

    with pytest.raises(AssertionError, match="momentum_step"):
        nb02.check_momentum_step(old_buffer)
    assert "item 0:" in capsys.readouterr().out


def test_adam_without_bias_correction_fails(capsys):
    def uncorrected(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return theta - lr * m / (np.sqrt(v) + eps), m, v

    with pytest.raises(AssertionError, match=r"case 1 \(worked example, t = 1\)"):
        nb02.check_adam_step(uncorrected)
    out = capsys.readouterr().out
    assert "the bias corrections divide them" in out and "item 0:" in out


def test_adam_ignoring_keyword_hyper_parameters_fails(capsys):
    def hard_coded(theta, grad, m, v, t, **_):
        return adam_step(theta, grad, m, v, t)

    with pytest.raises(AssertionError, match="tiny and huge gradients"):
        nb02.check_adam_step(hard_coded)
    assert "Adam's first step has size about lr" in capsys.readouterr().out


def test_adam_with_eps_inside_the_sqrt_fails_where_eps_matters(capsys):
    def eps_inside(theta, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v

    # Case 3 has a gradient of 1e-3, where sqrt(v_hat + eps) differs from sqrt(v_hat) + eps.
    with pytest.raises(AssertionError, match=r"case 3 \(tiny and huge gradients\)"):
        nb02.check_adam_step(eps_inside)
    assert "2/4 cases passed" in capsys.readouterr().out
