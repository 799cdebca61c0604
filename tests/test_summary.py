"""summary(): the LeNet shape trace, row contents, hooks and modes restored, MAC counts."""

import pytest
import torch
from torch import nn

from coursekit.models import MLP, LeNet, SmallVGG
from coursekit.resnet import resnet20
from coursekit.summary import ModelSummary, count_macs, format_shape, summary


def test_lenet_trace_from_the_curriculum():
    s = summary(LeNet(), (3, 32, 32))
    assert isinstance(s, ModelSummary)
    assert s.trace == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,),
                       (84,), (10,)]  # fmt: skip
    assert s.trace_str() == (
        "3x32x32 -> 6x28x28 -> 6x14x14 -> 16x10x10 -> 16x5x5 -> 400 -> 120 -> 84 -> 10"
    )


def test_lenet_rows_and_totals():
    model = LeNet()
    s = summary(model, (3, 32, 32))
    assert [r["name"] for r in s.rows] == [n for n, _ in model.named_children()]
    assert [r["type"] for r in s.rows][:2] == ["Conv2d", "MaxPool2d"]
    assert s.rows[0]["output_shape"] == (6, 28, 28)
    # conv1: 6 x (3*5*5 + 1)
    assert s.rows[0]["params"] == 6 * (3 * 5 * 5 + 1)
    assert sum(r["params"] for r in s.rows) == s.total_params == 62_006
    assert s.trainable_params == 62_006 and s.non_trainable_params == 0


def test_lenet_macs_worked_example():
    # conv: C_out*H_out*W_out * C_in*k*k; linear: in * out
    conv1 = 6 * 28 * 28 * (3 * 5 * 5)
    conv2 = 16 * 10 * 10 * (6 * 5 * 5)
    fcs = 400 * 120 + 120 * 84 + 84 * 10
    s = summary(LeNet(), (3, 32, 32))
    assert s.macs == conv1 + conv2 + fcs
    assert s.rows[0]["macs"] == conv1 and s.rows[2]["macs"] == conv2
    assert count_macs(LeNet(), (3, 32, 32)) == s.macs
    # per example: the batch size must not change it
    assert summary(LeNet(), (3, 32, 32), batch_size=4).macs == s.macs


def test_str_table_is_aligned_with_totals():
    text = str(summary(LeNet()))
    lines = text.splitlines()
    assert lines[0] == "LeNet"
    header = next(line for line in lines if line.startswith("Layer"))
    table = [line for line in lines if line.startswith(("conv", "pool", "fc", "flatten"))]
    assert len(table) == 8
    # columns line up: every row as wide as the header, params right-aligned
    assert all(len(line) == len(header) for line in table)
    conv1 = next(line for line in table if line.startswith("conv1"))
    assert conv1.endswith("456") and "6x28x28" in conv1
    assert "Total params: 62,006" in text and "Trainable params: 62,006" in text
    html = summary(LeNet())._repr_html_()
    assert "<table>" in html and "62,006" in html


def test_depth_one_lists_top_level_children():
    model = resnet20()
    s = summary(model, depth=1)
    assert [r["name"] for r in s.rows] == [n for n, _ in model.named_children()]
    layer3 = next(r for r in s.rows if r["name"] == "layer3")
    assert layer3["output_shape"] == (64, 8, 8)
    assert layer3["params"] == sum(p.numel() for p in model.layer3.parameters())
    # MACs of the layers inside a container are attributed to the container's row
    assert sum(r["macs"] for r in s.rows) == s.macs == count_macs(model)
    leaves = summary(model)
    assert len(leaves.rows) > len(s.rows)
    assert sum(r["macs"] for r in leaves.rows) == s.macs


def test_mlp_rows_include_activations_in_order():
    s = summary(MLP(in_features=10, hidden=(6,), num_classes=3), (10,))
    assert [(r["name"], r["output_shape"]) for r in s.rows] == [
        ("flatten", (10,)),
        ("fc1", (6,)),
        ("act1", (6,)),
        ("out", (3,)),
    ]
    assert s.macs == 10 * 6 + 6 * 3


def test_modes_restored_and_running_stats_untouched():
    model = SmallVGG(widths=(4,), input_size=8)
    model.train()
    model.features.stage1[1].eval()  # a mixed state must come back exactly
    before = {m: m.training for m in model.modules()}
    mean = model.features.stage1[1].running_mean.clone()
    summary(model, (3, 8, 8), batch_size=3)
    assert {m: m.training for m in model.modules()} == before
    torch.testing.assert_close(model.features.stage1[1].running_mean, mean)


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_hooks_removed_after_success_and_error():
    model = LeNet()
    summary(model)
    assert hook_count(model) == 0
    with pytest.raises(ValueError):
        summary(model, (3, 20, 20))  # too small for fc1's 400 inputs
    assert hook_count(model) == 0
    assert model.training


def test_wrong_input_size_names_the_layer_and_what_it_expects():
    """Like fit, summary explains a shape mismatch instead of torch's matmul message."""
    with pytest.raises(
        ValueError,
        match=r"LeNet cannot run on input_size \(3, 28, 28\).*layer fc1 \(Linear\) got an input "
        r"of shape \(256,\), but it expects 400 features per example",
    ):
        summary(LeNet(), (3, 28, 28))
    with pytest.raises(
        ValueError,
        match=r"layer 0 \(Conv2d\) got an input of shape \(1, 8, 8\), "
        r"but it expects 3 input channels",
    ):
        summary(nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 8, 8))


def test_follows_model_dtype_and_rejects_other_device():
    model = nn.Sequential(nn.Linear(4, 2)).double()
    assert summary(model, (4,)).trace == [(2,)]
    with pytest.raises(ValueError, match="device must be where the model's parameters are"):
        summary(model, (4,), device="meta")


def test_argument_errors():
    with pytest.raises(TypeError, match="input_size must be a tuple of ints"):
        summary(LeNet(), 32)
    with pytest.raises(ValueError, match=r"input_size\[0\] must be an integer >= 1, got 0"):
        summary(LeNet(), (0, 32, 32))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        summary(LeNet(), batch_size=0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        summary("LeNet")


def test_format_shape():
    assert format_shape((16, 5, 5)) == "16x5x5"
    assert format_shape((400,)) == "400"
    assert format_shape([(3,), (4, 4)]) == "[3, 4x4]"
    assert format_shape(None) == "-"


def test_grouped_conv_macs():
    model = nn.Conv2d(4, 8, 3, padding=1, groups=2)
    # each output element sees C_in / groups = 2 channels
    assert count_macs(model, (4, 5, 5)) == 8 * 5 * 5 * 2 * 9
