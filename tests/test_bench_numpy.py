"""benchmarks/bench_numpy.py in a short run: its record is complete and consistent.

No timing is asserted (speed is the benchmark's job, docs/benchmarks.md); this
checks the plumbing: pairs, pause, the JSON record, and that a record is never
overwritten.
"""

import json
from pathlib import Path

import pytest
from helpers import load_script

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return load_script(REPO / "benchmarks" / "bench_numpy.py")


def test_compare_interleaves_and_pauses_before_each_run(bench, monkeypatch):
    calls, sleeps = [], []
    monkeypatch.setattr(bench, "PAUSE", 0.005)
    monkeypatch.setattr(bench.time, "sleep", sleeps.append)
    t_np, t_torch, ratio, q1, q3 = bench.compare(
        lambda: calls.append("np"), lambda: calls.append("torch"), 3
    )
    assert calls == ["np", "torch"] * 4  # one warm-up pair, then three timed pairs in turn
    assert sleeps == [0.005] * 6  # before each timed run, not before the warm-up
    assert min(t_np, t_torch) > 0 and q1 <= ratio <= q3


def test_quick_run_writes_a_record_and_never_overwrites_one(bench, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert bench.main(["--quick", "--repeats", "2", "--pause-ms", "0", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 interleaved pairs, 0 ms pause before each run" in printed
    record = json.loads(out.read_text())
    assert record["repeats"] == 2 and record["pause_ms"] == 0
    assert list(record["cases"]) == list(bench.KEYS)
    for case in record["cases"].values():
        assert case["numpy_ms"] > 0 and case["torch_ms"] > 0
        assert case["ratio_q1"] <= case["ratio"] <= case["ratio_q3"]
    assert record["cases"]["conv_16_32"]["case"].startswith("conv 16->32 fwd+bwd")
    before = out.read_bytes()
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--json", str(out)])
    assert f"--json {out} exists already" in capsys.readouterr().err
    assert out.read_bytes() == before
    with pytest.raises(SystemExit):
        bench.main(["--pause-ms", "-1"])
    assert "--pause-ms must be 0 or more, got -1.0" in capsys.readouterr().err
