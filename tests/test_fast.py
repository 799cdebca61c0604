"""Tests for coursekit.fast: GPU-resident loader, fast recipe, throughput, FLOP/s (on CPU)."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from helpers import broken_compiled_module, compile_calls

from coursekit.augment import BatchAugment, train_transforms
from coursekit.fast import (
    GpuLoader,
    achieved_tflops,
    copy_bandwidth,
    evaluate_fast,
    format_ladder,
    measure_throughput,
    peak_tflops,
    plain_loop_throughput,
    speedup_ladder,
    train_fast,
    warmup_linear_decay,
)


def _images(n=50, c=3, h=6, w=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g), torch.randint(0, 4, (n,), generator=g)


def _tiny_cnn(in_ch=3, k=2):
    return nn.Sequential(
        nn.Conv2d(in_ch, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, k),
    )


def _toy_task(n=256, seed=0):
    """Class 1 = the image is brighter in its left half; no other signal."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    X[y == 1, :, :, :4] += 0.6
    X[y == 0, :, :, 4:] += 0.6
    return X, y


# --------------------------------------------------------------------------- #
# GpuLoader
# --------------------------------------------------------------------------- #
def test_loader_yields_every_sample_exactly_once_per_epoch():
    X, y = _images(50)
    # Tag each image by its index so batches can be traced back.
    X[:, 0, 0, 0] = torch.arange(50, dtype=torch.float32)
    loader = GpuLoader(X, y, batch_size=8, device="cpu", normalize=False)
    assert len(loader) == 7
    for _ in range(2):
        ids, sizes = [], []
        for xb, yb in loader:
            assert xb.device.type == "cpu" and yb.dtype == torch.int64
            tags = xb[:, 0, 0, 0].long()
            torch.testing.assert_close(yb, y[tags])  # labels travel with their images
            ids += tags.tolist()
            sizes.append(len(yb))
        assert sorted(ids) == list(range(50))
        assert sizes == [8] * 6 + [2]


def test_loader_drop_last_and_no_shuffle():
    X, y = _images(50)
    loader = GpuLoader(
        X, y, batch_size=8, shuffle=False, drop_last=True, device="cpu", normalize=False
    )
    assert len(loader) == 6
    batches = list(loader)
    assert len(batches) == 6
    torch.testing.assert_close(torch.cat([b[0] for b in batches]), X[:48])
    torch.testing.assert_close(torch.cat([b[1] for b in batches]), y[:48])


def test_loader_order_is_deterministic_by_seed_and_changes_per_epoch():
    X, y = _images(40)
    X[:, 0, 0, 0] = torch.arange(40, dtype=torch.float32)

    def orders(seed):
        loader = GpuLoader(X, y, batch_size=40, seed=seed, device="cpu", normalize=False)
        return [next(iter(loader))[0][:, 0, 0, 0].tolist() for _ in range(2)]

    a, b, c = orders(3), orders(3), orders(4)
    assert a == b
    assert a != c
    assert a[0] != a[1]  # a new permutation each epoch


def test_loader_normalises_once_per_channel():
    X, y = _images(64, c=3, h=4, w=4, seed=2)
    X = X * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1) + 5
    loader = GpuLoader(X, y, batch_size=64, shuffle=False, device="cpu")
    xb, _ = next(iter(loader))
    torch.testing.assert_close(xb.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        xb.std(dim=(0, 2, 3), correction=0), torch.ones(3), atol=1e-5, rtol=0
    )
    # Given statistics are used as they are, after scaling uint8 to [0, 1].
    Xu = (torch.rand(10, 3, 4, 4) * 255).to(torch.uint8)
    lu = GpuLoader(Xu, y[:10], 10, shuffle=False, device="cpu", mean=[0.5] * 3, std=[0.25] * 3)
    torch.testing.assert_close(next(iter(lu))[0], (Xu.float() / 255 - 0.5) / 0.25)


