"""How fast is coursekit's NumPy half compared with PyTorch on the CPU?

Times forward + backward of the vectorised convolution, max pooling and batch
norm, and one training epoch of an MLP, against the same work in PyTorch
(float32, CPU, torch's default thread count). Each number is the median of
several repeats after a warm-up run.

    python benchmarks/bench_numpy.py              # full run
    python benchmarks/bench_numpy.py --quick      # fewer repeats, smaller epoch
    python benchmarks/bench_numpy.py --repeats 9

Targets: the NumPy convolution within 4x of torch, the NumPy MLP epoch within 2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

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

CONV_TARGET, MLP_TARGET = 4.0, 2.0


def compare(
    numpy_fn: Callable[[], object], torch_fn: Callable[[], object], repeats: int
) -> tuple[float, float]:
    """Median wall times (s) of both, after a warm-up call of each.

    The two are timed alternately, so a busy machine slows both alike.
    """
    numpy_fn()
    torch_fn()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, bucket in zip((numpy_fn, torch_fn), times, strict=True):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def bench_conv(
    c_in: int, c_out: int, repeats: int, rng: np.random.Generator
) -> tuple[float, float]:
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

    return compare(numpy_step, torch_step, repeats)


def bench_maxpool(repeats: int, rng: np.random.Generator) -> tuple[float, float]:
    x = rng.standard_normal((64, 16, 32, 32)).astype(np.float32)
    dout = rng.standard_normal((64, 16, 16, 16)).astype(np.float32)

    def numpy_step():
        _, cache = maxpool2d_forward(x, 2)
        return maxpool2d_backward(dout, cache)

    xt, dt = torch.tensor(x, requires_grad=True), torch.tensor(dout)

    def torch_step():
        F.max_pool2d(xt, 2).backward(dt)

    return compare(numpy_step, torch_step, repeats)


def bench_batchnorm(repeats: int, rng: np.random.Generator) -> tuple[float, float]:
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


def bench_mlp_epoch(n: int, repeats: int, rng: np.random.Generator) -> tuple[float, float]:
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per case (default 7, quick 3)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats and a 1,000-sample epoch"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    n_mlp = 1000 if args.quick else 5000
    rng = np.random.default_rng(0)

    print(
        f"NumPy {np.__version__} vs PyTorch {torch.__version__} on CPU "
        f"({torch.get_num_threads()} torch threads), float32, median of {repeats} runs"
    )
    if hasattr(os, "getloadavg"):
        # timings on a shared machine swing wildly (BLAS threads fight for cores)
        load = os.getloadavg()[0]
        print(f"load average before the run: {load:.2f} on {os.cpu_count()} CPUs")
        if load > 0.5 * (os.cpu_count() or 1):
            print("warning: the machine is busy; timings (NumPy's above all) may be far off")
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
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'NumPy ms':>9}  {'torch ms':>9}  {'ratio':>6}")
    for name, t_np, t_torch in rows:
        print(f"{name:<{width}}  {t_np * 1e3:9.2f}  {t_torch * 1e3:9.2f}  {t_np / t_torch:5.2f}x")

    conv_ratios = [rows[0][1] / rows[0][2], rows[1][1] / rows[1][2]]
    mlp_ratio = rows[4][1] / rows[4][2]
    conv_ok = max(conv_ratios) <= CONV_TARGET
    mlp_ok = mlp_ratio <= MLP_TARGET
    print(
        f"targets: conv within {CONV_TARGET:g}x: {'MET' if conv_ok else 'MISSED'} "
        f"({', '.join(f'{r:.2f}x' for r in conv_ratios)}); "
        f"MLP within {MLP_TARGET:g}x: {'MET' if mlp_ok else 'MISSED'} ({mlp_ratio:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
