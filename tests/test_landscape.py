"""coursekit.landscape: filter-normalised directions and loss slices (notebook 08)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit import landscape


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    )


def test_every_filter_of_a_direction_has_the_norm_of_the_same_filter_of_the_weights():
    net = _net()
    direction = landscape.random_direction(net, seed=1)
    for p, d in zip(net.parameters(), direction, strict=True):
        assert d.shape == p.shape
        if p.dim() <= 1:  # biases and BatchNorm's gamma, beta stay put
            assert torch.count_nonzero(d) == 0
            continue
        for filt_p, filt_d in zip(p.detach(), d, strict=True):
            assert filt_d.norm().item() == pytest.approx(filt_p.norm().item(), rel=1e-5)


def test_filter_normalize_keeps_each_filters_direction():
    w = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    d = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    (out,) = landscape.filter_normalize([d], [w])
    assert torch.allclose(out, torch.tensor([[5.0, 0.0], [0.0, -2.0]]))
    (zero,) = landscape.filter_normalize([torch.zeros(2, 2)], [w])
    assert torch.count_nonzero(zero) == 0


def test_filter_normalize_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"direction\[0\] must have the shape of params\[0\]"):
        landscape.filter_normalize([torch.zeros(2, 3)], [torch.zeros(3, 2)])


def test_directions_are_reproducible_from_the_seed():
    net = _net()
    a, b = landscape.random_direction(net, seed=4), landscape.random_direction(net, seed=4)
    c = landscape.random_direction(net, seed=5)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_loss_along_gives_the_loss_at_theta_at_zero_and_restores_the_weights():
    net = _net()
    X, y = torch.randn(16, 1, 6, 6), torch.randint(0, 3, (16,))
    before = [p.detach().clone() for p in net.parameters()]
    d1, d2 = landscape.random_direction(net, seed=0), landscape.random_direction(net, seed=1)
    line = landscape.loss_along(net, [d1], [np.linspace(-1, 1, 5)], X, y)
    grid = landscape.loss_along(net, [d1, d2], [[-1, 0, 1], [0, 0.5]], X, y)
    assert line.shape == (5,) and grid.shape == (3, 2)
    net.eval()
    with torch.no_grad():
        at_theta = F.cross_entropy(net(X), y).item()
    assert line[2] == pytest.approx(at_theta) and grid[1, 0] == pytest.approx(at_theta)
    assert grid[0, 0] == pytest.approx(line[0])
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before, strict=True))


def test_loss_along_wants_one_coordinate_array_per_direction():
    net = _net()
    d = landscape.random_direction(net)
    with pytest.raises(ValueError, match="one coordinate array per direction"):
        landscape.loss_along(net, [d], [[0.0], [1.0]], torch.zeros(1, 1, 6, 6), torch.zeros(1))
