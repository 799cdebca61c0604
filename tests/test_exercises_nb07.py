"""The graded exercises of notebook 07: wrong solutions fail, references hold.

What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import numpy as np
from exercise_helpers import EXERCISES, SECRETS, hidden_failures, memorizer

# --------------------------------------------------------------------------- shape trace
TRACE = EXERCISES["nb07-lenet-trace-tests"]


def _trace(input_size, conv=lambda s: s - 4, pool=lambda s: s // 2):
    shapes, side = [], input_size
    for channels in (6, 16):
        side = conv(side)
        shapes.append((channels, side, side))
        side = pool(side)
        shapes.append((channels, side, side))
    return shapes


def test_lenet_trace_wrong_solutions_fail():
    # a 5x5 convolution taken to remove 5 pixels
    public, hidden = hidden_failures(TRACE, lambda s: _trace(s, conv=lambda n: n - 5), SECRETS[0])
    assert public and hidden and all(v.problem.startswith("wrong value at [") for v in hidden)
    # lists instead of tuples
    public, hidden = hidden_failures(TRACE, lambda s: [list(t) for t in _trace(s)], SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong type at [0]"}


def test_lenet_trace_rounding_passes_visible_but_fails_hidden():
    def rounded(s):
        return _trace(s, pool=lambda n: round(n / 2))

    for secret in SECRETS:
        public, hidden = hidden_failures(TRACE, rounded, secret)
        assert not public
        assert "odd size" in {v.label for v in hidden}


# --------------------------------------------------------------------------- parameters
PARAMS = EXERCISES["nb07-lenet-params-tests"]


def _params(in_channels, num_classes, input_size, pool=lambda s: s // 2, bias=1):
    side = pool(pool(input_size - 4) - 4)
    conv = 6 * (in_channels * 25 + bias) + 16 * (6 * 25 + bias)
    return conv + 120 * (16 * side * side + bias) + 84 * (120 + bias) + num_classes * (84 + bias)


def test_lenet_params_wrong_solutions_fail():
    for secret in SECRETS:  # the helper is right when nothing is changed
        for call in PARAMS.hidden_calls(secret):
            assert _params(*call.args) == PARAMS.reference(*call.args)
    public, hidden = hidden_failures(PARAMS, lambda c, k, s: _params(c, k, s, bias=0), SECRETS[0])
    assert public and len(hidden) == len(PARAMS.hidden_calls(SECRETS[0]))
    assert {v.problem for v in hidden} == {"wrong value"}


def test_lenet_params_rounding_passes_visible_but_fails_hidden():
    def rounded(c, k, s):
        return _params(c, k, s, pool=lambda n: round(n / 2))

    for secret in SECRETS:
        public, hidden = hidden_failures(PARAMS, rounded, secret)
        assert not public
        assert "odd size" in {v.label for v in hidden}


# --------------------------------------------------------------------------- max pooling
POOL = EXERCISES["nb07-maxpool2d-tests"]


def _pool_from_zero(x, size):
    c, h, w = x.shape
    out = np.zeros((c, h // size, w // size))
    for i in range(h // size):
        for j in range(w // size):
            window = x[:, i * size : (i + 1) * size, j * size : (j + 1) * size]
            out[:, i, j] = np.maximum(window.max(axis=(1, 2)), 0.0)
    return out


def test_maxpool_wrong_solutions_fail():
    public, hidden = hidden_failures(POOL, _pool_from_zero, SECRETS[0])
    assert public and "negative activations" in {v.label for v in hidden}
    assert {v.problem for v in hidden} == {"wrong values"}

    # windows that do not fill are kept (ceil mode)
    def ceil_mode(x, size):
        import torch
        import torch.nn.functional as F

        return F.max_pool2d(torch.from_numpy(x)[None], size, ceil_mode=True)[0].numpy()

    public, hidden = hidden_failures(POOL, ceil_mode, SECRETS[0])
    assert public and "wrong shape" in {v.problem for v in hidden}


def test_maxpool_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(POOL, memorizer(POOL, _pool_from_zero), SECRETS[1])
    assert not public and hidden
