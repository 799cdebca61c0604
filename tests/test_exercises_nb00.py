"""Graded exercises of notebook 00: wrong solutions fail.

The hidden calls are drawn from the secret and judged by the grader's own
reference; a wrong answer's verdict names a property, never an input value.
What every exercise must do (the instructor's solution passes ...) is tested
in tests/test_exercises.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from exercise_helpers import EXERCISES, SECRETS, check_wrong, hidden_failures


# --------------------------------------------------------------------------- wrong solutions
def to_nchw_float64(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).double()


def to_nchw_reshape(images):
    n, h, w, c = images.shape
    return torch.from_numpy(images).reshape(n, c, h, w).float()


def to_nchw_through_float16(images):
    # Saves memory on the way; exact for the visible cases (small integer pixel values).
    return torch.from_numpy(images).half().permute(0, 3, 1, 2).float()


def memory_mib_in_mb(shape, dtype):
    return float(np.prod(shape)) * dtype.itemsize / 1e6


def memory_mib_bytes_table(shape, dtype):
    # Knows the visible dtypes and assumes 4 bytes for every other one.
    size = {torch.float64: 8, torch.float16: 2, torch.uint8: 1}.get(dtype, 4)
    return float(np.prod(shape)) * size / 2**20


def standardize_sample_std(x):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(0, 2, 3), ddof=1, keepdims=True)


def standardize_per_image(x):
    mean = x.mean(axis=(2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(2, 3), keepdims=True)


@pytest.mark.parametrize(
    "grade_id, fn, prop, passes_visible",
    [
        ("nb00-to-nchw-tests", to_nchw_float64, "wrong dtype", False),
        ("nb00-to-nchw-tests", to_nchw_reshape, "wrong values", False),
        ("nb00-to-nchw-tests", to_nchw_through_float16, "wrong values", True),
        ("nb00-memory-tests", memory_mib_in_mb, "wrong value", False),
        ("nb00-memory-tests", memory_mib_bytes_table, "wrong value", True),
        ("nb00-standardize-tests", standardize_sample_std, "wrong values", False),
        ("nb00-standardize-tests", standardize_per_image, "wrong values", False),
    ],
)
def test_a_wrong_solution_fails(grade_id, fn, prop, passes_visible):
    check_wrong(grade_id, fn, prop, passes_visible)


def test_to_nchw_must_return_a_tensor():
    def as_array(images):
        return images.transpose(0, 3, 1, 2).astype(np.float32)

    _, hidden = hidden_failures(EXERCISES["nb00-to-nchw-tests"], as_array, SECRETS[0])
    assert hidden and all(v.problem == "wrong type" for v in hidden)


def test_memory_mib_covers_the_dtypes_of_the_old_hidden_tests():
    calls = EXERCISES["nb00-memory-tests"].hidden_calls(SECRETS[0])
    assert {torch.int64, torch.bfloat16, torch.float32} <= {c.args[1] for c in calls}
