"""fit / evaluate / predict / checkpoints on tiny synthetic tasks (CPU, a few seconds)."""

import math
import os
import random

import numpy as np
import pytest
import torch
from helpers import broken_compiled_module, compile_calls
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from coursekit import training
from coursekit.models import MLP
from coursekit.training import (
    History,
    accuracy,
    evaluate,
    fit,
    grad_norms,
    load_checkpoint,
    predict,
    save_checkpoint,
    seed_everything,
)

FIT = dict(device="cpu", progress=False)


def blobs(n: int = 240, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian blobs in 2-D, centres on a circle of radius 3, unit variance / 4."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    angle = 2 * math.pi * y / classes
    centres = 3 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres + 0.5 * torch.randn(n, 2, generator=g), y


def loader(x, y, batch_size=32, shuffle=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=g)


def small_mlp(seed=0, classes=3):
    torch.manual_seed(seed)
    return MLP(in_features=2, hidden=(16,), num_classes=classes)


# ----------------------------------------------------------------- seeds, metrics


def test_seed_everything_reproduces_all_generators():
    g1 = seed_everything(123)
    # the legacy global NumPy RNG is exactly what seed_everything must seed
    draws = lambda g: (
        random.random(),
        np.random.rand(),  # noqa: NPY002
        torch.rand(1).item(),
        torch.rand(1, generator=g).item(),
    )
    a = draws(g1)
    g2 = seed_everything(123)
    b = draws(g2)
    assert a == b
    assert isinstance(g2, torch.Generator) and g2.initial_seed() == 123
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        seed_everything(-1)


def test_accuracy_and_its_errors():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == pytest.approx(0.75)
    assert accuracy(logits.numpy(), np.array([0, 1, 0, 1])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\).*got \(3,\)"):
        accuracy(logits, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"logits must be 2-D \(N, C\), got shape \(4,\)"):
        accuracy(logits[:, 0], torch.tensor([0, 1, 1, 1]))


def test_grad_norms_match_autograd():
    model = small_mlp()
    x, y = blobs(16)
    nn.functional.cross_entropy(model(x), y).backward()
    norms = grad_norms(model)
    assert set(norms) == {n for n, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert norms[name] == pytest.approx(float(np.sqrt((p.grad.numpy() ** 2).sum())), rel=1e-6)
    model.out.weight.grad = None  # parameters without a gradient are left out
    assert "out.weight" not in grad_norms(model)


# ----------------------------------------------------------------- fit


def test_fit_learns_blobs():
    seed_everything(0)
    x, y = blobs(300)
    xv, yv = blobs(150, seed=1)
    model = small_mlp()
    hist = fit(model, loader(x, y, shuffle=True), loader(xv, yv), epochs=8, lr=1e-2, **FIT)
    assert hist.epochs == 8
    assert all(len(v) == 8 for v in (hist.train_acc, hist.val_loss, hist.val_acc, hist.lr))
    assert all(t > 0 for t in hist.epoch_time)
    assert hist.train_loss[-1] < 0.5 * hist.train_loss[0]
    # chance is 1/3; the blobs are well separated, demand at least 0.5 above chance
    assert hist.val_acc[-1] > 1 / 3 + 0.5
    # History's validation numbers are what evaluate() reports for the final model
    val_loss, val_acc = evaluate(model, loader(xv, yv, batch_size=7))
    assert val_loss == pytest.approx(hist.val_loss[-1], rel=1e-5)
    assert val_acc == pytest.approx(hist.val_acc[-1])
    preds, targets = predict(model, loader(xv, yv))
    assert preds.shape == targets.shape == (150,) and preds.dtype == np.int64
    np.testing.assert_array_equal(targets, yv.numpy())
    assert (preds == targets).mean() == pytest.approx(val_acc)


def test_fit_default_optimizer_is_adam_and_progress_bar_runs(capsys):
    x, y = blobs(64)
    model = small_mlp()
    hist = fit(model, loader(x, y), epochs=2, device="cpu", progress=True, verbose=True)
    out = capsys.readouterr().out
    assert "coursekit: using cpu" in out
    assert "epoch 1/2  train loss" in out and "epoch 2/2" in out
    assert hist.lr == [1e-3, 1e-3] and hist.val_loss == []


def _regression():
    """128 points of y = x @ (1, -2, 0.5) and a seeded linear model for them."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    torch.manual_seed(0)
    return x, y, nn.Linear(3, 1)


def test_fit_trains_regression_with_custom_loss():
    x, y, model = _regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = fit(model, loader(x, y), loader(x, y), epochs=5, optimizer=opt, loss_fn=nn.MSELoss(),
               **FIT)  # fmt: skip
    assert hist.train_loss[-1] < 0.01 * hist.train_loss[0]
    assert all(math.isnan(a) for a in hist.train_acc + hist.val_acc)


def test_a_diverging_run_stops_with_a_warning_at_the_callers_line():
    x, y, model = _regression()
    opt = torch.optim.SGD(model.parameters(), lr=1e6)  # the loss overflows within an epoch
    with pytest.warns(RuntimeWarning) as record:
        hist = fit(model, loader(x, y), epochs=5, optimizer=opt, loss_fn=nn.MSELoss(), **FIT)
    assert len(hist.train_loss) == 1 and not math.isfinite(hist.train_loss[0])
    (w,) = record
    assert str(w.message) == (
        f"the training loss became {hist.train_loss[0]} in epoch 1; stopping. "
        "Try a smaller learning rate."
    )
    assert w.filename == __file__  # the learner's line, not one inside coursekit


def test_epoch_scheduler_steps_once_per_epoch():
    x, y = blobs(64)
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    hist = fit(model, loader(x, y), epochs=3, optimizer=opt, scheduler=sched, **FIT)
    assert hist.lr == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)


def test_batch_scheduler_steps_once_per_batch():
    x, y = blobs(64)  # 64 / 16 = 4 batches per epoch
    model = small_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    hist = fit(
        model, loader(x, y, batch_size=16), epochs=2, optimizer=opt, scheduler=sched,
        scheduler_interval="batch", **FIT,
    )  # fmt: skip
    assert hist.lr == pytest.approx([0.1, 0.1 * 0.9**4])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.9**8)


def test_grad_norm_logging_is_per_parameter_epoch_mean():
    x, y = blobs(48)
    model = small_mlp()
    # lr = 0: the weights never change, so every batch of every epoch has the same
    # gradients, and the logged mean equals the norm after one manual backward
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    hist = fit(model, loader(x, y, batch_size=48), epochs=2, optimizer=opt,
               log_grad_norms=True, **FIT)  # fmt: skip
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    expected = grad_norms(model)
    assert set(hist.grad_norms) == set(expected)
    for name, values in hist.grad_norms.items():
        assert values == pytest.approx([expected[name]] * 2, rel=1e-5)
    assert fit(small_mlp(), loader(x, y), epochs=1, **FIT).grad_norms == {}


def test_early_stopping_stops_and_restores_best_weights(tmp_path):
    x, y = blobs(120)
    # validation labels are a permutation of the true ones: the better the model
    # fits the training data, the worse its validation loss
    xv, yv = blobs(60, seed=1)
    yv = (yv + 1) % 3
    model = small_mlp()
    ckpt = tmp_path / "best.pt"
    hist = fit(model, loader(x, y), loader(xv, yv), epochs=30, lr=0.05,
               early_stopping_patience=2, checkpoint_path=ckpt, **FIT)  # fmt: skip
    assert hist.stopped_early and hist.epochs < 30
    best = hist.best_epoch("val_loss")
    assert hist.epochs == best + 1 + 2  # patience epochs after the best one
    # the restored weights are the best epoch's: evaluate reproduces its loss
    assert evaluate(model, loader(xv, yv))[0] == pytest.approx(hist.val_loss[best], rel=1e-6)
    # and the checkpoint holds the same weights
    fresh = small_mlp(seed=5)
    info = load_checkpoint(ckpt, fresh)
    assert info["epoch"] == best
    for k, v in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v, rtol=0, atol=0)


def test_early_stopping_needs_validation():
    x, y = blobs(32)
    with pytest.raises(ValueError, match="early_stopping_patience needs a val_loader"):
        fit(small_mlp(), loader(x, y), early_stopping_patience=2, **FIT)


# ----------------------------------------------------------------- clear errors


def test_mismatched_input_shape_names_model_and_shapes():
    x, y = blobs(16)
    model = MLP(in_features=784, hidden=(8,), num_classes=3)
    with pytest.raises(ValueError, match=r"MLP could not process.*shape \(16, 2\).*expects 784"):
        fit(model, loader(x, y), epochs=1, **FIT)


def test_labels_out_of_range_and_wrong_dtype():
    x, y = blobs(16)
    bad = y.clone()
    bad[3] = 5
    with pytest.raises(ValueError, match=r"labels .* must hold labels in \[0, 2\] .*got 5"):
        fit(small_mlp(), loader(x, bad), epochs=1, **FIT)
    with pytest.raises(TypeError, match="must be int64 class indices.*got dtype torch.float32"):
        fit(small_mlp(), loader(x, y.float()), epochs=1, **FIT)


def test_model_output_must_be_n_by_classes():
    x, y = blobs(16)
    model = nn.Sequential(nn.Linear(2, 3), nn.Unflatten(1, (3, 1)))
    with pytest.raises(
        ValueError, match=r"output must have shape \(N, num_classes\).*\(16, 3, 1\)"
    ):
        fit(model, loader(x, y), epochs=1, **FIT)


def test_the_first_batch_check_leaves_the_global_rng_alone():
    # A shuffling DataLoader without its own generator draws its seed from the global RNG.
    x, y = blobs(64)
    shuffled = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = small_mlp()
    torch.manual_seed(3)
    before = torch.get_rng_state()
    training._check_first_batch(
        model, shuffled, nn.CrossEntropyLoss(), torch.device("cpu"), False, False
    )
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("kind", ["DataLoader", "GpuLoader"])
def test_fit_first_epoch_sees_the_batches_of_a_plain_pass(kind):
    from coursekit.fast import GpuLoader

    x, y = blobs(96)

    def make():
        if kind == "GpuLoader":
            images = x.view(96, 2, 1, 1)
            return GpuLoader(images, y, batch_size=32, seed=5, device="cpu", normalize=False)
        return loader(x, y, batch_size=32, shuffle=True, seed=5)

    expected = [yb.clone() for _, yb in make()]
    seen = []

    def recording_loss(out, target):
        seen.append(target.clone())
        return nn.functional.cross_entropy(out, target)

    train = make()
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 3))
    fit(model, train, epochs=1, loss_fn=recording_loss, **FIT)
    assert len(seen) == len(expected)
    for got, want in zip(seen, expected, strict=True):
        assert torch.equal(got, want)
    if kind == "GpuLoader":
        assert train.epoch == 1  # the shape check's look was given back


@pytest.mark.parametrize("progress", [False, True])
def test_fit_iterates_the_loader_once_per_epoch(progress):
    # A DataLoader starts its worker processes each time it is iterated.
    x, y = blobs(64)
    base = loader(x, y, batch_size=16)

    class Counting:
        calls = 0

        def __len__(self):
            return len(base)

        def __iter__(self):
            Counting.calls += 1
            return iter(base)

    fit(small_mlp(), Counting(), epochs=3, device="cpu", progress=progress)
    assert Counting.calls == 1 + 3  # the first-batch check, then one per epoch


def test_fit_trains_through_the_compiled_module(monkeypatch):
    calls = []

    class Counting(nn.Module):  # stands in for torch.compile's wrapper
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            calls.append(len(x))
            return self.inner(x)

    compiled = compile_calls(monkeypatch, Counting)
    x, y = blobs(64)
    model = small_mlp()
    hist = fit(model, loader(x, y), loader(x, y), epochs=2, compile=True, **FIT)
    assert hist.compiled is True
    # Once, on the model itself, with torch.compile's defaults (no mode, backend, fullgraph).
    assert len(compiled) == 1 and compiled[0].keys() == {"model"}
    assert compiled[0]["model"] is model
    assert sum(calls) == 2 * 64  # every training example of both epochs; validation is eager
    assert History.from_dict(hist.as_dict()).compiled is True
    assert fit(small_mlp(), loader(x, y), epochs=1, compile=None, **FIT).compiled is False  # CPU
    assert fit(small_mlp(), loader(x, y), epochs=1, compile=False, **FIT).compiled is False
    assert len(compiled) == 1  # neither called torch.compile


def test_fit_falls_back_to_eager_when_compiled_code_fails(monkeypatch, capsys):
    compiled = compile_calls(monkeypatch, broken_compiled_module)
    x, y = blobs(64)
    hist = fit(small_mlp(), loader(x, y), epochs=2, compile=True, **FIT)
    assert hist.compiled is False and hist.epochs == 2
    assert len(compiled) == 1 and compiled[0].keys() == {"model"}
    assert "falling back to eager mode" in capsys.readouterr().out


def test_a_compiled_step_raises_errors_after_its_first_call(monkeypatch):
    calls = []

    def flaky_module(model):
        def forward(x):
            calls.append(len(x))
            if len(calls) > 1:
                raise RuntimeError("a real error in the second batch")
            return model(x)

        wrapper = nn.Module()
        wrapper.forward = forward
        return wrapper

    compile_calls(monkeypatch, flaky_module)
    x, y = blobs(64)
    with pytest.raises(RuntimeError, match="a real error in the second batch"):
        fit(small_mlp(), loader(x, y, batch_size=32), epochs=1, compile=True, **FIT)
    assert calls == [32, 32]


def test_fit_casts_low_precision_inputs_when_autocast_is_off():
    # A bf16-resident data set (GpuLoader's default on a GPU) with a float32 model.
    x, y = blobs(64)
    model = small_mlp()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    hist = fit(model, loader(x.bfloat16(), y), loader(x.bfloat16(), y), epochs=2, **FIT)
    # The model's dtype, every batch (training and validation), not the data's.
    assert seen and set(seen) == {torch.float32}
    # Exactly as if the bf16 values had come in float32: a cast, nothing else.
    x32 = x.bfloat16().float()
    same = fit(small_mlp(), loader(x32, y), loader(x32, y), epochs=2, **FIT)
    assert hist.train_loss == same.train_loss and hist.val_loss == same.val_loss
    assert hist.val_acc == same.val_acc


def test_fit_casts_inputs_to_a_float64_model():
    x, y = blobs(64)
    model = small_mlp().double()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    hist = fit(model, loader(x, y), loader(x, y), epochs=1, **FIT)
    assert seen and set(seen) == {torch.float64}
    assert np.isfinite(hist.train_loss).all()


def test_loss_sums_avoid_float64_on_mps():
    from coursekit.training import _sum_dtype

    assert _sum_dtype(torch.device("mps")) == torch.float32  # MPS has no float64
    assert _sum_dtype(torch.device("cpu")) == torch.float64


def test_eval_mode_restores_each_submodule_own_mode():
    model = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 3))
    model.train()
    model[1].eval()  # BatchNorm statistics deliberately frozen
    with training.eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert model.training and model[0].training and not model[1].training
    x, y = blobs(16)
    evaluate(model, loader(x, y), device="cpu")
    predict(model, loader(x, y), device="cpu")
    assert model.training and not model[1].training


def test_fit_argument_errors():
    x, y = blobs(16)
    model = small_mlp()
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        fit(model, loader(x, y), epochs=0, **FIT)
    with pytest.raises(ValueError, match="scheduler_interval must be one of"):
        fit(model, loader(x, y), scheduler_interval="step", **FIT)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="lr is used only for the default optimizer"):
        fit(model, loader(x, y), optimizer=opt, lr=0.1, **FIT)
    with pytest.raises(ValueError, match="amp must be False or None on device 'cpu'"):
        fit(model, loader(x, y), amp=True, **FIT)
    with pytest.raises(TypeError, match=r"pair \(inputs, targets\), got tuple of length 1"):
        fit(model, [(x,)], **FIT)
    with pytest.raises(TypeError, match="compile must be True, False or None"):
        fit(model, loader(x, y), compile="yes", **FIT)


# ----------------------------------------------------------------- history


def test_history_best_epoch_and_json_round_trip(tmp_path):
    h = History(train_loss=[1.0, 0.5, 0.7], train_acc=[0.2, 0.6, 0.5], val_loss=[0.9, 0.4, 0.8],
                val_acc=[0.3, 0.5, 0.7], lr=[0.1] * 3, epoch_time=[1.0] * 3,
                grad_norms={"w": [1.0, 2.0, float("nan")]})  # fmt: skip
    assert h.best_epoch() == 2 and h.best_epoch("val_loss") == 1
    assert h.best_epoch("train_acc") == 1
    h.to_json(tmp_path / "h.json")
    back = History.from_json(tmp_path / "h.json")
    assert back.val_acc == h.val_acc and back.train_loss == h.train_loss
    assert back.grad_norms["w"][:2] == [1.0, 2.0] and math.isnan(back.grad_norms["w"][2])
    with pytest.raises(ValueError, match="metric must be one of"):
        h.best_epoch("loss")
    with pytest.raises(
        ValueError, match="metric must name a curve with recorded values .* got 'val_acc'"
    ):
        History().best_epoch()


# ----------------------------------------------------------------- checkpoints


def trained_model_and_optimizer():
    x, y = blobs(32)
    model = small_mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    hist = fit(model, loader(x, y), epochs=2, optimizer=opt, **FIT)
    return model, opt, hist


def test_checkpoint_round_trip(tmp_path):
    model, opt, hist = trained_model_and_optimizer()
    path = tmp_path / "sub" / "ckpt.pt"
    save_checkpoint(path, model, opt, epoch=2, history=hist, note="run-1", best_acc=0.5)
    fresh = small_mlp(seed=1)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    info = load_checkpoint(path, fresh, fresh_opt)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v, rtol=0, atol=0)
    state, fresh_state = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    for i in state:
        torch.testing.assert_close(fresh_state[i]["exp_avg"], state[i]["exp_avg"], rtol=0, atol=0)
    assert info["epoch"] == 2 and info["extra"] == {"note": "run-1", "best_acc": 0.5}
    assert info["history"].train_loss == hist.train_loss
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temp files left


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, opt, _ = trained_model_and_optimizer()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, epoch=1)
    original = path.read_bytes()

    real_save = torch.save

    def save_then_crash(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.seek(0)
        f.truncate(100)  # a half-written file...
        raise OSError("disk full")  # ...and then the failure

    monkeypatch.setattr(torch, "save", save_then_crash)
    with torch.no_grad():
        model.out.weight.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # temporary file cleaned up
    assert load_checkpoint(path, small_mlp())["epoch"] == 1


def test_corrupt_or_missing_checkpoint_names_the_path(tmp_path):
    model, _, _ = trained_model_and_optimizer()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model)
    path.write_bytes(path.read_bytes()[:200])  # truncated
    with pytest.raises(ValueError, match=r"checkpoint '.*ckpt.pt' is truncated or corrupt"):
        load_checkpoint(path, small_mlp())
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt", small_mlp())
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="was not written by coursekit"):
        load_checkpoint(tmp_path / "other.pt", small_mlp())


def test_module_exports():
    for name in training.__all__:
        assert hasattr(training, name)
