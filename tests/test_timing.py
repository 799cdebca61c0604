"""best_time measures the fastest of several calls, after warm-up calls."""

import time

import pytest

from coursekit.timing import best_time, synchronize


def test_best_time_is_the_minimum_over_repeats_after_warmup():
    durations = iter([0.05, 0.03, 0.01, 0.02])  # the first call is the warm-up
    calls = []

    def fn():
        calls.append(1)
        time.sleep(next(durations))

    t = best_time(fn, repeats=3, warmup=1)
    assert len(calls) == 4
    assert 0.01 <= t < 0.02


def test_synchronize_accepts_cpu_and_none():
    synchronize(None)
    synchronize("cpu")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"repeats": 0}, ValueError, "repeats must be an integer >= 1, got 0"),
        ({"warmup": -1}, ValueError, "warmup must be an integer >= 0, got -1"),
        ({"repeats": 1.5}, TypeError, "repeats must be an integer >= 1, got 1.5"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        best_time(lambda: None, **kwargs)


def test_fn_must_be_callable():
    with pytest.raises(TypeError, match="fn must be callable, got 3"):
        best_time(3)
