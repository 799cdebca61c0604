"""Learning-rate schedules against torch.optim.lr_scheduler."""

import functools
import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from coursekit import schedules as S
from coursekit.optimizers import SGD


def _torch_lrs(make_scheduler, base_lr, steps):
    """Learning rates of a torch scheduler at steps 0..steps (one scheduler.step() per step)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs)


@pytest.mark.parametrize("step_size, gamma", [(3, 0.1), (5, 0.5), (1, 0.9)])
def test_step_lr_matches_torch(step_size, gamma):
    theirs = _torch_lrs(lambda o: tls.StepLR(o, step_size=step_size, gamma=gamma), 0.3, 20)
    ours = [S.step_lr(t, 0.3, step_size, gamma) for t in range(21)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("total, min_lr", [(10, 0.0), (17, 0.01)])
def test_cosine_lr_matches_torch(total, min_lr):
    theirs = _torch_lrs(lambda o: tls.CosineAnnealingLR(o, T_max=total, eta_min=min_lr), 0.1, total)
    ours = [S.cosine_lr(t, 0.1, total, min_lr) for t in range(total + 1)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_cosine_lr_worked_values_and_floor_after_end():
    assert S.cosine_lr(0, 0.1, 10) == pytest.approx(0.1)
    assert S.cosine_lr(5, 0.1, 10) == pytest.approx(0.05)
    assert S.cosine_lr(10, 0.1, 10, min_lr=0.001) == pytest.approx(0.001)
    # After total_steps the schedule stays at its floor (torch's would rise again).
    assert S.cosine_lr(25, 0.1, 10, min_lr=0.001) == pytest.approx(0.001)


@pytest.mark.parametrize("start_factor, warmup", [(1 / 3, 5), (0.1, 8), (1.0, 3)])
def test_linear_warmup_matches_linear_lr(start_factor, warmup):
    theirs = _torch_lrs(
        lambda o: tls.LinearLR(o, start_factor=start_factor, total_iters=warmup), 0.2, 15
    )
    ours = [S.linear_warmup(t, 0.2, warmup, start_factor=start_factor) for t in range(16)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_linear_warmup_default_start_factor_is_torchs():
    theirs = _torch_lrs(lambda o: tls.LinearLR(o, total_iters=4), 0.3, 6)
    np.testing.assert_allclose([S.linear_warmup(t, 0.3, 4) for t in range(7)], theirs, rtol=1e-12)


@pytest.mark.parametrize(
    "warmup, total, min_lr, start_factor", [(5, 20, 0.0, 0.1), (3, 12, 0.01, 0.5)]
)
def test_warmup_cosine_matches_sequential_lr(warmup, total, min_lr, start_factor):
    def make(o):
        return tls.SequentialLR(
            o,
            [
                tls.LinearLR(o, start_factor=start_factor, total_iters=warmup),
                tls.CosineAnnealingLR(o, T_max=total - warmup, eta_min=min_lr),
            ],
            milestones=[warmup],
        )

    theirs = _torch_lrs(make, 0.4, total)
    ours = [S.warmup_cosine(t, 0.4, warmup, total, min_lr, start_factor) for t in range(total + 1)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_warmup_cosine_without_warmup_is_cosine():
    for t in range(11):
        assert S.warmup_cosine(t, 0.1, 0, 10) == S.cosine_lr(t, 0.1, 10)


def test_lr_scheduler_drives_numpy_optimizer_like_torch():
    p, g = {"w": np.ones(2)}, {"w": np.ones(2)}
    opt = SGD((p, g), lr=0.5)
    sched = S.LRScheduler(opt, functools.partial(S.cosine_lr, base_lr=0.5, total_steps=8))
    theirs = _torch_lrs(lambda o: tls.CosineAnnealingLR(o, T_max=8), 0.5, 8)
    ours = [opt.lr]
    total_step = 0.0
    for _ in range(8):
        total_step += opt.lr
        opt.step()
        sched.step()
        ours.append(sched.get_last_lr())
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    # The parameter moved by the sum of the learning rates actually used (grad = 1).
    np.testing.assert_allclose(p["w"], 1.0 - total_step, rtol=1e-12)


def test_lr_scheduler_sets_initial_lr():
    p, g = {"w": np.ones(1)}, {"w": np.ones(1)}
    opt = SGD((p, g), lr=1.0)
    S.LRScheduler(opt, lambda t: S.linear_warmup(t, 1.0, 10, start_factor=0.1))
    assert opt.lr == pytest.approx(0.1)


def test_errors():
    with pytest.raises(ValueError, match="step must be an integer >= 0, got -1"):
        S.step_lr(-1, 0.1, 2)
    with pytest.raises(ValueError, match="step_size must be an integer >= 1, got 0"):
        S.step_lr(1, 0.1, 0)
    with pytest.raises(ValueError, match="total_steps must be larger than warmup_steps=10, got 10"):
        S.warmup_cosine(0, 0.1, 10, 10)
    with pytest.raises(ValueError, match=r"start_factor must lie in \(0, 1\], got 2.0"):
        S.linear_warmup(0, 0.1, 5, start_factor=2.0)
    with pytest.raises(TypeError, match="optimizer must have an 'lr' attribute"):
        S.LRScheduler(object(), lambda t: 0.1)
    with pytest.raises(TypeError, match="fn must be a callable"):
        S.LRScheduler(SGD(({"w": np.ones(1)}, {"w": np.ones(1)}), lr=0.1), 0.1)
    with pytest.raises(ValueError, match=r"fn\(0\) must be a finite number >= 0, got nan"):
        S.LRScheduler(SGD(({"w": np.ones(1)}, {"w": np.ones(1)}), lr=0.1), lambda t: math.nan)
