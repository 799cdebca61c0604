"""benchmarks/bench_conv_parts.py in a short run: its record is complete and consistent.

No timing is asserted (docs/benchmarks.md quotes a recorded run); this checks
the plumbing: every piece timed, rates that follow from the times, and that a
record is never overwritten.
"""

import json
from pathlib import Path

import pytest
from helpers import load_script

REPO = Path(__file__).resolve().parents[1]
PRODUCTS = ("forward_product", "column_gradient_product", "weight_gradient_product")


@pytest.fixture(scope="module")
def bench():
    return load_script(REPO / "benchmarks" / "bench_conv_parts.py")


def test_a_short_run_writes_a_complete_record_and_never_overwrites_one(bench, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert bench.main(["--repeats", "1", "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    parts = record["parts"]
    expected = {"numpy_step", "torch_step", "im2col_copy", "col2im_scatter", *PRODUCTS}
    expected |= {f"torch_{p}" for p in PRODUCTS}
    assert set(parts) == expected
    assert all(p["ms"] > 0 for p in parts.values())
    # a product runs over 31 * 34 + 32 flat positions per image (the padded rows' ends
    # included); a step's rate counts the convolution's own 32 * 32 pixels
    # (the forward product has the bias as one more row)
    for name in PRODUCTS:
        rows = 16 * 9 + (name == "forward_product")
        product = 2.0 * 64 * 32 * rows * (31 * 34 + 32)
        for key in (name, f"torch_{name}"):
            assert parts[key]["gflops"] == pytest.approx(product / parts[key]["ms"] / 1e6, rel=0.02)
    step = 3 * 2.0 * 64 * 32 * (16 * 9) * (32 * 32)
    for key in ("numpy_step", "torch_step"):
        assert parts[key]["gflops"] == pytest.approx(step / parts[key]["ms"] / 1e6, rel=0.02)
    assert "gflops" not in parts["im2col_copy"] and "gflops" not in parts["col2im_scatter"]
    assert record["threads"] == 1 and record["repeats"] == 1
    text = out.read_text()
    with pytest.raises(SystemExit):
        bench.main(["--repeats", "1", "--json", str(out)])
    assert out.read_text() == text
    assert "exists already" in capsys.readouterr().err
