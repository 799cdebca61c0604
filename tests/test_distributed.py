"""Tests for coursekit.distributed: DDP on CPU with gloo, 2 processes via torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from coursekit.distributed import free_port, main, parameter_checksum, synthetic_data
from coursekit.models import MLP

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


@pytest.mark.slow
def test_torchrun_two_ranks_end_with_identical_changed_weights(tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node=2", f"--master_port={free_port()}",
        "-m", "coursekit.distributed",
        "--backend", "gloo", "--synthetic", "--limit", "256", "--epochs", "2",
        "--batch-size", "32", "--model", "mlp", "--hidden", "16", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "world size 2, backend gloo" in proc.stdout

    r0 = json.loads((out / "rank0.json").read_text())
    r1 = json.loads((out / "rank1.json").read_text())
    assert (r0["rank"], r1["rank"]) == (0, 1)
    assert r0["world_size"] == r1["world_size"] == 2
    # Each rank saw its own half of the data (256 / 2), in 2 epochs of 4 steps.
    assert r0["examples_per_rank"] == r1["examples_per_rank"] == 128
    assert r0["steps"] == r1["steps"] == 8
    # Same start, different data, averaged gradients: still bit-identical weights.
    assert r0["initial_sha256"] == r1["initial_sha256"]
    assert r0["sha256"] == r1["sha256"]
    assert r0["param_sum"] == r1["param_sum"]
    assert r0["sha256"] != r0["initial_sha256"]
    assert r0["losses"] == r1["losses"]  # the epoch losses, averaged over the ranks

    # The saved state_dict is rank 0's final model, and it differs from a fresh init.
    state = torch.load(out / "model.pt", weights_only=True)
    model = MLP(in_features=64, hidden=(16,), num_classes=10)
    torch.manual_seed(0)
    fresh = MLP(in_features=64, hidden=(16,), num_classes=10)
    assert parameter_checksum(fresh) == r0["initial_sha256"]
    model.load_state_dict(state)
    assert parameter_checksum(model) == r0["sha256"]
    assert not torch.equal(model.out.weight, fresh.out.weight)


def test_single_process_without_torchrun(tmp_path, monkeypatch, capsys):
    # main() joins a 1-process group when torchrun's variables are absent;
    # set them through monkeypatch so they are restored afterwards.
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    import coursekit.fast

    calls = []
    train_fast = coursekit.fast.train_fast

    def spy(model, loader, **kw):
        calls.append((model, kw))
        return train_fast(model, loader, **kw)

    monkeypatch.setattr(coursekit.fast, "train_fast", spy)
    args = ["--backend", "gloo", "--synthetic", "--limit", "128", "--epochs", "3",
            "--batch-size", "32", "--lr", "0.1", "--model", "mlp", "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    # the training loop is notebook 09's recipe (train_fast, i.e. training.fit) on the DDP model
    ((model, kw),) = calls
    assert isinstance(model, torch.nn.parallel.DistributedDataParallel) and kw["epochs"] == 3
    assert not torch.distributed.is_initialized()  # destroyed in finally
    rec = json.loads((tmp_path / "rank0.json").read_text())
    assert rec["world_size"] == 1 and rec["steps"] == 12
    assert rec["losses"][-1] < rec["losses"][0]
    assert "epoch 3/3" in capsys.readouterr().out


def test_synthetic_data_is_seeded_and_learnable_shape():
    X, y = synthetic_data(100, seed=3)
    X2, y2 = synthetic_data(100, seed=3)
    assert X.shape == (100, 1, 8, 8) and y.shape == (100,) and y.dtype == torch.int64
    torch.testing.assert_close(X, X2)
    torch.testing.assert_close(y, y2)
    assert len(torch.unique(y)) > 3


def test_checksum_sees_a_single_changed_weight():
    torch.manual_seed(0)
    m = MLP(in_features=4, hidden=(3,), num_classes=2)
    before = parameter_checksum(m)
    assert parameter_checksum(m) == before
    with torch.no_grad():
        m.out.bias[0] += 1e-6
    assert parameter_checksum(m) != before


def test_argument_errors():
    with pytest.raises(ValueError, match="--epochs must be >= 1, got 0"):
        main(["--epochs", "0", "--synthetic"])
    with pytest.raises(ValueError, match="--lr must be > 0, got -1.0"):
        main(["--lr", "-1", "--synthetic"])
    with pytest.raises(SystemExit):
        main(["--backend", "mpi"])
