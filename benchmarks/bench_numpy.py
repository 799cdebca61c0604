"""How fast is coursekit's NumPy half compared with PyTorch on the CPU?

Times forward + backward of the vectorised convolution, max pooling and batch
norm, and one training epoch of an MLP, against the same work in PyTorch
(float32, CPU, torch's default thread count).

The runs are interleaved, NumPy, torch, NumPy, torch, ..., and the ratio is
taken per pair, so a burst of load from other programs slows both halves of a
pair alike instead of landing on one side. The script prints the median ratio
with its interquartile spread, and the load average before and after the run:
read a ratio whose spread is wide, or measured under a high load, as rough.

Each timed run starts after a short pause (``--pause-ms``, 20 ms by default).
Both libraries leave their worker threads spinning for a while after a call
(torch's OpenMP threads, OpenBLAS's threads), so a run that starts at once
shares the cores with the other library's idle threads and is charged for
their spinning; after the pause they have gone to sleep. ``--pause-ms 0``
times back to back, as this script did before (docs/benchmarks.md has both).

    python benchmarks/bench_numpy.py              # full run
    python benchmarks/bench_numpy.py --quick      # fewer repeats, smaller epoch
    python benchmarks/bench_numpy.py --repeats 9
    python benchmarks/bench_numpy.py --pause-ms 0  # no pause before each timed run
    python benchmarks/bench_numpy.py --json benchmarks/results/numpy_vs_torch/run1.json

Targets: the NumPy convolution within 1.5x of torch, max pooling and batch norm
within 2x, the NumPy MLP epoch within 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from coursekit.conv import conv2d_backward, conv2d_forward  # noqa: E402
from coursekit.layers import MLP  # noqa: E402
from coursekit.losses import softmax_cross_entropy  # noqa: E402
from coursekit.normalization import batchnorm_backward, batchnorm_forward  # noqa: E402
from coursekit.optimizers import Adam  # noqa: E402
from coursekit.pooling import maxpool2d_backward, maxpool2d_forward  # noqa: E402

CONV_TARGET, POOL_BN_TARGET, MLP_TARGET = 1.5, 2.0, 2.0
# the cases' names in a JSON record (--json), in the order of the table
KEYS = ("conv_3_16", "conv_16_32", "max_pool", "batch_norm", "mlp_epoch")

Result = tuple[float, float, float, float, float]


# seconds of pause before each timed run (set by --pause-ms): see the module docstring
PAUSE = 0.02


def _time(fn: Callable[[], object]) -> float:
    time.sleep(PAUSE)  # let the other library's spinning worker threads go to sleep
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(numpy_fn: Callable[[], object], torch_fn: Callable[[], object], repeats: int) -> Result:
    """Interleaved timing: (median NumPy s, median torch s, median ratio, ratio q1, ratio q3).

    Each repeat times one NumPy run and then one torch run, and their ratio is
    one sample: both halves of a pair see nearly the same load. Medians of the
    two sides taken separately would pair a quiet NumPy run with a busy torch
    run. One warm-up call of each comes first.
    """
    numpy_fn()
    torch_fn()
    t_np, t_torch = [], []
    for _ in range(repeats):
        t_np.append(_time(numpy_fn))
        t_torch.append(_time(torch_fn))
    ratios = [a / b for a, b in zip(t_np, t_torch, strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return statistics.median(t_np), statistics.median(t_torch), statistics.median(ratios), q1, q3


class ConvCase(NamedTuple):
    """The convolution case: its arrays and one forward + backward step on each side."""

    x: np.ndarray  # (64, C_in, 32, 32)
    w: np.ndarray  # (C_out, C_in, 3, 3)
    b: np.ndarray  # (C_out,)
    dout: np.ndarray  # (64, C_out, 32, 32)
    numpy_step: Callable[[], object]
    torch_step: Callable[[], object]


def conv_case(c_in: int, c_out: int, rng: np.random.Generator) -> ConvCase:
    """64 images of 32x32, 3x3 kernel, padding 1, float32 (bench_conv_parts.py times it too)."""
    x = rng.standard_normal((64, c_in, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((c_out, c_in, 3, 3)) * 0.1).astype(np.float32)
    b = np.zeros(c_out, np.float32)
    dout = rng.standard_normal((64, c_out, 32, 32)).astype(np.float32)

    def numpy_step():
        _, cache = conv2d_forward(x, w, b, stride=1, padding=1)
        return conv2d_backward(dout, cache)

    xt = torch.tensor(x, requires_grad=True)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    dt = torch.tensor(dout)

    def torch_step():
        F.conv2d(xt, wt, bt, padding=1).backward(dt)

    return ConvCase(x, w, b, dout, numpy_step, torch_step)


def bench_conv(c_in: int, c_out: int, repeats: int, rng: np.random.Generator) -> Result:
    case = conv_case(c_in, c_out, rng)
    return compare(case.numpy_step, case.torch_step, repeats)


def bench_maxpool(repeats: int, rng: np.random.Generator) -> Result:
    x = rng.standard_normal((64, 16, 32, 32)).astype(np.float32)
    dout = rng.standard_normal((64, 16, 16, 16)).astype(np.float32)

    def numpy_step():
        _, cache = maxpool2d_forward(x, 2)
        return maxpool2d_backward(dout, cache)

    xt, dt = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def torch_step():
        F.max_pool2d(xt, 2).backward(dt)

    return compare(numpy_step, torch_step, repeats)


def bench_batchnorm(repeats: int, rng: np.random.Generator) -> Result:
    x = rng.standard_normal((64, 16, 32, 32)).astype(np.float32)
    dout = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta = np.ones(16, np.float32), np.zeros(16, np.float32)
    rm, rv = np.zeros(16, np.float32), np.ones(16, np.float32)

    def numpy_step():
        _, cache = batchnorm_forward(x, gamma, beta, rm, rv, True)
        return batchnorm_backward(dout, cache)

    xt, dt = torch.tensor(x, requires_grad=True), torch.tensor(dout)
    gt, bt = torch.ones(16, requires_grad=True), torch.zeros(16, requires_grad=True)
    trm, trv = torch.zeros(16), torch.ones(16)

    def torch_step():
        F.batch_norm(xt, trm, trv, gt, bt, training=True).backward(dt)

    return compare(numpy_step, torch_step, repeats)


def bench_mlp_epoch(n: int, repeats: int, rng: np.random.Generator) -> Result:
    X = rng.standard_normal((n, 784)).astype(np.float32)
    y = rng.integers(0, 10, n)
    batch = 128

    model = MLP([784, 256, 128, 10], rng=0).astype(np.float32)
    opt = Adam(model.parameters(), lr=1e-3)

    def numpy_epoch():
        order = rng.permutation(n)
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            _, dlogits = softmax_cross_entropy(model.forward(X[idx]), y[idx])
            opt.zero_grad()
            model.backward(dlogits)
            opt.step()

    net = torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    topt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def torch_epoch():
        order = torch.randperm(n)
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            loss = F.cross_entropy(net(Xt[idx]), yt[idx])
            topt.zero_grad()
            loss.backward()
            topt.step()

    return compare(numpy_epoch, torch_epoch, repeats)


def main(argv: list[str] | None = None) -> int:
    global PAUSE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed pairs per case (default 15, quick 5)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats and a 1,000-sample epoch"
    )
    parser.add_argument(
        "--pause-ms",
        type=float,
        default=1000 * PAUSE,
        help="pause before each timed run, in ms (default %(default)g; 0: back to back)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="also write the run as a JSON record here (an existing file is never overwritten)",
    )
    args = parser.parse_args(argv)
    if args.json is not None and args.json.exists():
        parser.error(f"--json {args.json} exists already: name a new file")
    if not args.pause_ms >= 0:
        parser.error(f"--pause-ms must be 0 or more, got {args.pause_ms}")
    PAUSE = args.pause_ms / 1000
    repeats = args.repeats or (5 if args.quick else 15)
    if repeats < 2:
        parser.error(f"--repeats must be at least 2 to give a spread, got {repeats}")
    n_mlp = 1000 if args.quick else 5000
    rng = np.random.default_rng(0)

    print(
        f"NumPy {np.__version__} vs PyTorch {torch.__version__} on CPU "
        f"({torch.get_num_threads()} torch threads), float32, {repeats} interleaved pairs, "
        f"{1000 * PAUSE:g} ms pause before each run"
    )
    load_before = _load("before")
    rows = [
        ("conv 3->16 fwd+bwd (64x3x32x32, 3x3, pad 1)", *bench_conv(3, 16, repeats, rng)),
        ("conv 16->32 fwd+bwd (64x16x32x32, 3x3, pad 1)", *bench_conv(16, 32, repeats, rng)),
        ("max pool 2x2 fwd+bwd (64x16x32x32)", *bench_maxpool(repeats, rng)),
        ("batch norm 2d fwd+bwd (64x16x32x32)", *bench_batchnorm(repeats, rng)),
        (
            f"MLP 784-256-128-10 epoch ({n_mlp} samples, batch 128, Adam)",
            *bench_mlp_epoch(n_mlp, repeats, rng),
        ),
    ]
    load_after = _load("after")
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'NumPy ms':>9}  {'torch ms':>9}  {'ratio':>6}  {'ratio q1-q3':>12}")
    for name, t_np, t_torch, ratio, q1, q3 in rows:
        print(
            f"{name:<{width}}  {t_np * 1e3:9.2f}  {t_torch * 1e3:9.2f}  {ratio:5.2f}x  "
            f"{q1:5.2f}-{q3:5.2f}x"
        )
    ratio = {i: row[3] for i, row in enumerate(rows)}
    checks = [
        (f"conv within {CONV_TARGET:g}x", [ratio[0], ratio[1]], CONV_TARGET),
        (
            f"max pool and batch norm within {POOL_BN_TARGET:g}x",
            [ratio[2], ratio[3]],
            POOL_BN_TARGET,
        ),
        (f"MLP within {MLP_TARGET:g}x", [ratio[4]], MLP_TARGET),
    ]
    print(
        "targets (median ratios): "
        + "; ".join(
            f"{what}: {'MET' if max(rs) <= target else 'MISSED'} "
            f"({', '.join(f'{r:.2f}x' for r in rs)})"
            for what, rs, target in checks
        )
    )
    busy = max(load_before, load_after) > 0.5 * (os.cpu_count() or 1)
    if busy:
        print("warning: the machine was busy; the spreads say how far to trust the ratios")
    if args.json is not None:
        record = {
            "date": time.strftime("%Y-%m-%d"),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "cpus": os.cpu_count(),
            "repeats": repeats,
            "pause_ms": 1000 * PAUSE,
            "load_before": round(load_before, 2),
            "load_after": round(load_after, 2),
            "cases": {
                key: {
                    "case": name,
                    "numpy_ms": round(t_np * 1e3, 2),
                    "torch_ms": round(t_torch * 1e3, 2),
                    "ratio": round(r, 2),
                    "ratio_q1": round(q1, 2),
                    "ratio_q3": round(q3, 2),
                }
                for key, (name, t_np, t_torch, r, q1, q3) in zip(KEYS, rows, strict=True)
            },
        }
        write_record(args.json, record)
    return 0


def write_record(path: Path, record: dict) -> None:
    """Write ``record`` as JSON to a new file ``path`` (an existing record is never overwritten)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:  # "x": fails if the file exists
        json.dump(record, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


def _load(when: str) -> float:
    """Print and return the 1-minute load average (0 where the OS does not report it)."""
    if not hasattr(os, "getloadavg"):
        return 0.0
    load = os.getloadavg()[0]
    print(f"load average {when} the run: {load:.2f} on {os.cpu_count()} CPUs")
    return load


if __name__ == "__main__":
    raise SystemExit(main())
