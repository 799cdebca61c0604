"""The graded exercises of notebook 09: wrong solutions fail, references hold.

What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import numpy as np
from exercise_helpers import EXERCISES, SECRETS, hidden_failures, memorizer

# --------------------------------------------------------------------------- throughput
IPS = EXERCISES["nb09-images-per-second-tests"]


def _ips_mean_of_rates(step_seconds, batch_size, warmup):
    return float(np.mean(batch_size / np.asarray(step_seconds)[warmup:]))


def _ips_with_warmup(step_seconds, batch_size, warmup):
    return float(batch_size * len(step_seconds) / np.sum(step_seconds))


def test_images_per_second_wrong_solutions_fail():
    public, hidden = hidden_failures(IPS, _ips_mean_of_rates, SECRETS[0])
    assert public and hidden and {v.problem for v in hidden} == {"wrong value"}
    public, hidden = hidden_failures(IPS, _ips_with_warmup, SECRETS[0])
    assert public and {v.label for v in hidden} == {
        "warm-up steps",
        "one timed step",
        "any batch size",
    }


def test_images_per_second_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(IPS, memorizer(IPS, _ips_with_warmup), SECRETS[1])
    assert not public and hidden


# --------------------------------------------------------------------------- TFLOP/s
TFLOPS = EXERCISES["nb09-training-tflops-tests"]


def test_training_tflops_wrong_solutions_fail():
    # the forward pass only
    public, hidden = hidden_failures(TFLOPS, lambda m, i: 2.0 * m * i / 1e12, SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong value"}
    assert {v.label for v in hidden} == {"a CNN on a GPU", "a small model", "a large model"}


def test_training_tflops_memorized_visible_answers_fail_hidden():
    wrong = memorizer(TFLOPS, lambda m, i: 6.0 * m * i / 1e9)
    public, hidden = hidden_failures(TFLOPS, wrong, SECRETS[1])
    assert not public and hidden


# --------------------------------------------------------------------------- shards
SHARD = EXERCISES["nb09-shard-indices-tests"]


def _shard_keep_leftover(n, rank, world_size):
    return list(range(rank, n, world_size))


def test_shard_indices_wrong_solutions_fail():
    public, hidden = hidden_failures(SHARD, _shard_keep_leftover, SECRETS[0])
    assert public and hidden
    assert {v.problem for v in hidden} <= {"wrong length"}
    public, hidden = hidden_failures(SHARD, lambda n, r, w: range(r, n // w * w, w), SECRETS[0])
    assert public and {v.problem for v in hidden} == {"wrong type"}


def test_shard_indices_memorized_visible_answers_fail_hidden():
    public, hidden = hidden_failures(SHARD, memorizer(SHARD, _shard_keep_leftover), SECRETS[1])
    assert not public and hidden


def test_shard_indices_cover_the_used_examples_once():
    for secret in SECRETS:
        for call in SHARD.hidden_calls(secret):
            n, _, world = call.args
            shards = [SHARD.reference(n, r, world) for r in range(world)]
            assert sorted(i for s in shards for i in s) == list(range(n // world * world))
