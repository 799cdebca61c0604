"""Where the NumPy convolution's time goes, piece by piece, against PyTorch's.

The conv 16->32 case of bench_numpy.py (64x16x32x32 input, 3x3 kernel, pad 1,
float32, forward + backward), on ONE thread on both sides, so that every piece
is timed alone and no thread pool blurs it:

* the whole step: coursekit's ``conv2d_forward`` + ``conv2d_backward`` and
  ``torch.nn.functional.conv2d`` + ``backward`` (oneDNN's direct convolution);
* coursekit's pieces for all 64 images, block by block as it runs them (the
  stride-1 path of ``coursekit.conv``: columns as shifted rows of the flattened
  padded image): the three matrix products per image, the copy of the
  receptive fields (im2col, once per pass) and the scatter-add of the column
  gradient (col2im);
* the same three products in PyTorch (``torch.matmul``), to tell the BLAS's
  speed apart from the convolution's method.

Every repeat runs each item once, in turn, after a short pause (as in
bench_numpy.py), and the medians are printed with GFLOP/s for the products.

    python benchmarks/bench_conv_parts.py
    python benchmarks/bench_conv_parts.py --repeats 31 --json benchmarks/results/conv_parts/run.json
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
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_numpy.py, beside this file

from bench_numpy import conv_case, write_record  # noqa: E402  (conv_case: bench_numpy's conv 16->32)

from coursekit.conv import (  # noqa: E402
    _backward_rows,
    _block_size,
    _dout_on_frames,
    _forward_rows,
    _pad,
    _shift_geometry,
    _shifted_columns,
    _sum_shifted,
)

N, C_IN, C_OUT, HW, K = 64, 16, 32, 32, 3
PAUSE = 0.02  # seconds before each timed run: let idle worker threads go to sleep


def items(rng: np.random.Generator) -> dict[str, tuple[Callable[[], object], float]]:
    """name -> (function to time, its floating-point operations; 0 where not a product).

    The pieces run as ``conv2d_forward``/``conv2d_backward`` run them: a block of
    a few images at a time (``coursekit.conv._block_size``: about 2 MiB of columns, so that
    they stay in the CPU's cache), over all 64 images. The products run over
    Lw = 31 * 34 + 32 flat positions per image, the 1,024 pixels and the 62
    thrown-away positions at the ends of the padded rows, and the forward product
    has the bias as a 145th row; their rates count that work. The steps' rates
    count the convolution's own arithmetic.
    """
    case = conv_case(C_IN, C_OUT, rng)
    hp = wp = HW + 2
    frame = hp * wp
    k = C_IN * K * K
    lw, shifts = _shift_geometry(hp, wp, (K, K), (1, 1))
    w_aug = _forward_rows(case.w, case.b)  # the bias is its last column
    w_pqc = _backward_rows(case.w)
    size = _block_size(N, (k + 1) * lw * 4)  # images per block, as the forward pass takes them
    starts = range(0, N, size)
    xp = _pad(case.x, (1, 1))  # the forward pass pads the batch once, block by block
    cols_aug = np.ones((size, k + 1, lw), np.float32)
    col_view = cols_aug[:, :k].reshape(size, C_IN, K, K, lw)
    _shifted_columns(xp[:size], (1, 1), col_view)
    wide = np.zeros((size, C_OUT, HW * wp), np.float32)
    # the backward pass's columns: rows on whole frames, in the buffer that then takes their gradient
    frames = np.zeros((size, k, frame), np.float32)
    cols = frames[:, :, :lw]
    cols[...] = cols_aug[:, :k]
    # dout of every image on its flat frame, zero at the thrown-away positions
    dframe = np.zeros((N, C_OUT, frame), np.float32)
    _dout_on_frames(case.dout, wp, dframe)
    dcols = np.zeros((size, k, frame), np.float32)
    np.matmul(w_pqc, dframe[:size, :, :lw], out=dcols[:, :, :lw])
    dxf = np.zeros((N, C_IN * frame), np.float32)
    product = 2.0 * N * C_OUT * k * lw  # the two gradient products, all images
    forward = 2.0 * N * C_OUT * (k + 1) * lw  # with the bias row
    step = 3 * 2.0 * N * C_OUT * k * HW * HW  # the convolution's own arithmetic

    def blocks(piece: Callable[[int, int], object]) -> Callable[[], None]:
        def run_all() -> None:
            for start in starts:
                piece(start, min(size, N - start))

        return run_all

    def im2col(start: int, n: int) -> None:
        _shifted_columns(xp[start : start + n], (1, 1), col_view[:n])

    def forward_product(start: int, n: int) -> None:
        np.matmul(w_aug, cols_aug[:n], out=wide[:n, :, :lw])

    def col2im(start: int, n: int) -> None:
        _sum_shifted(dcols[:n].reshape(n, K * K, -1), shifts, out=dxf[start : start + n])

    def column_gradient(start: int, n: int) -> None:
        np.matmul(w_pqc, dframe[start : start + n, :, :lw], out=dcols[:n, :, :lw])

    tw, tcols_aug = torch.from_numpy(w_aug), torch.from_numpy(cols_aug)
    tcols = torch.from_numpy(np.ascontiguousarray(cols))
    tw_pqc, td = torch.from_numpy(w_pqc), torch.from_numpy(dframe[:, :, :lw])
    return {
        "numpy_step": (case.numpy_step, step),
        "torch_step": (case.torch_step, step),
        "forward_product": (blocks(forward_product), forward),
        "column_gradient_product": (blocks(column_gradient), product),
        "weight_gradient_product": (
            blocks(lambda s, n: np.matmul(cols[:n], dframe[s : s + n, :, :lw].mT).sum(0)),
            product,
        ),
        "im2col_copy": (blocks(im2col), 0.0),
        "col2im_scatter": (blocks(col2im), 0.0),
        "torch_forward_product": (blocks(lambda s, n: torch.matmul(tw, tcols_aug[:n])), forward),
        "torch_column_gradient_product": (
            blocks(lambda s, n: torch.matmul(tw_pqc, td[s : s + n])),
            product,
        ),
        "torch_weight_gradient_product": (
            blocks(lambda s, n: torch.matmul(tcols[:n], td[s : s + n].transpose(1, 2)).sum(0)),
            product,
        ),
    }


def run(repeats: int) -> dict[str, dict[str, float]]:
    todo = items(np.random.default_rng(0))
    times: dict[str, list[float]] = {name: [] for name in todo}
    with threadpool_limits(limits=1):
        for fn, _ in todo.values():
            fn()  # warm-up
        for _ in range(repeats):
            for name, (fn, _) in todo.items():
                time.sleep(PAUSE)
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    out = {}
    for name, (_, flops) in todo.items():
        ms = statistics.median(times[name]) * 1e3
        out[name] = {"ms": round(ms, 2)}
        if flops:
            out[name]["gflops"] = round(flops / ms / 1e6, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed runs of each item")
    parser.add_argument(
        "--json",
        type=Path,
        help="also write the run as a JSON record here (an existing file is never overwritten)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.json is not None and args.json.exists():
        parser.error(f"--json {args.json} exists already: name a new file")
    torch.set_num_threads(1)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    parts = run(args.repeats)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(
        f"conv {C_IN}->{C_OUT} fwd+bwd ({N}x{C_IN}x{HW}x{HW}, {K}x{K}, pad 1), float32, "
        f"one thread, NumPy {np.__version__}, PyTorch {torch.__version__}, "
        f"{args.repeats} interleaved repeats; load {load_before:.2f} -> {load_after:.2f}"
    )
    for name, p in parts.items():
        rate = f"{p['gflops']:7.1f} GFLOP/s" if "gflops" in p else ""
        print(f"{name:<31} {p['ms']:8.2f} ms  {rate}")
    pieces = ["forward_product", "column_gradient_product", "weight_gradient_product"]
    products = sum(parts[n]["ms"] for n in pieces)
    copies = 2 * parts["im2col_copy"]["ms"] + parts["col2im_scatter"]["ms"]
    print(
        f"NumPy step {parts['numpy_step']['ms']:.2f} ms = products {products:.2f} + "
        f"im2col (twice) and col2im {copies:.2f} + the rest "
        f"{parts['numpy_step']['ms'] - products - copies:.2f}; "
        f"torch step {parts['torch_step']['ms']:.2f} ms "
        f"(ratio {parts['numpy_step']['ms'] / parts['torch_step']['ms']:.2f}x)"
    )
    if args.json is not None:
        record = {
            "date": time.strftime("%Y-%m-%d"),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "threads": 1,
            "cpus": os.cpu_count(),
            "repeats": args.repeats,
            "pause_ms": 1000 * PAUSE,
            "load_before": round(load_before, 2),
            "load_after": round(load_after, 2),
            "parts": parts,
        }
        write_record(args.json, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
