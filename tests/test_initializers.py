"""Initialisers: fans like torch, statistics match the formulas, He keeps ReLU variance."""

import math

import numpy as np
import pytest
import torch

from coursekit import initializers as I


@pytest.mark.parametrize("shape", [(30, 20), (16, 3, 5, 5), (8, 4, 3), (7, 1, 2, 3, 4)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert I.fans(shape) == expected


def test_fans_worked_example():
    # conv with 10 filters of 5x5x3: each output sees 75 inputs; each input feeds 250 outputs.
    assert I.fans((10, 3, 5, 5)) == (75, 250)


def _check_std(w, std, tol=0.03):
    assert abs(w.mean()) < 4 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=tol)


def test_normal_and_uniform_statistics():
    _check_std(I.normal((400, 300), std=0.2, rng=0), 0.2)
    u = I.uniform((400, 300), low=-0.3, high=0.1, rng=1)
    assert u.min() >= -0.3 and u.max() < 0.1
    assert u.mean() == pytest.approx(-0.1, abs=2e-3)
    assert u.std() == pytest.approx(0.4 / math.sqrt(12), rel=0.02)


@pytest.mark.parametrize("shape", [(200, 300), (64, 32, 3, 3)])
def test_xavier_and_he_statistics(shape):
    fan_in, fan_out = I.fans(shape)
    glorot = math.sqrt(2.0 / (fan_in + fan_out))
    he = math.sqrt(2.0 / fan_in)
    _check_std(I.xavier_normal(shape, gain=2.0, rng=0), 2.0 * glorot)
    _check_std(I.xavier_uniform(shape, rng=1), glorot)
    _check_std(I.he_normal(shape, rng=2), he)
    _check_std(I.he_uniform(shape, rng=3), he)
    # Uniform bounds: a = sqrt(3) * std.
    assert np.abs(I.xavier_uniform(shape, rng=4)).max() <= math.sqrt(3) * glorot
    assert np.abs(I.he_uniform(shape, rng=5)).max() <= math.sqrt(3) * he
    assert np.abs(I.he_uniform(shape, rng=5)).max() > 0.95 * math.sqrt(3) * he


def test_std_agrees_with_torch_init():
    shape = (256, 128)
    t = torch.empty(shape, dtype=torch.float64)
    torch.manual_seed(0)
    torch.nn.init.kaiming_normal_(t)
    assert I.he_normal(shape, rng=0).std() == pytest.approx(t.std().item(), rel=0.03)
    torch.nn.init.xavier_uniform_(t)
    assert I.xavier_uniform(shape, rng=0).std() == pytest.approx(t.std().item(), rel=0.03)


def _relu_net_variances(init, depth=20, width=256, n=256, seed=0):
    """Variance of the pre-activations of each layer of a deep ReLU MLP."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, width))
    out = []
    for _ in range(depth):
        z = h @ init((width, width), rng).T  # weight (out, in), like torch
        out.append(z.var())
        h = np.maximum(z, 0)
    return np.array(out)


def test_he_keeps_relu_variance_while_small_std_collapses():
    he = _relu_net_variances(lambda s, r: I.he_normal(s, rng=r))
    small = _relu_net_variances(lambda s, r: I.normal(s, std=0.01, rng=r))
    # He: the variance stays of order one at every depth.
    assert np.all((he > 0.3) & (he < 3.0)), he
    assert 0.3 < he[-1] / he[0] < 3.0
    # std = 0.01: each layer multiplies the variance by 256 * 1e-4 / 2 = 0.0128.
    assert small[-1] < 1e-30
    np.testing.assert_allclose(small[1:] / small[:-1], 0.0128, rtol=0.3)


def test_rng_determinism_and_generator():
    np.testing.assert_array_equal(I.he_normal((5, 4), rng=3), I.he_normal((5, 4), rng=3))
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(I.xavier_normal((3, 3), rng=g1), I.xavier_normal((3, 3), rng=g2))
    assert not np.array_equal(I.normal(10, rng=g1), I.normal(10, rng=g1))


def test_zeros_and_shapes():
    z = I.zeros((3, 2))
    assert z.shape == (3, 2) and z.dtype == np.float64 and not z.any()
    assert I.normal(5, rng=0).shape == (5,)
    assert I.he_normal([4, 3, 2, 2], rng=0).shape == (4, 3, 2, 2)


def test_errors():
    with pytest.raises(ValueError, match=r"shape must have at least 2 dimensions.*got \(5,\)"):
        I.he_normal((5,))
    with pytest.raises(ValueError, match=r"shape must contain sizes >= 1, got \(3, 0\)"):
        I.zeros((3, 0))
    with pytest.raises(TypeError, match="shape must be an int or a tuple of ints"):
        I.normal((3.0, 2))
    with pytest.raises(ValueError, match="low must be smaller than high, got low=1 and high=0"):
        I.uniform((2, 2), low=1, high=0)
    with pytest.raises(ValueError, match="std must be a finite number > 0, got -1.0"):
        I.normal((2, 2), std=-1)
    with pytest.raises(TypeError, match="rng must be None, an int seed or a np.random.Generator"):
        I.xavier_uniform((2, 2), rng="seed")
    with pytest.raises(ValueError, match="gain must be a finite number > 0"):
        I.xavier_normal((2, 2), gain=0)
