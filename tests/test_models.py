"""MLP, LeNet, SmallVGG: shapes, parameter counts from the formulas, argument errors."""

import pytest
import torch
from torch import nn

from coursekit.models import (
    MLP,
    LeNet,
    SmallVGG,
    count_parameters,
    landmark_parameter_counts,
    lenet_digits,
)


def fc(n_in: int, n_out: int, bias: bool = True) -> int:
    """Parameters of a fully connected layer: inputs x outputs (+ biases)."""
    return n_in * n_out + (n_out if bias else 0)


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    """Parameters of a conv layer: C_out x (C_in F F + 1)."""
    return c_out * (c_in * k * k + (1 if bias else 0))


# ----------------------------------------------------------------- MLP


def test_mlp_accepts_images_and_vectors():
    torch.manual_seed(0)
    model = MLP()
    x = torch.randn(5, 1, 28, 28)
    out = model(x)
    assert out.shape == (5, 10)
    # the leading Flatten makes (N, 1, 28, 28) and (N, 784) the same input
    torch.testing.assert_close(model(x.reshape(5, 784)), out)


def test_mlp_parameter_count_matches_formula():
    assert count_parameters(MLP()) == fc(784, 128) + fc(128, 64) + fc(64, 10)
    # BatchNorm: no Linear bias in hidden layers, gamma and beta per unit instead
    bn = MLP(in_features=20, hidden=(8, 4), num_classes=3, batch_norm=True)
    assert count_parameters(bn) == (
        fc(20, 8, bias=False) + 2 * 8 + fc(8, 4, bias=False) + 2 * 4 + fc(4, 3)
    )
    # no hidden layer: softmax regression
    assert count_parameters(MLP(in_features=2, hidden=(), num_classes=3)) == fc(2, 3)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("relu", nn.ReLU),
        ("tanh", nn.Tanh),
        ("sigmoid", nn.Sigmoid),
        ("leaky_relu", nn.LeakyReLU),
        ("prelu", nn.PReLU),
        ("gelu", nn.GELU),
    ],
)
def test_mlp_activations(name, cls):
    model = MLP(in_features=6, hidden=(5, 4), num_classes=2, activation=name)
    acts = [m for m in model if isinstance(m, cls)]
    assert len(acts) == 2
    assert model(torch.randn(3, 6)).shape == (3, 2)


def test_mlp_dropout_and_batchnorm_layers():
    model = MLP(in_features=6, hidden=(5,), num_classes=2, dropout=0.5, batch_norm=True)
    names = [n for n, _ in model.named_children()]
    assert names == ["flatten", "fc1", "bn1", "act1", "drop1", "out"]
    model.eval()  # dropout off: deterministic
    x = torch.randn(4, 6)
    torch.testing.assert_close(model(x), model(x))


def test_mlp_argument_errors():
    with pytest.raises(ValueError, match=r"activation must be one of .*got 'swish'"):
        MLP(activation="swish")
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\), got 1.0"):
        MLP(dropout=1.0)
    with pytest.raises(ValueError, match=r"hidden\[1\] must be an integer >= 1, got 0"):
        MLP(hidden=(3, 0))
    with pytest.raises(TypeError, match="hidden must be a tuple of layer widths, got 64"):
        MLP(hidden=64)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 1, got 0"):
        MLP(num_classes=0)


# ----------------------------------------------------------------- LeNet


def test_lenet_has_62006_parameters():
    expected = conv(3, 6, 5) + conv(6, 16, 5) + fc(400, 120) + fc(120, 84) + fc(84, 10)
    assert expected == 62_006
    assert count_parameters(LeNet()) == 62_006


