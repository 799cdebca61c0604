"""benchmarks/bench_gpu.py in its CPU quick mode: the record it writes is complete and consistent."""

import json
from pathlib import Path

import pytest
from helpers import load_script

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return load_script(REPO / "benchmarks" / "bench_gpu.py")


def test_quick_cpu_run_writes_a_consistent_record(bench, tmp_path, capsys):
    out = tmp_path / "cpu.md"
    argv = ["--device", "cpu", "--models", "LeNet", "--ladder", "LeNet", "--workers", "0", "1",
            "--out", str(out)]  # fmt: skip
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    assert "tutorial/0w" in printed and "one change at a time" in printed

    record = json.loads(out.with_suffix(".json").read_text())
    assert record["quick"] is True and record["device"] == "cpu"
    assert record["workers"] == [0, 1] and record["peak_tflops_bf16"] is None
    (row,) = record["results"]
    assert row["model"] == "LeNet" and row["macs_per_image"] == 651_720
    assert set(row["tutorial_images_per_s"]) == {"0", "1"}
    # The headline speed-up is over the tutorial loop with the first worker count.
    assert row["speedup"] == pytest.approx(
        row["fast_images_per_s"] / row["tutorial_images_per_s"]["0"]
    )
    assert row["speedup_over_plain"] == pytest.approx(
        row["fast_images_per_s"] / row["plain_images_per_s"]
    )
    assert [r["step"] for r in record["ladder"]][0] == "tutorial loop (0 workers)"

    table = out.read_text()
    assert "| LeNet | 0.7 |" in table
    assert "tutorial img/s (0 workers) | tutorial img/s (1 workers)" in table
    assert "| + bf16 autocast | skipped (needs CUDA) | |" in table
