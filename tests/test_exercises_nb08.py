"""The graded exercises of notebook 08: wrong solutions fail, references hold.

What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from exercise_helpers import EXERCISES, SECRETS, hidden_failures, memorizer
from torch import nn

from coursekit.grading.exercises import evaluate

# What a hidden verdict of notebook 08 may say: a property, never a value; the residual
# block's verdicts also name the mode and the module's structure.
PROBLEM = re.compile(
    r"(wrong (type|dtype|shape|values?|length|keys)( at (\[\d+\]|\['\w+'\])+)?"
    r"( in (train|eval) mode)?"
    r"|raised \w+|raised an exception|the answer has the wrong structure"
    r"|not an nn.Module|wrong state-dict keys|wrong shortcut type)"
)


def _hidden_failures(ex, fn, secret):
    return hidden_failures(ex, fn, secret, problem=PROBLEM)


# --------------------------------------------------------------------------- parameters
PARAMS = EXERCISES["nb08-resnet-params-tests"]


def _params_no_fc_bias(depth, num_classes):
    return PARAMS.reference(depth, num_classes) - num_classes


def test_resnet_params_wrong_solutions_fail():
    public, hidden = _hidden_failures(PARAMS, _params_no_fc_bias, SECRETS[0])
    assert public and len(hidden) == 4 and {v.problem for v in hidden} == {"wrong value"}


def test_resnet_params_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(PARAMS, memorizer(PARAMS, _params_no_fc_bias), SECRETS[1])
    assert not public and hidden


def test_resnet_params_hidden_depths_are_small():
    for secret in SECRETS:
        for call in PARAMS.hidden_calls(secret):
            depth = call.args[0]
            assert depth <= 32 and (depth - 2) % 6 == 0


# --------------------------------------------------------------------------- residual block
BLOCK = EXERCISES["nb08-residual-block-tests"]


class _Block(nn.Module):
    """The right block, with switches for the usual mistakes."""

    projection_if_stride = True
    relu_before_add = False
    identity_always = False

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        same = in_planes == planes and (stride == 1 or not self.projection_if_stride)
        if same or self.identity_always:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = self.shortcut(x)  # once: a projection's BN updates its statistics
        if self.relu_before_add:
            return F.relu(out) + shortcut
        if shortcut.shape != out.shape:  # an identity that cannot be added
            return F.relu(out)
        return F.relu(out + shortcut)


class _ProjectionOnlyForChannels(_Block):
    projection_if_stride = False


class _ReluBeforeAdd(_Block):
    relu_before_add = True


class _NoProjection(_Block):
    identity_always = True


class _NotAModule:
    def __init__(self, *args):
        pass


def test_residual_block_helper_is_right():
    verdicts = evaluate(BLOCK, _Block, SECRETS[0])
    assert [v.problem for v in verdicts if v.problem] == []


def test_residual_block_wrong_solutions_fail():
    public, hidden = _hidden_failures(BLOCK, _ReluBeforeAdd, SECRETS[0])
    assert public and hidden
    assert {v.problem for v in hidden} == {"wrong values in train mode"}
    public, hidden = _hidden_failures(BLOCK, _NoProjection, SECRETS[0])
    assert "submodules must be named" in public[0].problem
    assert {v.problem for v in hidden} == {"wrong state-dict keys"}
    assert len(hidden) == len(BLOCK.hidden_calls(SECRETS[0])) - 1
    public, hidden = _hidden_failures(BLOCK, _NotAModule, SECRETS[0])
    assert "must be an nn.Module" in public[0].problem
    assert {v.problem for v in hidden} == {"not an nn.Module"}


def test_residual_block_projection_for_stride_passes_visible_but_fails_hidden():
    for secret in SECRETS:
        public, hidden = _hidden_failures(BLOCK, _ProjectionOnlyForChannels, secret)
        assert not public
        assert [(v.label, v.problem) for v in hidden] == [
            ("stride 2, same channels", "wrong state-dict keys")
        ]


def test_residual_block_eval_mode_is_checked():
    class _FrozenStats(_Block):
        # uses the batch statistics in eval mode as well
        def forward(self, x):
            self.train()
            return super().forward(x)

    public, hidden = _hidden_failures(BLOCK, _FrozenStats, SECRETS[1])
    assert not public
    assert {v.problem for v in hidden} == {"wrong values in eval mode"}


def test_residual_block_shortcut_run_twice_passes_visible_but_fails_hidden():
    class _ShortcutTwice(_Block):
        # a projection's BN sees the batch twice: its running statistics move twice
        def forward(self, x):
            self.shortcut(x)
            return super().forward(x)

    for secret in SECRETS:
        public, hidden = _hidden_failures(BLOCK, _ShortcutTwice, secret)
        assert not public and hidden
        assert {v.problem for v in hidden} == {"wrong values in eval mode"}


def test_residual_block_public_feedback_is_what_the_notebook_shows(capsys):
    from coursekit.checks import nb08 as visible

    for cls in (_NoProjection, _ReluBeforeAdd):
        with pytest.raises(AssertionError):
            visible.check_residual_block(cls)
        shown = capsys.readouterr().out
        public = [v for v in evaluate(BLOCK, cls, SECRETS[0]) if v.public and v.problem]
        assert public and public[0].problem in shown


def test_residual_block_public_calls_reproduce_the_visible_check():
    from coursekit.checks.nb08 import _block_expected

    for call, case in zip(BLOCK.public_calls(), BLOCK.visible().cases, strict=True):
        init_args, state_dict, x = call.args
        out = BLOCK.reference(init_args, state_dict, x)["train"].numpy()
        np.testing.assert_array_equal(out, _block_expected(*case.args))


def test_residual_block_reference_leaves_the_graders_random_state_alone():
    """The reference runs the student's driver, which seeds torch; the grader's state is kept."""
    call = BLOCK.public_calls()[0]
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    BLOCK.reference(*call.args)
    assert torch.equal(torch.get_rng_state(), before)


def test_residual_block_hidden_weights_are_not_the_defaults():
    for call in BLOCK.hidden_calls(SECRETS[0]):
        init_args, state, x = call.args
        assert x.dtype == torch.float64 and x.shape[1] == init_args[0]
        assert not torch.all(state["bn1.running_var"] == 1.0)
        assert not torch.all(state["bn2.weight"] == 1.0)
        identity = init_args[0] == init_args[1] and init_args[2] == 1
        assert ("shortcut.0.weight" in state) != identity


# --------------------------------------------------------------------------- gradient chain
CHAIN = EXERCISES["nb08-chain-gradient-tests"]


def _chain_one_plus(weights, residual):
    w = np.asarray(weights, dtype=np.float64)
    return float(1.0 + np.prod(w) if residual else np.prod(w))


def _chain_abs(weights, residual):
    w = np.abs(np.asarray(weights, dtype=np.float64))
    return float(np.prod(1.0 + w) if residual else np.prod(w))


def test_chain_gradient_wrong_solutions_fail():
    public, hidden = _hidden_failures(CHAIN, _chain_one_plus, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}


def test_chain_gradient_memorized_visible_answers_fail_hidden():
    public, hidden = _hidden_failures(CHAIN, memorizer(CHAIN, _chain_abs), SECRETS[1])
    assert not public
    assert "negative weights" in {v.label for v in hidden}
