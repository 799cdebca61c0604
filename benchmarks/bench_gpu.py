"""Plain training loop vs the course's fast path, side by side (notebook 09).

For LeNet, ResNet-20, ResNet-56 and ResNet-18 on synthetic CIFAR-shaped data
(3x32x32, 10 classes) it measures training throughput of three loops:

* **tutorial**: what a tutorial writes (the PyTorch CIFAR-10 tutorial, or
  kuangliu/pytorch-cifar): float32, a shuffling DataLoader whose worker
  processes (``--workers``, default 2 as in those tutorials) crop, flip and
  normalise one uint8 image at a time with torchvision transforms, and a
  ``.to(device)`` copy per batch, default memory layout;
* **plain**: the same loop with no augmentation at all (ready float32
  tensors, only collated): the most generous baseline, which isolates what
  the device-side changes give;
* **fast**: data resident on the device, the same crop + flip done on the
  whole batch on the device, channels_last, bf16 autocast and torch.compile
  (CUDA only, when available);

and prints images/s, the speed-ups of the fast path over both baselines, the
achieved TFLOP/s (2 FLOPs per MAC, a training step ~ 3 forward passes) and
the share of the GPU's dense bf16 peak.

Usage::

    python benchmarks/bench_gpu.py                      # full sizes on a GPU
    python benchmarks/bench_gpu.py --quick              # tiny sizes (default on CPU)
    python benchmarks/bench_gpu.py --out benchmarks/results/h100.md     # and h100.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn as nn

# Run as a script from a checkout: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coursekit.augment import BatchAugment, train_transforms  # noqa: E402
from coursekit.device import describe_device, get_device  # noqa: E402
from coursekit.fast import (  # noqa: E402
    achieved_tflops,
    compile_available,
    format_ladder,
    measure_throughput,
    peak_tflops,
    plain_loop_throughput,
    speedup_ladder,
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
    p.add_argument(
        "--repeats", type=int, default=None,
        help="timed runs of --steps steps per figure; the median is reported (default 5, quick: 1)",
    )  # fmt: skip
    names = list(_models())
    p.add_argument("--models", nargs="+", default=names, choices=names)
    p.add_argument(
        "--workers", type=int, nargs="+", default=[2],
        help="DataLoader workers of the tutorial loop; several values give several columns",
    )  # fmt: skip
    p.add_argument(
        "--ladder", default="ResNet-18", choices=[*names, "none"],
        help="model of the one-change-at-a-time table (default ResNet-18)",
    )  # fmt: skip
    p.add_argument("--device", default=None)
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile on the fast path")
    p.add_argument(
        "--out", type=Path, default=None,
        help="write the record: PATH.md (a table) and PATH.json (every figure) beside it",
    )  # fmt: skip
    return p


def run(args: argparse.Namespace) -> dict:
    device = get_device(args.device, verbose=False)
    quick = device.type == "cpu" if args.quick is None else args.quick
    bs = args.batch_size or (8 if quick else 512)
    steps = args.steps or (2 if quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 10)
    repeats = args.repeats or (1 if quick else 5)
    compile_ = compile_available(device) and not args.no_compile
    peak = peak_tflops(device)
    augment = BatchAugment(flip=True, crop_padding=4)
    # The synthetic images are uniform on 0..255: mean 1/2 and std sqrt((256^2 - 1) / 12) / 255
    # once scaled to [0, 1]. (The values do not change the speed; real data uses its own.)
    tutorial_tf = train_transforms("cifar10", mean=(0.5,) * 3, std=(0.2898,) * 3)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest conv algorithms once

    rows = []
    for name in args.models:
        model = _models()[name]()
        macs = count_macs(model, (3, 32, 32), device="cpu")
        kw = dict(batch_size=bs, steps=steps, warmup=warmup, device=device, repeats=repeats)
        tutorial = {
            w: plain_loop_throughput(model, num_workers=w, transform=tutorial_tf, **kw)
            for w in args.workers
        }
        plain = plain_loop_throughput(model, **kw)
        fast = measure_throughput(model, compile=compile_, augment=augment, **kw)
        tflops = achieved_tflops(macs, fast["images_per_s"])
        rows.append(
            {
                "model": name,
                "macs_per_image": macs,
                "tutorial_images_per_s": {str(w): v["images_per_s"] for w, v in tutorial.items()},
                "plain_images_per_s": plain["images_per_s"],
                "fast_images_per_s": fast["images_per_s"],
                # Every timed run (sorted): their spread is the measurement noise.
                "runs": {
                    **{f"tutorial_{w}": v["images_per_s_runs"] for w, v in tutorial.items()},
                    "plain": plain["images_per_s_runs"],
                    "fast": fast["images_per_s_runs"],
                },
                # Over the tutorial loop with the first --workers value.
                "speedup": fast["images_per_s"] / tutorial[args.workers[0]]["images_per_s"],
                "speedup_over_plain": fast["images_per_s"] / plain["images_per_s"],
                "plain_tflops": achieved_tflops(macs, plain["images_per_s"]),
                "fast_tflops": tflops,
                "pct_of_peak": None if peak is None else 100.0 * tflops / peak,
                "fast_dtype": fast["dtype"],
                "fast_channels_last": fast["channels_last"],
                "fast_compiled": fast["compiled"],
            }
        )
        if len(rows) == 1:
            print(_header(args.workers))
        print(_format_row(rows[-1]), flush=True)
    ladder = []
    if args.ladder != "none":
        print(f"\n{args.ladder}, one change at a time:")
        ladder = speedup_ladder(
            _models()[args.ladder](), (3, 32, 32), bs, steps, warmup, device=device,
            num_workers=args.workers[0], repeats=repeats,
        )  # fmt: skip
        print(format_ladder(ladder, count_macs(_models()[args.ladder](), (3, 32, 32))))
    return {
        "device": describe_device(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "batch_size": bs,
        "steps": steps,
        "warmup": warmup,
        "repeats": repeats,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "peak_tflops_bf16": peak,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "results": rows,
        "ladder_model": None if args.ladder == "none" else args.ladder,
        "ladder": ladder,
    }


def _header(workers: Sequence[int]) -> str:
    tut = " ".join(f"{f'tutorial/{w}w':>12}" for w in workers)
    return (
        f"{'model':<10} {'MMACs':>8} {tut} {'plain img/s':>12} {'fast img/s':>12} "
        f"{'vs tutorial':>11} {'vs plain':>9} {'TFLOP/s':>8} {'% peak':>7}  fast path"
    )


def _pct_and_path(r: dict) -> tuple[str, str]:
    """A result row's share of peak and its fast-path description, as printed."""
    pct = "-" if r["pct_of_peak"] is None else f"{r['pct_of_peak']:.1f}"
    path = f"{r['fast_dtype']}, {'NHWC' if r['fast_channels_last'] else 'NCHW'}"
    return pct, path + (", compiled" if r["fast_compiled"] else "")


