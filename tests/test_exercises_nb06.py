"""The graded exercises of notebook 06: wrong solutions fail, references hold.

What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

from exercise_helpers import EXERCISES, SECRETS, hidden_failures, memorizer

# --------------------------------------------------------------------------- output size
SIZE = EXERCISES["nb06-output-size-tests"]


def test_output_size_wrong_solutions_fail():
    # padding on one side only
    public, hidden = hidden_failures(
        SIZE, lambda n, f, stride=1, padding=0: (n + padding - f) // stride + 1, SECRETS[0]
    )
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}
    # true division: a float
    public, hidden = hidden_failures(
        SIZE, lambda n, f, stride=1, padding=0: (n + 2 * padding - f) / stride + 1, SECRETS[0]
    )
    assert public and "wrong type" in {v.problem for v in hidden}


def _size_rounded(n, f, stride=1, padding=0):
    return int(round((n + 2 * padding - f) / stride)) + 1


def test_output_size_rounding_passes_visible_but_fails_hidden():
    for secret in SECRETS:
        public, hidden = hidden_failures(SIZE, _size_rounded, secret)
        assert not public
        assert "stride does not fit" in {v.label for v in hidden}


def test_output_size_hidden_calls_are_valid_convolutions():
    import torch

    for secret in SECRETS:
        for call in SIZE.hidden_calls(secret):
            (n, f), kw = call.args, call.kwargs
            conv = torch.nn.Conv2d(
                1, 1, f, stride=kw.get("stride", 1), padding=kw.get("padding", 0)
            )
            assert conv(torch.zeros(1, 1, n, n)).shape[-1] == SIZE.reference(*call.args, **kw)


# --------------------------------------------------------------------------- parameters
PARAMS = EXERCISES["nb06-conv-params-tests"]


def _params_bias_ignored(c_in, c_out, f, bias=True):
    return c_out * (c_in * f * f + 1)


def test_conv_params_wrong_solutions_fail():
    public, hidden = hidden_failures(PARAMS, _params_bias_ignored, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong value"}
    assert {v.label for v in hidden} == {"without bias"}


def test_conv_params_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(PARAMS, memorizer(PARAMS, _params_bias_ignored), SECRETS[1])
    assert not public and hidden
    # a wrong default for bias passes every visible case (they all pass bias)
    public, hidden = hidden_failures(
        PARAMS, lambda c_in, c_out, f, bias=False: c_out * (c_in * f * f + bias), SECRETS[1]
    )
    assert not public and {v.label for v in hidden} >= {"default bias"}


# --------------------------------------------------------------------------- convolution
CONV = EXERCISES["nb06-conv2d-single-tests"]


def _conv_flipped(x, k, stride=1, padding=0):
    from coursekit.conv import conv2d_naive

    return conv2d_naive(x[None, None], k[::-1, ::-1][None, None], stride=stride, padding=padding)[
        0, 0
    ]


def _conv_no_padding(x, k, stride=1, padding=0):
    from coursekit.conv import conv2d_naive

    return conv2d_naive(x[None, None], k[None, None], stride=stride, padding=0)[0, 0]


def test_conv2d_wrong_solutions_fail():
    public, hidden = hidden_failures(CONV, _conv_flipped, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} <= {"wrong values", "wrong shape"}
    public, hidden = hidden_failures(CONV, _conv_no_padding, SECRETS[0])
    assert public and "wrong shape" in {v.problem for v in hidden}


def test_conv2d_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(CONV, memorizer(CONV, _conv_flipped), SECRETS[2])
    assert not public and hidden


# --------------------------------------------------------------------------- receptive field
RF = EXERCISES["nb06-receptive-field-tests"]


def _rf_summed_jump(layers):
    # adds the strides instead of multiplying them: right for at most one strided layer
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump += s - 1
    return rf


def test_receptive_field_wrong_solutions_fail():
    # multiplies by the stride before adding the layer's own kernel
    def stride_first(layers):
        rf, jump = 1, 1
        for k, s in layers:
            jump *= s
            rf += (k - 1) * jump
        return rf

    public, hidden = hidden_failures(RF, stride_first, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}


def test_receptive_field_summed_jump_passes_visible_but_fails_hidden():
    for secret in SECRETS:
        public, hidden = hidden_failures(RF, _rf_summed_jump, secret)
        assert not public
        assert "several strided layers" in {v.label for v in hidden}
