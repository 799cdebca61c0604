"""coursekit.base.Layer itself: modes, zero_grad, astype and repr (fast, no torch)."""

import numpy as np
import pytest

from coursekit.base import Layer
from coursekit.layers import Linear, ReLU, Sequential
from coursekit.normalization import BatchNorm2d


class _Buffers(Layer):
    """A leaf layer with a parameter and every kind of array attribute."""

    def __init__(self):
        super().__init__()
        self.params = {"w": np.arange(6.0).reshape(2, 3)}
        self._init_grads()
        self.stats = np.array([0.1, 0.2, 0.3])  # a float buffer, like running_mean
        self.half = np.zeros(2, dtype=np.float16)  # a float buffer of another width
        self.counts = np.arange(3)  # an int buffer: not a float, kept
        self._mask = np.ones(3)  # private: a cache, not a buffer
        self.scale = 2.0  # not an array


def test_train_names_mode_and_reaches_the_children():
    net = Sequential(Linear(2, 2), ReLU())
    with pytest.raises(TypeError, match=r"^mode must be a bool, got 'yes'$"):
        net.train("yes")
    assert net.train(False) is net
    assert not net.training and not net[0].training and not net[1].training
    assert net.train() is net and net[0].training and net[1].training


def test_astype_casts_float_buffers_only():
    layer = _Buffers()
    layer.grads["w"][...] = 5.0
    params, grads = layer.params, layer.grads
    assert layer.astype(np.float32) is layer
    assert layer.stats.dtype == np.float32 and layer.half.dtype == np.float32
    np.testing.assert_array_equal(layer.stats, np.array([0.1, 0.2, 0.3], dtype=np.float32))
    assert layer.counts.dtype == np.arange(3).dtype  # int buffers are not floats
    np.testing.assert_array_equal(layer.counts, [0, 1, 2])
    assert layer._mask.dtype == np.float64  # private attributes are no buffers
    assert layer.scale == 2.0
    # the dicts are kept (optimisers hold them); the values are replaced
    assert layer.params is params and layer.grads is grads
    assert layer.params["w"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["w"], np.arange(6.0).reshape(2, 3))
    assert layer.grads["w"].dtype == np.float32 and layer.grads["w"].shape == (2, 3)
    assert not layer.grads["w"].any()  # reset to zeros of the new dtype
    # and back: a float32 buffer is a float buffer too
    layer.astype(np.float64)
    assert layer.stats.dtype == np.float64 and layer.half.dtype == np.float64
    assert layer.params["w"].dtype == np.float64 and layer.grads["w"].dtype == np.float64


def test_astype_casts_batch_norm_running_statistics_in_children():
    net = Sequential(BatchNorm2d(3), ReLU())
    bn = net[0]
    bn.running_mean[:] = [1.0, 2.0, 3.0]
    net.astype(np.float32)
    assert bn.running_mean.dtype == np.float32 and bn.running_var.dtype == np.float32
    np.testing.assert_array_equal(bn.running_mean, [1.0, 2.0, 3.0])
    assert {v.dtype for v in bn.params.values()} == {np.dtype(np.float32)}
    assert {v.dtype for v in bn.grads.values()} == {np.dtype(np.float32)}
    out = net.eval()(np.ones((2, 3, 2, 2), dtype=np.float32))
    assert out.dtype == np.float32


def test_zero_grad_zeroes_every_gradient_and_keeps_the_dicts():
    net = Sequential(Linear(3, 4, rng=0), ReLU(), Linear(4, 2, rng=1)).astype(np.float32)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    net.backward(np.ones_like(net(x)))
    dicts = [grads for _, grads in net.parameters()]
    assert all(g.any() for grads in dicts for g in grads.values())
    assert net.zero_grad() is None
    for (params, grads), before in zip(net.parameters(), dicts, strict=True):
        assert grads is before and set(grads) == set(params) == {"w", "b"}
        for k, v in params.items():
            assert grads[k].shape == v.shape and grads[k].dtype == np.float32
            assert not grads[k].any()


def test_nested_repr_indents_like_torch():
    # torch.nn.Sequential(Linear(2, 3), Sequential(ReLU(), Linear(3, 1))) prints the same
    net = Sequential(Linear(2, 3), Sequential(ReLU(), Linear(3, 1)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        ")"
    )
    assert repr(ReLU()) == "ReLU()"