def _format_row(r: dict) -> str:
    pct, path = _pct_and_path(r)
    tut = " ".join(f"{v:>12,.0f}" for v in r["tutorial_images_per_s"].values())
    return (
        f"{r['model']:<10} {r['macs_per_image'] / 1e6:>8.1f} {tut} "
        f"{r['plain_images_per_s']:>12,.0f} {r['fast_images_per_s']:>12,.0f} "
        f"{r['speedup']:>10.2f}x {r['speedup_over_plain']:>8.2f}x {r['fast_tflops']:>8.3f} "
        f"{pct:>7}  {path}"
    )


def to_markdown(record: dict) -> str:
    """The record as a Markdown table for benchmarks/results/."""
    workers = record["workers"]
    tut_heads = " | ".join(f"tutorial img/s ({w} workers)" for w in workers)
    lines = [
        f"# GPU benchmark: {record['device']}",
        "",
        f"torch {record['torch']}, Python {record['python']}, {record['cpu_count']} CPU cores, "
        f"{record['date']}; batch {record['batch_size']}, median of {record['repeats']} runs of "
        f"{record['steps']} timed steps after {record['warmup']} warm-up steps"
        f"{' (quick)' if record['quick'] else ''}; "
        f"peak bf16 {record['peak_tflops_bf16'] or 'unknown'} TFLOP/s. "
        f"Speed-up columns: fast path over the tutorial loop with {workers[0]} workers, "
        "and over the plain loop without augmentation.",
        "",
        f"| model | MMACs/img | {tut_heads} | plain img/s (no aug.) | fast img/s "
        "| vs tutorial | vs plain | TFLOP/s | % of peak | fast path |",
        "| --- | ---: | "
        + "---: | " * len(workers)
        + "---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in record["results"]:
        pct, path = _pct_and_path(r)
        tut = " | ".join(f"{v:,.0f}" for v in r["tutorial_images_per_s"].values())
        lines.append(
            f"| {r['model']} | {r['macs_per_image'] / 1e6:.1f} | {tut} "
            f"| {r['plain_images_per_s']:,.0f} | {r['fast_images_per_s']:,.0f} "
            f"| {r['speedup']:.2f}x | {r['speedup_over_plain']:.2f}x | {r['fast_tflops']:.3f} "
            f"| {pct} | {path} |"
        )
    if record["ladder"]:
        lines += [
            "",
            f"{record['ladder_model']}, one change at a time (every row does the same crop + flip "
            "augmentation):",
            "",
            "| step | img/s | speed-up |",
            "| --- | ---: | ---: |",
        ]
        for row in record["ladder"]:
            if row["images_per_s"] is None:
                lines.append(f"| {row['step']} | skipped ({row['skipped']}) | |")
            else:
                lines.append(
                    f"| {row['step']} | {row['images_per_s']:,.0f} | {row['speedup']:.2f}x |"
                )
    lines += [
        "",
        f"cuDNN TF32 allowed: {record['cudnn_allow_tf32']} (PyTorch's default: on Ampere and "
        "newer GPUs the float32 loops' convolutions run in TF32 on tensor cores); matmul TF32: "
        f"{record['matmul_allow_tf32']}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    device = get_device(args.device, verbose=False)
    print(f"device: {describe_device(device)}")
    record = run(args)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        md, js = args.out.with_suffix(".md"), args.out.with_suffix(".json")
        md.write_text(to_markdown(record))
        js.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
