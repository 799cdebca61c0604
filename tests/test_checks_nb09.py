"""The visible checks of notebook 09 accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit.checks import nb09
from coursekit.fast import achieved_tflops


# --------------------------------------------------------------------------- reference solutions
def images_per_second(step_seconds, batch_size, warmup):
    timed = np.asarray(step_seconds)[warmup:]
    return batch_size * len(timed) / float(np.sum(timed))


def training_tflops(macs_per_image, images_per_s):
    return 2 * 3 * macs_per_image * images_per_s / 1e12


def shard_indices(n, rank, world_size):
    used = (n // world_size) * world_size
    return list(range(rank, used, world_size))


# --------------------------------------------------------------------------- the references are right
def test_throughput_worked_example():
    # 4 timed steps of 0.1 s with 256 images each: 1024 images in 0.4 s
    assert nb09.images_per_second_reference([2.0, 0.5, 0.1, 0.1, 0.1, 0.1], 256, 2) == (
        pytest.approx(2560.0, rel=1e-12)
    )


def test_tflops_worked_example():
    # ResNet-20: 40.55M MACs, 2 FLOPs each, x3 for training, at 20,000 images/s
    assert achieved_tflops(40.55e6, 20_000) == pytest.approx(4.866, rel=1e-12)


@pytest.mark.parametrize(("n", "world"), [(10, 2), (11, 4), (3, 4), (17, 3), (8, 8)])
def test_shards_match_distributed_sampler_and_cover_without_overlap(n, world):
    shards = [nb09.shard_reference(n, r, world) for r in range(world)]
    assert shards == [shard_indices(n, r, world) for r in range(world)]
    flat = sorted(i for s in shards for i in s)
    assert flat == list(range((n // world) * world))


# --------------------------------------------------------------------------- correct answers pass
@pytest.mark.parametrize(
    ("check", "fn", "n"),
    [
        (nb09.check_images_per_second, images_per_second, 3),
        (nb09.check_training_tflops, training_tflops, 3),
        (nb09.check_shard_indices, shard_indices, 4),
    ],
)
def test_correct_solution_passes(check, fn, n, capsys):
    result = check(fn)
    assert result.passed and result.n_cases == n
    assert f"{n}/{n} cases passed" in capsys.readouterr().out


# --------------------------------------------------------------------------- wrong answers get specific feedback
def test_throughput_including_warmup_fails(capsys):
    with pytest.raises(AssertionError, match=r"images_per_second: case 1 \(two slow warm-up"):
        nb09.check_images_per_second(lambda t, b, w: images_per_second(t, b, 0))
    assert "drop the first `warmup` step times" in capsys.readouterr().out


def test_throughput_as_mean_of_rates_fails_on_uneven_steps(capsys):
    def mean_of_rates(t, b, w):
        return float(np.mean(b / np.asarray(t)[w:]))

    with pytest.raises(AssertionError, match=r"case 3 \(uneven steps\)"):
        nb09.check_images_per_second(mean_of_rates)
    assert "not the mean of per-step rates" in capsys.readouterr().out


def test_tflops_without_the_training_factor_fails(capsys):
    with pytest.raises(AssertionError, match="training_tflops"):
        nb09.check_training_tflops(lambda m, ips: 2 * m * ips / 1e12)
    assert "about 3 forward passes" in capsys.readouterr().out


def test_contiguous_shards_fail_with_hint(capsys):
    def blocks(n, rank, world):
        per = n // world
        return list(range(rank * per, (rank + 1) * per))

    with pytest.raises(AssertionError, match=r"case 1 \(10 examples, rank 0 of 2\)"):
        nb09.check_shard_indices(blocks)
    assert "deal the examples like cards" in capsys.readouterr().out


def test_shards_keeping_the_leftover_fail(capsys):
    with pytest.raises(AssertionError, match=r"case 3 \(11 examples, rank 2 of 4\)"):
        nb09.check_shard_indices(lambda n, r, w: list(range(r, n, w)))
    assert "W * floor(n / W) = 8" in capsys.readouterr().out
