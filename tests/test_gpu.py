"""The CUDA code paths: bf16 autocast, channels_last, torch.compile, resident data.

Every test here needs a CUDA GPU and is skipped without one, so the suite
never requires a GPU; on a GPU machine run ``pytest tests/test_gpu.py``.
The CPU-only suite checks the same functions' logic with mocks
(tests/test_device.py, tests/test_fast.py); these tests check that the real
kernels agree with float64 references and that training actually learns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import datasets, fast, training
from coursekit.augment import BatchAugment
from coursekit.conv import conv2d_forward
from coursekit.device import amp_dtype, autocast, describe_device, get_device, prepare_model
from coursekit.distributed import free_port
from coursekit.models import LeNet
from coursekit.resnet import resnet20

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU (torch.cuda.is_available() is False)",
    ),
]

REPO = Path(__file__).resolve().parents[1]
CUDA = torch.device("cuda", 0)


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    """||a - ref|| / ||ref|| in float64 on the CPU."""
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return float(torch.linalg.vector_norm(a - ref) / torch.linalg.vector_norm(ref))


@pytest.fixture(scope="module")
def digits():
    """The shipped 5,000 MNIST digits: (N, 1, 28, 28) float32 in [0, 1]."""
    return datasets.load_dataset("digits", seed=0)


def test_auto_device_is_the_gpu_and_bf16_is_used():
    assert get_device(verbose=False) == CUDA
    assert torch.cuda.get_device_name(0) in describe_device(CUDA)
    # Ampere and newer: bf16 (float32's range, no loss scaling).
    major, _ = torch.cuda.get_device_capability(0)
    assert amp_dtype(CUDA) == (torch.bfloat16 if major >= 8 else torch.float16)


def test_numpy_im2col_conv_matches_cudnn_in_float64():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 11, 9))
    w = rng.standard_normal((5, 3, 3, 3))
    b = rng.standard_normal(5)
    ours, _ = conv2d_forward(x, w, b, stride=2, padding=1)
    ref = F.conv2d(
        torch.from_numpy(x).to(CUDA), torch.from_numpy(w).to(CUDA), torch.from_numpy(b).to(CUDA),
        stride=2, padding=1,
    )  # fmt: skip
    np.testing.assert_allclose(ours, ref.cpu().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("channels_last", [False, True])
def test_resnet_under_bf16_autocast_matches_float64(channels_last):
    torch.manual_seed(0)
    model = resnet20().eval()
    x = torch.randn(16, 3, 32, 32)
    with torch.no_grad():
        ref = model.double()(x.double())  # float64 reference on the CPU
        net = prepare_model(model.float(), CUDA, channels_last=channels_last)
        xb = x.to(CUDA)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(CUDA):
            out = net(xb)
    assert out.dtype == amp_dtype(CUDA)
    assert torch.isfinite(out).all()
    # bf16 operands: errors between 1e-3 and 1e-2 are expected, 20 layers deep.
    assert rel_err(out, ref) < 3e-2


def test_gpu_loader_keeps_data_resident_and_reproducible(digits):
    X, y = digits.train
    kw = dict(batch_size=256, augment=BatchAugment(flip=False, crop_padding=2), device=CUDA, seed=3)
    loader = fast.GpuLoader(X, y, **kw)
    assert loader.X.device == CUDA and loader.y.device == CUDA
    assert loader.X.dtype == amp_dtype(CUDA)
    assert loader.X.is_contiguous(memory_format=torch.channels_last)
    # Normalised once on the device with the data's own (population) statistics.
    mean, std = datasets.normalization_stats(X)
    np.testing.assert_allclose(loader.mean.cpu().numpy(), mean.ravel(), rtol=1e-4)
    np.testing.assert_allclose(loader.std.cpu().numpy(), std.ravel(), rtol=1e-4)

    batches = list(loader)
    assert len(batches) == len(loader) == -(-len(y) // 256)
    xb, yb = batches[0]
    assert xb.device == CUDA and xb.shape == (256, 1, 28, 28)
    assert xb.is_contiguous(memory_format=torch.channels_last)
    # Every label exactly once per epoch.
    assert torch.equal(torch.sort(torch.cat([b[1] for b in batches])).values.cpu(),
                       torch.sort(torch.from_numpy(y)).values)  # fmt: skip
    # Same seed, same epoch: the same batches, augmentation included.
    again = next(iter(fast.GpuLoader(X, y, **kw)))
    assert torch.equal(again[0], xb) and torch.equal(again[1], yb)


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_train_fast_learns_digits_on_the_gpu(digits, compile):
    if compile and not fast.compile_available(CUDA):
        pytest.skip("torch.compile needs Triton, which is not installed")
    torch.manual_seed(0)
    (X, y), (Xv, yv) = digits.train, digits.val
    train = fast.GpuLoader(X, y, 128, augment=BatchAugment(flip=False, crop_padding=2),
                           device=CUDA, drop_last=True)  # fmt: skip
    val = fast.GpuLoader(Xv, yv, 1000, shuffle=False, device=CUDA,
                         mean=train.mean, std=train.std)  # fmt: skip
    model = LeNet(in_channels=1, num_classes=10, input_size=28)
    hist = fast.train_fast(model, train, epochs=4, lr=0.1, val_loader=val, compile=compile,
                           verbose=False)  # fmt: skip
    assert hist["compiled"] is compile
    assert hist["amp_dtype"] == str(amp_dtype(CUDA)).replace("torch.", "")
    assert hist["channels_last"] is True and hist["device"] == "cuda:0"
    assert next(model.parameters()).device == CUDA
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > 0.9, hist["val_acc"]
    # The eager model evaluated again agrees with the accuracy recorded in training.
    acc = fast.evaluate_fast(model, val)
    assert acc == pytest.approx(hist["val_acc"][-1], abs=0.01)


def test_fit_with_amp_on_the_gpu_then_checkpoint_to_cpu(digits, tmp_path):
    torch.manual_seed(0)
    loaders = datasets.make_loaders(digits, batch_size=128, seed=0)
    model = LeNet(in_channels=1, num_classes=10, input_size=28)
    ckpt = tmp_path / "lenet.pt"
    hist = training.fit(
        model, loaders["train"], loaders["val"], epochs=3, lr=3e-3, device=CUDA, amp=True,
        channels_last=True, checkpoint_path=ckpt, progress=False,
    )  # fmt: skip
    assert next(model.parameters()).device == CUDA
    assert hist.val_acc[-1] > 0.9, hist.val_acc
    _, acc_gpu = training.evaluate(model, loaders["test"], device=CUDA, amp=False)

    # A checkpoint written from the GPU loads on a CPU-only machine.
    cpu_model = LeNet(in_channels=1, num_classes=10, input_size=28)
    training.load_checkpoint(ckpt, cpu_model, map_location="cpu")
    _, acc_cpu = training.evaluate(cpu_model, loaders["test"], device="cpu")
    assert acc_cpu == pytest.approx(acc_gpu, abs=0.005)


def test_fp16_autocast_with_grad_scaler_learns(digits, monkeypatch):
    # Pre-Ampere GPUs get float16 and a GradScaler; force that path here.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert amp_dtype(CUDA) == torch.float16
    torch.manual_seed(0)
    X, y = digits.train
    train = fast.GpuLoader(X, y, 128, device=CUDA, drop_last=True)
    assert train.X.dtype == torch.float16
    model = LeNet(in_channels=1, num_classes=10, input_size=28)
    hist = fast.train_fast(model, train, epochs=4, lr=0.1, compile=False, verbose=False)
    assert hist["amp_dtype"] == "float16"
    assert all(np.isfinite(hist["train_loss"]))
    assert hist["train_acc"][-1] > 0.9, hist["train_acc"]


def test_throughput_paths_run_and_report_what_they_did():
    model = resnet20()
    kw = dict(input_shape=(3, 32, 32), batch_size=64, steps=3, warmup=2, device=CUDA)
    plain = fast.plain_loop_throughput(model, **kw)
    quick = fast.measure_throughput(model, **kw, augment=BatchAugment(), compile=False)
    assert plain["dtype"] == "float32" and plain["channels_last"] is False
    assert quick["dtype"] == "bfloat16" and quick["channels_last"] is True
    assert quick["compiled"] is False
    assert plain["images_per_s"] > 0 and quick["images_per_s"] > 0
    assert fast.peak_tflops(CUDA) is None or fast.peak_tflops(CUDA) > 50
    # The original model is left on the CPU, untouched.
    assert next(model.parameters()).device.type == "cpu"


def test_torchrun_nccl_single_gpu(tmp_path):
    # One process per GPU: with one GPU only world size 1 is possible, which still
    # runs the NCCL backend, the device binding and DistributedDataParallel.
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1",
        f"--master_port={free_port()}", "-m", "coursekit.distributed",
        "--synthetic", "--limit", "256", "--epochs", "2", "--batch-size", "32", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "world size 1, backend nccl, device of rank 0: cuda:0" in proc.stdout
    rec = json.loads((out / "rank0.json").read_text())
    assert rec["sha256"] != rec["initial_sha256"]
    assert rec["losses"][-1] < rec["losses"][0]
