"""Device selection (with CUDA and MPS mocked), moving data, precision policy."""

from collections import namedtuple

import numpy as np
import pytest
import torch
from torch import nn

from coursekit import device as dev


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine with neither CUDA nor MPS, and no COURSEKIT_DEVICE."""
    monkeypatch.delenv(dev.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch):
    """A machine with two (mocked) CUDA GPUs that support bfloat16, plus MPS."""
    monkeypatch.delenv(dev.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"Fake GPU {i}")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


@pytest.fixture
def fake_mps(monkeypatch):
    monkeypatch.delenv(dev.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)


# ----------------------------------------------------------------- get_device


def test_cpu_fallback_says_why(no_gpu, capsys):
    assert dev.get_device() == torch.device("cpu")
    assert capsys.readouterr().out.strip() == "coursekit: using cpu (no CUDA or MPS device found)"


def test_cuda_preferred_and_named(fake_cuda, capsys):
    assert dev.get_device() == torch.device("cuda", 0)
    assert capsys.readouterr().out.strip() == "coursekit: using cuda:0 (Fake GPU 0)"


def test_mps_when_no_cuda(fake_mps, capsys):
    assert dev.get_device() == torch.device("mps")
    assert "coursekit: using mps" in capsys.readouterr().out


def test_verbose_false_prints_nothing(no_gpu, capsys):
    dev.get_device(verbose=False)
    assert capsys.readouterr().out == ""


def test_env_var_beats_auto_and_argument_beats_env(fake_cuda, monkeypatch, capsys):
    monkeypatch.setenv(dev.ENV_VAR, "cpu")
    assert dev.get_device() == torch.device("cpu")
    assert "COURSEKIT_DEVICE" in capsys.readouterr().out
    assert dev.get_device("cuda:1", verbose=False) == torch.device("cuda", 1)
    assert dev.get_device(torch.device("mps"), verbose=False) == torch.device("mps")


def test_bare_cuda_gets_an_index(fake_cuda):
    assert dev.get_device("cuda", verbose=False) == torch.device("cuda:0")


def test_unavailable_device_lists_available(no_gpu):
    with pytest.raises(ValueError, match=r"'cuda'.*not available.*available: cpu"):
        dev.get_device("cuda")
    with pytest.raises(ValueError, match=r"'mps'.*not available"):
        dev.get_device("mps")


def test_cuda_index_out_of_range(fake_cuda):
    with pytest.raises(ValueError, match=r"'cuda:2'.*available: cpu, cuda:0, cuda:1, mps"):
        dev.get_device("cuda:2")


def test_bad_env_var_is_named(no_gpu, monkeypatch):
    monkeypatch.setenv(dev.ENV_VAR, "cuda")
    with pytest.raises(ValueError, match=r"\$COURSEKIT_DEVICE requested device 'cuda'"):
        dev.get_device()


def test_unknown_device_names(no_gpu):
    with pytest.raises(ValueError, match="got 'tpu'; available here: cpu"):
        dev.get_device("tpu")
    # a device type torch knows but coursekit does not use
    with pytest.raises(ValueError, match="'meta'.*does not support"):
        dev.get_device("meta")
    with pytest.raises(TypeError, match="device must be a str.*got 0"):
        dev.get_device(0)


def test_describe_device(fake_cuda):
    assert dev.describe_device("cpu") == "cpu"
    assert dev.describe_device("cuda:1") == "cuda:1 (Fake GPU 1)"
    assert dev.describe_device(torch.device("mps")).startswith("mps")


# ----------------------------------------------------------------- to_device


def test_to_device_nested_structures():
    Pair = namedtuple("Pair", "x y")
    a, b, c = torch.ones(2), torch.zeros(3, 1), torch.arange(4)
    batch = {"img": (a, [b, "label"]), "pair": Pair(c, 7), "none": None}
    # the meta device stands in for a GPU: a real, different device on every machine
    moved = dev.to_device(batch, "meta")
    assert moved["img"][0].device.type == "meta" and moved["img"][0].shape == a.shape
    assert isinstance(moved["img"], tuple) and isinstance(moved["img"][1], list)
    assert moved["img"][1][0].device.type == "meta" and moved["img"][1][0].shape == (3, 1)
    assert moved["img"][1][1] == "label" and moved["none"] is None
    assert isinstance(moved["pair"], Pair) and moved["pair"].x.device.type == "meta"
    assert moved["pair"].y == 7
    assert a.device.type == "cpu"  # tensors are copied, not modified


def test_to_device_moves_modules_in_place():
    layer = nn.Linear(3, 2)
    out = dev.to_device(layer, "meta")
    assert out is layer and layer.weight.device.type == "meta"


def test_to_device_refuses_numpy():
    with pytest.raises(TypeError, match=r"NumPy array of shape \(2, 3\).*torch.from_numpy"):
        dev.to_device([torch.ones(1), np.zeros((2, 3))], "cpu")


# ----------------------------------------------------------------- precision policy


def test_amp_policy_cpu_mps(no_gpu):
    assert dev.amp_dtype("cpu") is None
    assert dev.amp_dtype("mps") is None
    assert not dev.needs_grad_scaler("cpu")
    assert not dev.make_grad_scaler("cpu").is_enabled()


def test_amp_dtype_cuda_bf16_or_fp16(fake_cuda, monkeypatch):
    assert dev.amp_dtype("cuda:0") == torch.bfloat16
    assert not dev.needs_grad_scaler("cuda:0")  # bf16 has float32's range
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert dev.amp_dtype("cuda:0") == torch.float16
    assert dev.needs_grad_scaler("cuda:0")


def test_autocast_on_cpu_is_a_no_op():
    ctx = dev.autocast("cpu")
    with ctx:
        y = torch.ones(2, 2) @ torch.ones(2, 2)
    assert y.dtype == torch.float32
    with pytest.raises(ValueError, match="enabled must be False or None on device 'cpu'"):
        dev.autocast("cpu", enabled=True)


def test_channels_last_only_on_cuda():
    assert dev.use_channels_last("cuda:0")
    assert not dev.use_channels_last("cpu")
    assert not dev.use_channels_last("mps")


def test_prepare_model_and_batch_layouts():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    assert dev.prepare_model(model, "cpu") is model
    assert not model[0].weight.is_contiguous(memory_format=torch.channels_last)
    dev.prepare_model(model, "cpu", channels_last=True)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)

    x = torch.randn(2, 3, 6, 6)
    assert dev.prepare_batch(x, "cpu").is_contiguous()
    xl = dev.prepare_batch(x, "cpu", channels_last=True)
    assert xl.is_contiguous(memory_format=torch.channels_last) and not xl.is_contiguous()
    # layout changes memory order only: same values, same output
    torch.testing.assert_close(xl, x)
    torch.testing.assert_close(model(xl), model(x))
    flat = torch.randn(2, 5)  # only 4-D batches change layout
    assert dev.prepare_batch(flat, "cpu", channels_last=True).is_contiguous()
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        dev.prepare_batch(np.zeros((2, 3)), "cpu")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        dev.prepare_model("resnet", "cpu")
