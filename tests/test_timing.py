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


def _record_synchronize(monkeypatch) -> list:
    import torch

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: calls.append(("cuda", d)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append(("mps", None)))
    return calls


def test_synchronize_waits_for_the_device_it_is_given(monkeypatch):
    import torch

    calls = _record_synchronize(monkeypatch)
    assert synchronize(None) is None
    synchronize("cpu")
    synchronize(torch.device("cpu"))
    assert calls == []  # nothing to wait for on the CPU
    synchronize("cuda:1")
    synchronize(torch.device("cuda", 0))
    synchronize("mps")
    assert calls == [
        ("cuda", torch.device("cuda", 1)),
        ("cuda", torch.device("cuda", 0)),
        ("mps", None),
    ]
    with pytest.raises(ValueError, match="device must name a device .* got 'not-a-device'"):
        synchronize("not-a-device")


def test_best_time_synchronises_before_and_after_each_timed_call(monkeypatch):
    calls = _record_synchronize(monkeypatch)
    order = []
    best_time(lambda: order.append(len(calls)), repeats=3, warmup=2, device="cuda")
    # Warm-up calls are not synchronised; each timed call sits between two waits.
    assert order == [0, 0, 1, 3, 5] and len(calls) == 6
    calls.clear()
    best_time(lambda: None, repeats=2, device="cpu")
    assert calls == []


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
