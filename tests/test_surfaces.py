"""Test surfaces: values and gradients vs autograd, trajectories vs closed forms and torch.optim."""

import numpy as np
import pytest
import torch

from coursekit import surfaces as S
from coursekit.optimizers import SGD, Adam


def _torch_grad(f, p):
    t = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    f(t[0], t[1]).backward()
    return t.grad.numpy()


@pytest.mark.parametrize(
    "surface", [S.quadratic(), S.quadratic(kappa=50.0), S.rosenbrock(), S.rosenbrock(a=-0.5, b=10)]
)
def test_gradient_matches_autograd(surface):
    rng = np.random.default_rng(0)
    for p in rng.uniform(-2, 2, size=(5, 2)):
        np.testing.assert_allclose(
            surface.grad(p), _torch_grad(surface.f, p), rtol=1e-12, atol=1e-12
        )
    # The gradient vanishes at the minimum, which is the lowest value around.
    np.testing.assert_allclose(surface.grad(surface.minimum), 0.0, atol=1e-12)
    assert surface.value(surface.minimum) == pytest.approx(0.0, abs=1e-15)
    assert surface.value(surface.default_start) > 0


def test_f_works_on_meshgrids_and_windows_contain_minimum():
    for surface in (S.quadratic(), S.rosenbrock()):
        X, Y = np.meshgrid(np.linspace(*surface.xlim, 7), np.linspace(*surface.ylim, 5))
        Z = surface.f(X, Y)
        assert Z.shape == (5, 7)
        assert Z[2, 3] == surface.value([X[2, 3], Y[2, 3]])
        assert surface.xlim[0] < surface.minimum[0] < surface.xlim[1]
        assert surface.ylim[0] < surface.minimum[1] < surface.ylim[1]
    assert S.rosenbrock(a=2.0).minimum.tolist() == [2.0, 4.0]
    assert set(S.SURFACES) == {"quadratic", "rosenbrock"}


def test_quadratic_worked_values():
    q = S.quadratic(kappa=10)
    assert q.value([2.0, 1.0]) == pytest.approx(0.5 * (4 + 10))
    np.testing.assert_allclose(q.grad(np.array([2.0, 1.0])), [2.0, 10.0])


def test_sgd_trajectory_on_quadratic_is_geometric():
    # GD on 0.5(x^2 + k y^2): x_t = (1 - lr)^t x_0 and y_t = (1 - lr k)^t y_0.
    q, lr, steps = S.quadratic(kappa=10), 0.15, 30
    path = S.run_optimizer(SGD, q, start=[-8.0, 2.0], steps=steps, lr=lr)
    t = np.arange(steps + 1)
    assert path.shape == (steps + 1, 2)
    np.testing.assert_allclose(path[:, 0], -8.0 * (1 - lr) ** t, rtol=1e-12)
    np.testing.assert_allclose(path[:, 1], 2.0 * (1 - lr * 10) ** t, rtol=1e-12, atol=1e-15)


def test_divergence_gives_nan_rows_not_warnings():
    q = S.quadratic(kappa=10)
    with np.errstate(all="raise"):
        path = S.run_optimizer(SGD, q, steps=2000, lr=0.25)  # lr > 2/kappa diverges in y
    assert np.all(np.isfinite(path[:10]))
    assert np.isnan(path[-1]).all()
    assert np.abs(path[np.isfinite(path[:, 1]), 1]).max() > 1e100


def test_adam_on_rosenbrock_matches_torch():
    r, start, steps = S.rosenbrock(), np.array([-1.5, 2.0]), 200
    path = S.run_optimizer(Adam, r, start=start, steps=steps, lr=0.05)
    t = torch.tensor(start, requires_grad=True)
    opt = torch.optim.Adam([t], lr=0.05, foreach=False)
    for _ in range(steps):
        opt.zero_grad()
        r.f(t[0], t[1]).backward()
        opt.step()
    np.testing.assert_allclose(path[-1], t.detach().numpy(), rtol=1e-10)
    assert r.value(path[-1]) < r.value(start)


def test_default_start_used():
    q = S.quadratic()
    np.testing.assert_array_equal(S.run_optimizer(SGD, q, steps=0, lr=0.1)[0], q.default_start)


def test_gd_1d_learning_rates():
    # f(x) = x^2: x_t = (1 - 2 lr)^t x_0 converges for lr < 1 and diverges beyond.
    steps = 12
    t = np.arange(steps + 1)
    for lr in (0.05, 0.5, 0.9):
        np.testing.assert_allclose(
            S.gd_1d(lambda x: 2 * x, 3.0, lr, steps), 3.0 * (1 - 2 * lr) ** t
        )
    diverging = S.gd_1d(lambda x: 2 * x, 3.0, 1.1, steps)
    assert abs(diverging[-1]) > abs(diverging[0]) * 5
    # x^4 with a large step blows up to inf; the trajectory then holds NaN.
    with np.errstate(all="raise"):
        blown = S.gd_1d(lambda x: 4 * x**3, 3.0, 0.5, 20)
    assert np.isnan(blown[-1]) and np.isfinite(blown[:3]).all()


def test_errors():
    with pytest.raises(ValueError, match="kappa must be a finite number > 0, got -1.0"):
        S.quadratic(kappa=-1)
    with pytest.raises(ValueError, match=r"start must have shape \(2,\), got \(3,\)"):
        S.run_optimizer(SGD, S.quadratic(), start=[1.0, 2.0, 3.0], steps=2, lr=0.1)
    with pytest.raises(TypeError, match="surface must be a Surface"):
        S.run_optimizer(SGD, "rosenbrock", steps=2, lr=0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 0, got -3"):
        S.gd_1d(lambda x: x, 1.0, 0.1, -3)
    with pytest.raises(TypeError, match="f_grad must be a callable"):
        S.gd_1d(1.0, 1.0, 0.1, 3)
