"""Plain training loop vs the course's fast path, side by side (notebook 09).

For LeNet, ResNet-20, ResNet-56 and ResNet-18 on synthetic CIFAR-shaped data
(3x32x32, 10 classes) it measures training throughput twice:

* **plain**: what a tutorial writes: float32, a DataLoader over CPU tensors
  and a ``.to(device)`` copy per batch, default memory layout;
* **fast**: data resident on the device, GPU-side augmentation (crop + flip),
  channels_last, bf16 autocast and torch.compile (CUDA only, when available);

and prints images/s, the speed-up, the achieved TFLOP/s (2 FLOPs per MAC, a
training step ~ 3 forward passes) and the share of the GPU's dense bf16 peak.

Usage::

    python benchmarks/bench_gpu.py                      # full sizes on a GPU
    python benchmarks/bench_gpu.py --quick              # tiny sizes (default on CPU)
    python benchmarks/bench_gpu.py --out benchmarks/results/h100.json   # or .md
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn as nn

# Run as a script from a checkout: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coursekit.augment import BatchAugment  # noqa: E402
from coursekit.device import describe_device, get_device  # noqa: E402
from coursekit.fast import (  # noqa: E402
    achieved_tflops,
    compile_available,
    measure_throughput,
    peak_tflops,
    plain_loop_throughput,
)
from coursekit.summary import count_macs  # noqa: E402


def _models() -> dict[str, Callable[[], nn.Module]]:
    from coursekit.models import LeNet
    from coursekit.resnet import ResNet18, resnet20, resnet56

    return {
        "LeNet": lambda: LeNet(in_channels=3, num_classes=10, input_size=32),
        "ResNet-20": resnet20,
        "ResNet-56": resnet56,
        "ResNet-18": lambda: ResNet18(num_classes=10),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", default=None, help="tiny sizes (default on CPU)")
    p.add_argument("--full", dest="quick", action="store_false", help="full sizes even on CPU")
    p.add_argument("--batch-size", type=int, default=None, help="default 512 (quick: 8)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 30, quick: 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps (default 10, quick: 1)")
    names = list(_models())
    p.add_argument("--models", nargs="+", default=names, choices=names)
    p.add_argument("--device", default=None)
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile on the fast path")
    p.add_argument("--out", type=Path, default=None, help="write a .json or .md record")
    return p


def run(args: argparse.Namespace) -> dict:
    device = get_device(args.device, verbose=False)
    quick = device.type == "cpu" if args.quick is None else args.quick
    bs = args.batch_size or (8 if quick else 512)
    steps = args.steps or (2 if quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 10)
    compile_ = compile_available(device) and not args.no_compile
    peak = peak_tflops(device)
    augment = BatchAugment(flip=True, crop_padding=4)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest conv algorithms once

    rows = []
    for name in args.models:
        model = _models()[name]()
        macs = count_macs(model, (3, 32, 32), device="cpu")
        plain = plain_loop_throughput(model, (3, 32, 32), bs, steps, warmup, device=device)
        fast = measure_throughput(
            model, (3, 32, 32), bs, steps, warmup, device=device,
            compile=compile_, augment=augment,
        )  # fmt: skip
        tflops = achieved_tflops(macs, fast["images_per_s"])
        rows.append(
            {
                "model": name,
                "macs_per_image": macs,
                "plain_images_per_s": plain["images_per_s"],
                "fast_images_per_s": fast["images_per_s"],
                "speedup": fast["images_per_s"] / plain["images_per_s"],
                "plain_tflops": achieved_tflops(macs, plain["images_per_s"]),
                "fast_tflops": tflops,
                "pct_of_peak": None if peak is None else 100.0 * tflops / peak,
                "fast_dtype": fast["dtype"],
                "fast_channels_last": fast["channels_last"],
                "fast_compiled": fast["compiled"],
            }
        )
        print(_format_row(rows[-1]), flush=True)
    return {
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "batch_size": bs,
        "steps": steps,
        "warmup": warmup,
        "peak_tflops_bf16": peak,
        "results": rows,
    }


_HEADER = (
    f"{'model':<10} {'MMACs':>8} {'plain img/s':>12} {'fast img/s':>12} {'speedup':>8} "
    f"{'TFLOP/s':>8} {'% peak':>7}  fast path"
)


def _format_row(r: dict) -> str:
    pct = "-" if r["pct_of_peak"] is None else f"{r['pct_of_peak']:.1f}"
    path = f"{r['fast_dtype']}, {'NHWC' if r['fast_channels_last'] else 'NCHW'}"
    path += ", compiled" if r["fast_compiled"] else ""
    return (
        f"{r['model']:<10} {r['macs_per_image'] / 1e6:>8.1f} {r['plain_images_per_s']:>12,.0f} "
        f"{r['fast_images_per_s']:>12,.0f} {r['speedup']:>7.2f}x {r['fast_tflops']:>8.3f} "
        f"{pct:>7}  {path}"
    )


def to_markdown(record: dict) -> str:
    """The record as a Markdown table for benchmarks/results/."""
    lines = [
        f"# GPU benchmark: {record['device']}",
        "",
        f"torch {record['torch']}, Python {record['python']}, {record['date']}; batch "
        f"{record['batch_size']}, {record['steps']} timed steps after {record['warmup']} "
        f"warm-up steps{' (quick)' if record['quick'] else ''}; "
        f"peak bf16 {record['peak_tflops_bf16'] or 'unknown'} TFLOP/s.",
        "",
        "| model | MMACs/img | plain img/s | fast img/s | speed-up | TFLOP/s | % of peak |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in record["results"]:
        pct = "-" if r["pct_of_peak"] is None else f"{r['pct_of_peak']:.1f}"
        lines.append(
            f"| {r['model']} | {r['macs_per_image'] / 1e6:.1f} | {r['plain_images_per_s']:,.0f} "
            f"| {r['fast_images_per_s']:,.0f} | {r['speedup']:.2f}x | {r['fast_tflops']:.3f} "
            f"| {pct} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    device = get_device(args.device, verbose=False)
    print(f"device: {describe_device(device)}")
    print(_HEADER)
    record = run(args)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        text = to_markdown(record) if args.out.suffix == ".md" else json.dumps(record, indent=2)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