def test_loader_accepts_numpy_and_applies_augmentation():
    X, y = _images(32, h=8, w=8)
    loader = GpuLoader(X.numpy(), y.numpy(), 32, shuffle=False, device="cpu", normalize=False)
    torch.testing.assert_close(next(iter(loader))[0], X)
    flip = GpuLoader(
        X,
        y,
        32,
        shuffle=False,
        device="cpu",
        normalize=False,
        augment=BatchAugment(flip=False, crop_padding=0, noise=0.1),
    )
    xb, _ = next(iter(flip))
    assert float((xb - X).std()) == pytest.approx(0.1, rel=0.1)

    calls = []

    def spy(xb, gen):
        calls.append((xb.shape, gen))
        return torch.flip(xb, dims=[3])

    spied = GpuLoader(X, y, 16, shuffle=False, device="cpu", normalize=False, augment=spy)
    out = torch.cat([xb for xb, _ in spied])
    torch.testing.assert_close(out, X.flip(3))
    assert [c[0][0] for c in calls] == [16, 16]
    assert isinstance(calls[0][1], torch.Generator)


def test_loader_dtype_and_channels_last_options():
    X, y = _images(16, h=4, w=4)
    loader = GpuLoader(X, y, 8, device="cpu", dtype=torch.bfloat16, channels_last=True)
    xb, _ = next(iter(loader))
    assert xb.dtype == torch.bfloat16
    assert xb.is_contiguous(memory_format=torch.channels_last)
    assert GpuLoader(X, y, 8, device="cpu").dtype == torch.float32  # CPU default


def test_loader_errors():
    X, y = _images(10)
    with pytest.raises(ValueError, match=r"X must be 4-D \(N, C, H, W\), got 3-D"):
        GpuLoader(X[0], y, 4, device="cpu")
    with pytest.raises(ValueError, match="X and y must have the same batch size, got 10 and 9"):
        GpuLoader(X, y[:9], 4, device="cpu")
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        GpuLoader(X, y.float(), 4, device="cpu")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        GpuLoader(X, y, 0, device="cpu")
    with pytest.raises(TypeError, match="X must be a torch.Tensor or numpy.ndarray, got list"):
        GpuLoader([[1]], y, 4, device="cpu")
    with pytest.raises(ValueError, match=r"mean must have one value per channel \(3\), got 2"):
        GpuLoader(X, y, 4, device="cpu", mean=[0.1, 0.2])
    with pytest.raises(TypeError, match="augment must be callable"):
        GpuLoader(X, y, 4, device="cpu", augment=3)


