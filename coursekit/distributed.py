"""Data-parallel training with torch.distributed (notebook 09): one script, N processes.

Run it with ``torchrun``, which starts one process per GPU (or CPU worker) and
tells each its place through environment variables::

    torchrun --nproc_per_node=2 -m coursekit.distributed --backend gloo --epochs 1 \\
        --limit 512 --out runs/ddp            # 2 CPU processes
    torchrun --nproc_per_node=4 -m coursekit.distributed --backend nccl --out runs/ddp

What happens in every process (a "rank"):

1. ``init_process_group`` reads RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
   MASTER_PORT and connects to the others (gloo on CPU, nccl on GPUs).
2. Every rank seeds the same way and builds the same model;
   ``DistributedDataParallel`` also broadcasts rank 0's weights, so all start equal.
3. ``DistributedSampler`` gives each rank a different 1/WORLD_SIZE of every
   epoch's shuffled data (``set_epoch`` changes the shuffle each epoch).
4. After ``backward`` DDP averages the gradients of all ranks (all-reduce), so
   each rank takes the same optimizer step and the weights stay identical:
   one big batch of ``WORLD_SIZE x batch_size`` split over the processes.
5. Rank 0 saves the final ``state_dict``; every rank writes a checksum of its
   parameters to ``OUT/rank{r}.json`` (they must all agree).

Without torchrun (plain ``python -m coursekit.distributed``) it runs as a
single process with WORLD_SIZE 1.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from coursekit._validate import check_positive_int, check_seed

__all__ = ["main", "build_parser", "parameter_checksum", "synthetic_data", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parameter_checksum(model: nn.Module) -> str:
    """SHA-256 of all parameters' bytes, in ``named_parameters`` order.

    Two models have the same checksum exactly when every weight is bit-for-bit
    equal, which is what data-parallel training promises across ranks.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    digest = hashlib.sha256()
    for name, p in model.named_parameters():
        digest.update(name.encode())
        digest.update(p.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def synthetic_data(n: int, seed: int = 0, size: int = 8, num_classes: int = 10):
    """A learnable random task: the label is the argmax of a fixed linear map of the image.

    Returns
    -------
    X : Tensor of shape (n, 1, size, size), float32
    y : Tensor of shape (n,), int64 in [0, num_classes)
    """
    n = check_positive_int(n, "n")
    seed = check_seed(seed, for_torch=True)
    size = check_positive_int(size, "size")
    if check_positive_int(num_classes, "num_classes") < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes}")
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 1, size, size, generator=g)
    W = torch.randn(size * size, num_classes, generator=g)
    y = (X.flatten(1) @ W).argmax(dim=1)
    return X, y


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``python -m coursekit.distributed``."""
    p = argparse.ArgumentParser(
        prog="python -m coursekit.distributed",
        description="Data-parallel (DDP) training; launch with torchrun --nproc_per_node=N.",
    )
    p.add_argument(
        "--backend",
        choices=["gloo", "nccl"],
        default=None,
        help="gloo (CPU) or nccl (CUDA GPUs); default nccl when CUDA is available",
    )
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--limit", type=int, default=None, help="use at most this many images")
    p.add_argument("--model", choices=["mlp", "lenet"], default="mlp")
    p.add_argument("--hidden", type=int, default=64, help="hidden width of the MLP")
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="random 1x8x8 images with a learnable label instead of the shipped digits",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for peers")
    p.add_argument("--out", type=Path, default=None, help="directory for model.pt and rank*.json")
    return p


def _check_args(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "hidden"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be > 0, got {args.lr}")


def _load_data(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor]:
    """Training images (N, 1, S, S) float32 and labels (N,) int64, the same on every rank."""
    if args.synthetic:
        return synthetic_data(args.limit or 512, seed=args.seed)
    try:
        from coursekit.datasets import load_digits, normalization_stats
    except ImportError as exc:
        raise RuntimeError("coursekit.datasets is not available; run with --synthetic") from exc
    # Same seed on every rank, so every rank sees the same split.
    splits = load_digits(source="mnist5k", seed=args.seed, limit=args.limit)
    X, y = splits.train
    mean, std = normalization_stats(X)  # per channel, as notebook 09's GpuLoader does
    X = (X - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)
    return torch.from_numpy(np.asarray(X, dtype=np.float32)), torch.from_numpy(np.asarray(y))


def _build_model(args: argparse.Namespace, shape: tuple[int, ...], num_classes: int) -> nn.Module:
    c, h, w = shape
    if args.model == "lenet":
        from coursekit.models import LeNet

        if h != w:
            raise ValueError(f"--model lenet needs square images, got {h}x{w}")
        return LeNet(in_channels=c, num_classes=num_classes, input_size=h)
    from coursekit.models import MLP

    return MLP(in_features=c * h * w, hidden=(args.hidden,), num_classes=num_classes)


def _setup(backend: str | None, timeout: float) -> tuple[int, int, int, torch.device, str]:
    """Join the process group; returns (rank, world_size, local_rank, device, backend)."""
    if "RANK" not in os.environ:  # plain `python -m coursekit.distributed`: one process
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        if not torch.cuda.is_available():
            raise RuntimeError("--backend nccl needs CUDA GPUs; use --backend gloo on CPU")
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK {local_rank} has no GPU: only {torch.cuda.device_count()} visible; "
                f"start at most that many processes per node"
            )
        # One GPU per process: rank r on this node drives cuda:r.
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group(
        backend=backend,
        init_method="env://",
        timeout=datetime.timedelta(seconds=timeout),
        **({"device_id": device} if backend == "nccl" else {}),
    )
    return rank, world, local_rank, device, backend


class _EpochLoader:
    """A DataLoader with a DistributedSampler that reshuffles every epoch by itself.

    ``fit`` iterates over its loader once per epoch and knows nothing of
    samplers; without ``set_epoch`` every epoch would repeat the same shuffle.
    """

    def __init__(self, loader: DataLoader, sampler: DistributedSampler) -> None:
        self.loader, self.sampler, self.epoch = loader, sampler, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        return iter(self.loader)


def _train(args: argparse.Namespace, rank: int, world: int, device: torch.device) -> dict[str, Any]:
    from coursekit.fast import train_fast

    torch.manual_seed(args.seed)  # identical on every rank: same model, same init
    X, y = _load_data(args)
    num_classes = int(y.max()) + 1
    dataset = TensorDataset(X, y)
    sampler = DistributedSampler(
        dataset, num_replicas=world, rank=rank, shuffle=True, seed=args.seed, drop_last=True
    )
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=False)
    if len(loader) == 0:
        raise ValueError(
            f"--limit {args.limit} leaves no batch for {world} processes; use more data"
        )

    model = _build_model(args, tuple(X.shape[1:]), num_classes).to(device)
    initial = parameter_checksum(model)
    ddp = DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )
    # The training loop is notebook 09's fast recipe (coursekit.fast.train_fast, which
    # runs coursekit.training.fit). DDP all-reduces the gradients inside backward(), so
    # the effective batch is world x batch_size. Only rank 0 prints; its losses are
    # those of its own shard.
    t0 = time.perf_counter()
    hist = train_fast(
        ddp, _EpochLoader(loader, sampler), epochs=args.epochs, lr=args.lr, device=device,
        compile=False, verbose=rank == 0,
    )  # fmt: skip
    losses = torch.tensor(hist["train_loss"], dtype=torch.float64)
    dist.all_reduce(losses)  # equal shards: the mean over ranks is the epoch's mean loss
    return {
        "model": model,
        "initial_sha256": initial,
        "losses": (losses / world).tolist(),
        "steps": args.epochs * len(loader),
        "seconds": time.perf_counter() - t0,
        "examples_per_rank": len(sampler),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv`` (default ``sys.argv[1:]``), train, write results.

    Returns
    -------
    int
        0 on success (the process exit status).
    """
    args = build_parser().parse_args(argv)
    _check_args(args)
    rank, world, local_rank, device, backend = _setup(args.backend, args.timeout)
    try:
        if rank == 0:
            print(f"world size {world}, backend {backend}, device of rank 0: {device}", flush=True)
        result = _train(args, rank, world, device)
        model = result["model"]
        checksum = parameter_checksum(model)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            if rank == 0:
                torch.save(model.state_dict(), args.out / "model.pt")
            record = {
                "rank": rank,
                "local_rank": local_rank,
                "world_size": world,
                "backend": backend,
                "device": str(device),
                "sha256": checksum,
                "initial_sha256": result["initial_sha256"],
                "param_sum": float(sum(p.detach().double().sum() for p in model.parameters())),
                "num_params": sum(p.numel() for p in model.parameters()),
                "losses": result["losses"],
                "steps": result["steps"],
                "examples_per_rank": result["examples_per_rank"],
                "seconds": result["seconds"],
            }
            (args.out / f"rank{rank}.json").write_text(json.dumps(record, indent=2))
        dist.barrier()  # nobody leaves before every rank has written its file
        if rank == 0:
            print(f"done: {result['steps']} steps per rank, parameter sha256 {checksum[:16]}...")
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