def test_lenet_named_submodules_and_shapes():
    model = LeNet()
    names = [n for n, _ in model.named_children()]
    assert names == ["conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "fc3"]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model.fc1.in_features == 16 * 5 * 5


def test_lenet_flatten_size_follows_input_size():
    # 28 -> conv 24 -> pool 12 -> conv 8 -> pool 4
    model = LeNet(in_channels=3, num_classes=7, input_size=28)
    assert model.fc1.in_features == 16 * 4 * 4
    assert model(torch.randn(2, 3, 28, 28)).shape == (2, 7)


def test_lenet_digits():
    model = lenet_digits()
    assert model.conv1.in_channels == 1 and model.fc1.in_features == 256
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    expected = conv(1, 6, 5) + conv(6, 16, 5) + fc(256, 120) + fc(120, 84) + fc(84, 10)
    assert count_parameters(model) == expected
    assert lenet_digits(num_classes=4).fc3.out_features == 4


def test_lenet_dropout_changes_training_only():
    torch.manual_seed(0)
    plain = LeNet()
    torch.manual_seed(0)
    dropped = LeNet(dropout=0.5)
    # dropout has no parameters: same count, same names, same initial weights
    assert count_parameters(dropped) == count_parameters(plain) == 62_006
    assert [n for n, _ in dropped.named_children()] == [n for n, _ in plain.named_children()]
    x = torch.randn(4, 3, 32, 32)
    plain.eval()
    dropped.eval()
    torch.testing.assert_close(dropped(x), plain(x), rtol=0, atol=0)  # eval: no dropout
    dropped.train()
    torch.manual_seed(1)
    a = dropped(x)
    assert not torch.allclose(a, plain(x))  # training: units are dropped...
    torch.manual_seed(1)
    torch.testing.assert_close(dropped(x), a, rtol=0, atol=0)  # ...reproducibly under a seed
    assert "dropout=0.5" in repr(dropped) and "dropout" not in repr(plain)


def test_lenet_dropout_sits_before_fc1_and_fc2():
    # With p = 0.9 about 90% of what enters fc1 and fc2 is zeroed in training
    # mode (ReLU adds zeros of its own); in eval mode only ReLU's zeros remain.
    torch.manual_seed(0)
    model = LeNet(dropout=0.9)
    seen = {}
    for name in ("fc1", "fc2"):
        getattr(model, name).register_forward_pre_hook(
            lambda m, inp, name=name: seen.__setitem__(name, inp[0])
        )
    x = torch.rand(16, 3, 32, 32)
    zero_share = {}
    for mode in ("train", "eval"):
        getattr(model, mode)()
        model(x)
        zero_share[mode] = {k: float((v == 0).float().mean()) for k, v in seen.items()}
    assert min(zero_share["train"].values()) > 0.85
    assert max(zero_share["eval"].values()) < 0.7


def test_lenet_dropout_errors():
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\), got 1.0"):
        LeNet(dropout=1.0)
    with pytest.raises(TypeError, match="dropout must be a real number"):
        LeNet(dropout="0.5")


def test_lenet_rejects_too_small_input():
    with pytest.raises(ValueError, match="input_size must be at least 16.*got 12"):
        LeNet(input_size=12)


# ----------------------------------------------------------------- SmallVGG


def test_small_vgg_shapes_and_count():
    torch.manual_seed(0)
    model = SmallVGG(widths=(8, 16), num_classes=5, input_size=16)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 5)
    # per stage: conv(c_in -> w) + BN + conv(w -> w) + BN, convs without bias
    expected = (
        conv(3, 8, 3, False) + 2 * 8 + conv(8, 8, 3, False) + 2 * 8
        + conv(8, 16, 3, False) + 2 * 16 + conv(16, 16, 3, False) + 2 * 16
        + fc(16, 5)
    )  # fmt: skip
    assert count_parameters(model) == expected
    no_bn = SmallVGG(widths=(8,), batch_norm=False, input_size=8)
    assert count_parameters(no_bn) == conv(3, 8, 3) + conv(8, 8, 3) + fc(8, 10)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_bn.modules())


def test_small_vgg_default_and_any_input_size():
    model = SmallVGG()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    # global average pooling makes the classifier independent of the spatial size
    assert model(torch.randn(1, 3, 48, 48)).shape == (1, 10)
    with pytest.raises(ValueError, match=r"input_size must be at least 2\*\*len\(widths\) = 8"):
        SmallVGG(input_size=4)


# ----------------------------------------------------------------- counting


def test_count_parameters_trainable_only():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert count_parameters(model) == fc(3, 2)
    assert count_parameters(model, trainable_only=False) == fc(4, 3) + fc(3, 2)
    shared = nn.Linear(3, 3)
    assert count_parameters(nn.Sequential(shared, shared)) == fc(3, 3)  # counted once
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_parameters([1, 2])


def test_landmark_parameter_counts():
    counts = landmark_parameter_counts()
    assert set(counts) == {"AlexNet", "VGG-16", "GoogLeNet"}
    # the published torchvision figures (ImageNet heads, 1000 classes)
    assert counts["AlexNet"] == 61_100_840  # "~60M"
    assert counts["VGG-16"] == 138_357_544  # "~138M"
    assert counts["GoogLeNet"] == 6_624_904  # "~5-7M", no auxiliary classifiers
    # VGG-16's classifier alone: 7*7*512 -> 4096 -> 4096 -> 1000
    assert fc(7 * 7 * 512, 4096) + fc(4096, 4096) + fc(4096, 1000) < counts["VGG-16"]