# --------------------------------------------------------------------------- #
# train_fast / evaluate_fast
# --------------------------------------------------------------------------- #
def test_warmup_linear_decay_shape():
    f = warmup_linear_decay(10, 4)
    vals = [f(s) for s in range(10)]
    np.testing.assert_allclose(vals[:4], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(vals[4:], [1.0, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert warmup_linear_decay(5, 0)(0) == 1.0


def test_train_fast_learns_a_tiny_task(capsys):
    torch.manual_seed(0)
    X, y = _toy_task(256)
    Xv, yv = _toy_task(128, seed=1)
    train = GpuLoader(
        X, y, 32, device="cpu", seed=0, augment=BatchAugment(flip=False, crop_padding=1)
    )
    val = GpuLoader(Xv, yv, 64, shuffle=False, device="cpu", mean=train.mean, std=train.std)
    model = _tiny_cnn(1, 2)
    hist = train_fast(model, train, epochs=4, lr=0.2, val_loader=val)
    assert len(hist["train_loss"]) == 4 and len(hist["epoch_time"]) == 4
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > 0.9
    assert all(t > 0 for t in hist["epoch_time"])
    # CPU: no autocast, no channels_last, no compile.
    assert hist["amp_dtype"] is None and not hist["channels_last"] and not hist["compiled"]
    # lr at the start of each epoch: 8 batches per epoch, 32 steps, 6 of warm-up (20%).
    assert hist["lr"] == pytest.approx([0.2 / 6, 0.2 * 24 / 26, 0.2 * 16 / 26, 0.2 * 8 / 26])
    assert len(hist["val_loss"]) == 4 and hist["val_loss"][-1] < hist["val_loss"][0]
    assert "epoch 4/4" in capsys.readouterr().out
    acc = evaluate_fast(model, val)
    assert acc == pytest.approx(hist["val_acc"][-1])
    # Flip TTA adds the logits of the mirrored images (here the mirror has the other class).
    model.eval()
    with torch.no_grad():
        logits = model(val.X) + model(val.X.flip(-1))
    model.train()
    expected = (logits.argmax(dim=1) == val.y).double().mean().item()
    assert evaluate_fast(model, val, tta_flip=True) == pytest.approx(expected)
    assert model.training  # mode restored


def test_train_fast_uses_nesterov_sgd_and_no_decay_on_biases(monkeypatch):
    seen = {}
    real = torch.optim.SGD

    def spy(params, **kw):
        opt = real(params, **kw)
        seen["opt"] = opt
        return opt

    monkeypatch.setattr(torch.optim, "SGD", spy)
    X, y = _toy_task(64)
    model = _tiny_cnn(1, 2)
    train_fast(model, GpuLoader(X, y, 32, device="cpu"), 1, 0.1, weight_decay=1e-3, verbose=False)
    groups = seen["opt"].param_groups
    assert all(g["nesterov"] for g in groups)
    assert {g["weight_decay"] for g in groups} == {1e-3, 0.0}
    assert all(p.ndim > 1 for p in groups[0]["params"])
    assert all(p.ndim == 1 for p in groups[1]["params"])


def test_train_fast_with_bf16_resident_data_on_cpu_casts_without_autocast():
    X, y = _toy_task(64)
    loader = GpuLoader(X, y, 32, device="cpu", dtype=torch.bfloat16)
    model = _tiny_cnn(1, 2)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    hist = train_fast(model, loader, 1, 0.05, verbose=False)
    assert np.isfinite(hist["train_loss"][0])
    assert hist["amp_dtype"] is None  # no autocast on the CPU
    # Every batch reached the float32 model as float32, holding the bf16 values unchanged.
    assert len(seen) >= 2 and {x.dtype for x in seen} == {torch.float32}
    for x in seen:
        assert torch.equal(x, x.bfloat16().float())


def test_train_fast_errors():
    X, y = _toy_task(32)
    loader = GpuLoader(X, y, 16, device="cpu")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train_fast("net", loader, 1, 0.1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0.0"):
        train_fast(_tiny_cnn(1), loader, 1, 0.0)
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\), got 1.0"):
        train_fast(_tiny_cnn(1), loader, 1, 0.1, label_smoothing=1.0)
    with pytest.raises(TypeError, match="compile must be True, False or None"):
        train_fast(_tiny_cnn(1), loader, 1, 0.1, compile="yes")
    with pytest.raises(ValueError, match="amp must be False or None on device 'cpu'"):
        train_fast(_tiny_cnn(1), loader, 1, 0.1, amp=True)


# --------------------------------------------------------------------------- #
# throughput and FLOP/s
# --------------------------------------------------------------------------- #
def test_measure_throughput_on_cpu_and_leaves_model_untouched():
    model = _tiny_cnn(3, 10)
    before = [p.detach().clone() for p in model.parameters()]
    r = measure_throughput(model, (3, 8, 8), batch_size=8, steps=3, warmup=1, device="cpu")
    assert r["images_per_s"] > 0 and r["step_ms"] > 0
    assert r["images_per_s"] == pytest.approx(8 * 1000 / r["step_ms"])
    assert r["device"] == "cpu" and r["dtype"] == "float32"
    assert r["channels_last"] is False and r["compiled"] is False and r["loop"] == "resident"
    for p, q in zip(before, model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    ra = measure_throughput(
        model,
        (3, 8, 8),
        batch_size=8,
        steps=2,
        warmup=0,
        device="cpu",
        optimizer="adamw",
        augment=BatchAugment(),
        channels_last=True,
    )
    assert ra["images_per_s"] > 0 and ra["channels_last"] is True
    rr = measure_throughput(model, (3, 8, 8), batch_size=8, steps=2, warmup=0, device="cpu",
                            repeats=3)  # fmt: skip
    runs = rr["images_per_s_runs"]
    assert rr["repeats"] == 3 and len(runs) == 3 and runs == sorted(runs)
    assert rr["images_per_s"] == runs[1]  # the median run
    assert rr["step_ms"] == pytest.approx(8 * 1000 / runs[1])


def test_measure_throughput_times_eager_mode_when_compiled_code_fails(monkeypatch, capsys):
    compiled = compile_calls(monkeypatch, broken_compiled_module)
    r = measure_throughput(
        _tiny_cnn(3, 10), (3, 8, 8), batch_size=8, steps=2, warmup=0, device="cpu", compile=True
    )
    assert r["compiled"] is False and r["images_per_s"] > 0
    assert len(compiled) == 1 and compiled[0].keys() == {"model"}
    assert "torch.compile failed (RuntimeError); timing eager mode" in capsys.readouterr().out


def test_plain_loop_throughput_on_cpu():
    r = plain_loop_throughput(
        _tiny_cnn(3, 10), (3, 8, 8), batch_size=8, steps=3, warmup=1, device="cpu"
    )
    assert r["images_per_s"] > 0 and r["loop"] == "plain" and r["dtype"] == "float32"


def test_tutorial_loop_transforms_every_image_it_trains_on():
    calls = []

    def transform(img):  # what the DataLoader hands a torchvision transform: one uint8 image
        assert img.dtype == torch.uint8 and img.shape == (3, 8, 8)
        calls.append(1)
        return img.float() / 255

    r = plain_loop_throughput(
        _tiny_cnn(3, 10), (3, 8, 8), batch_size=4, steps=3, warmup=2, device="cpu",
        transform=transform, repeats=2,
    )  # fmt: skip
    assert r["loop"] == "tutorial" and r["num_workers"] == 0 and r["dtype"] == "float32"
    assert len(calls) == 4 * (2 + 3 * 2)  # every image of every batch, warm-up included
    assert r["repeats"] == 2 and len(r["images_per_s_runs"]) == 2


def test_tutorial_loop_with_worker_processes_and_torchvision_transforms():
    tf = train_transforms("cifar10", mean=(0.5, 0.5, 0.5), std=(0.29, 0.29, 0.29))
    r = plain_loop_throughput(
        _tiny_cnn(3, 10), (3, 32, 32), batch_size=8, steps=2, warmup=1, device="cpu",
        num_workers=2, transform=tf,
    )  # fmt: skip
    assert r["images_per_s"] > 0 and r["loop"] == "tutorial" and r["num_workers"] == 2


def test_speedup_ladder_on_cpu_runs_the_cpu_rows_and_names_the_skipped_ones():
    rows = speedup_ladder(
        _tiny_cnn(3, 10), (3, 32, 32), batch_size=8, steps=2, warmup=1, device="cpu",
        num_workers=0,
    )  # fmt: skip
    assert [r["step"] for r in rows] == [
        "tutorial loop (0 workers)",
        "resident data + batched augmentation",
        "+ channels_last",
        "+ bf16 autocast",
        "fp16 autocast + grad scaler",
        "+ torch.compile",
        "+ batch 32",
    ]
    assert rows[0]["speedup"] == 1.0
    for r in rows[:3] + rows[6:]:
        assert r["images_per_s"] > 0 and r["skipped"] is None
        assert r["speedup"] == pytest.approx(r["images_per_s"] / rows[0]["images_per_s"])
    assert rows[3] == {"step": "+ bf16 autocast", "images_per_s": None, "speedup": None,
                       "skipped": "needs CUDA"}  # fmt: skip
    assert rows[4]["images_per_s"] is None and rows[4]["skipped"] == "needs CUDA"
    assert rows[5]["images_per_s"] is None and rows[5]["skipped"] == "needs CUDA and Triton"

    table = format_ladder(rows, macs_per_image=1e6).splitlines()
    assert table[0].split() == ["step", "images/s", "speed-up", "TFLOP/s"]
    ips = rows[1]["images_per_s"]
    assert table[2].split()[-3:] == [f"{ips:,.0f}", f"{rows[1]['speedup']:.2f}x",
                                     f"{6e6 * ips / 1e12:.3f}"]  # fmt: skip
    assert table[4].endswith("skipped (needs CUDA)")


def test_speedup_ladder_wants_a_larger_batch():
    with pytest.raises(ValueError, match="batch_factor must be >= 2, got 1"):
        speedup_ladder(_tiny_cnn(3, 10), (3, 8, 8), batch_size=2, device="cpu", batch_factor=1)


def test_copy_bandwidth_on_cpu_says_what_it_cannot_measure():
    rows = copy_bandwidth("cpu", batch_shape=(2, 3, 4, 4), repeats=1)
    assert [r["copy"] for r in rows] == ["pageable", "pinned", "pinned, non_blocking"]
    for r in rows:
        assert r["gb_per_s"] is None and r["ms"] is None
        assert r["skipped"] == "cpu: no host-to-device bus, and pinned memory needs CUDA"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_copy_bandwidth_on_cuda_measures_every_copy():
    rows = copy_bandwidth("cuda", batch_shape=(64, 3, 32, 32), repeats=2)
    assert all(r["gb_per_s"] > 0 and r["skipped"] is None for r in rows)


def test_float16_throughput_needs_cuda():
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        measure_throughput(_tiny_cnn(), (3, 8, 8), batch_size=2, steps=1, device="cpu", fp16=True)


def test_throughput_errors():
    with pytest.raises(TypeError, match="input_shape must be a tuple like"):
        measure_throughput(_tiny_cnn(), 32, device="cpu")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        measure_throughput(_tiny_cnn(), (3, 8, 8), device="cpu", optimizer="lion")
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        plain_loop_throughput(_tiny_cnn(), (3, 8, 8), steps=0, device="cpu")
    with pytest.raises(TypeError, match="transform must be callable"):
        plain_loop_throughput(_tiny_cnn(), (3, 8, 8), device="cpu", transform="crop")
    with pytest.raises(ValueError, match=r"model must return logits of shape \(N, K\)"):
        measure_throughput(nn.Conv2d(3, 2, 1), (3, 4, 4), batch_size=2, steps=1, device="cpu")


def test_achieved_tflops_formula():
    # ResNet-20: 40.55M MACs/image at 10,000 images/s -> 2 * 3 * 40.55e6 * 1e4 = 2.433 TFLOP/s
    assert achieved_tflops(40.55e6, 10_000) == pytest.approx(2.433)
    assert achieved_tflops(1e6, 1e6, training_factor=1) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="macs_per_image must be a finite number > 0"):
        achieved_tflops(0, 100)


def test_peak_tflops_table():
    assert peak_tflops("cpu") is None
    assert peak_tflops(torch.device("cpu")) is None
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert peak_tflops("NVIDIA H200") == 989.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_tflops("NVIDIA L4") == 121.0
    assert peak_tflops("NVIDIA GeForce RTX 4090") == 165.0
    assert peak_tflops("Some Unknown GPU") is None
    with pytest.raises(TypeError, match="device must be a torch.device or str"):
        peak_tflops(3)
