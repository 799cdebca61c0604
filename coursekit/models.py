"""PyTorch models of notebooks 04 and 07: MLP, LeNet, SmallVGG, landmark parameter counts.

Every layer is a named submodule, so ``coursekit.summary.summary(model)`` prints a
readable table, and every ``forward`` documents the shapes that flow through it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from coursekit._validate import check_bool, check_in, check_positive_int, check_probability

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "LeNet",
    "lenet_digits",
    "SmallVGG",
    "count_parameters",
    "landmark_parameter_counts",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "prelu", "gelu")


def _activation(name: str) -> nn.Module:
    # PReLU learns one slope shared by all units, the simplest form of the idea
    return {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "leaky_relu": nn.LeakyReLU,
        "prelu": nn.PReLU,
        "gelu": nn.GELU,
    }[name]()


def _check_widths(widths: Sequence[int], name: str, allow_empty: bool) -> tuple[int, ...]:
    if isinstance(widths, int) or not isinstance(widths, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of layer widths, got {widths!r}")
    if not widths and not allow_empty:
        raise ValueError(f"{name} must hold at least one width, got {widths!r}")
    return tuple(check_positive_int(w, f"{name}[{i}]") for i, w in enumerate(widths))


class MLP(nn.Sequential):
    """Multi-layer perceptron: Flatten, then (Linear, [BatchNorm], activation, [Dropout]) blocks.

    Parameters
    ----------
    in_features : int
        Features per example after flattening (784 for 28x28 digits).
    hidden : tuple of int
        Width of each hidden layer; ``()`` gives (multinomial) logistic regression.
    num_classes : int
        Number of outputs (logits).
    activation : {"relu", "tanh", "sigmoid", "leaky_relu", "prelu", "gelu"}
    dropout : float in [0, 1)
        Inverted-dropout probability after each hidden activation (0 = none).
    batch_norm : bool
        BatchNorm1d between each hidden Linear and its activation.

    Shapes
    ------
    input : (N, in_features) or any (N, *) with ``in_features`` elements, e.g. (N, 1, 28, 28)
    output : (N, num_classes) logits
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden: Sequence[int] = (128, 64),
        num_classes: int = 10,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        in_features = check_positive_int(in_features, "in_features")
        hidden = _check_widths(hidden, "hidden", allow_empty=True)
        num_classes = check_positive_int(num_classes, "num_classes")
        check_in(activation, ACTIVATIONS, "activation")
        dropout = check_probability(dropout, "dropout")
        batch_norm = check_bool(batch_norm, "batch_norm")

        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        width = in_features
        for i, h in enumerate(hidden, start=1):
            # BatchNorm's beta makes the Linear bias redundant
            layers[f"fc{i}"] = nn.Linear(width, h, bias=not batch_norm)
            if batch_norm:
                layers[f"bn{i}"] = nn.BatchNorm1d(h)
            layers[f"act{i}"] = _activation(activation)
            if dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(dropout)
            width = h
        layers["out"] = nn.Linear(width, num_classes)
        super().__init__(layers)
        self.in_features = in_features
        self.num_classes = num_classes


def _conv_out(size: int, kernel: int, stride: int = 1) -> int:
    # floor((N + 2P - F) / S) + 1 with P = 0
    return (size - kernel) // stride + 1


class LeNet(nn.Module):
    """LeNet-style CNN of notebook 07 (the PyTorch CIFAR-10 tutorial network).

    conv 5x5 (in -> 6), ReLU, max-pool 2, conv 5x5 (6 -> 16), ReLU, max-pool 2,
    flatten, FC 16*s*s -> 120 -> 84 -> num_classes, with ReLU between the FC layers
    and optional dropout before fc1 and fc2.

    Shape trace for ``LeNet()`` (3x32x32 input; batch dimension N omitted)::

        conv1 6x28x28 -> pool1 6x14x14 -> conv2 16x10x10 -> pool2 16x5x5
        -> flatten 400 -> fc1 120 -> fc2 84 -> fc3 10

    Parameters
    ----------
    in_channels : int
        3 for colour images, 1 for grey digits.
    num_classes : int
    input_size : int
        Height = width of the (square) input; fixes the flatten size
        (16*5*5 = 400 for 32, 16*4*4 = 256 for 28).
    dropout : float in [0, 1)
        Inverted-dropout probability on the inputs of fc1 and fc2 (the flattened
        conv features and fc1's activations), where torchvision's AlexNet and
        VGG put it too. Only active in training mode; 0 (the default) gives the
        plain network. Dropout has no parameters, so the count does not change.

    Shapes
    ------
    input : (N, in_channels, input_size, input_size)
    output : (N, num_classes) logits
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        input_size: int = 32,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        in_channels = check_positive_int(in_channels, "in_channels")
        num_classes = check_positive_int(num_classes, "num_classes")
        input_size = check_positive_int(input_size, "input_size")
        dropout = check_probability(dropout, "dropout")
        # two (conv 5x5, pool 2) stages: s -> s-4 -> (s-4)//2 -> ... -4 -> //2
        side = _conv_out(_conv_out(_conv_out(_conv_out(input_size, 5), 2, 2), 5), 2, 2)
        if side < 1:
            raise ValueError(
                f"input_size must be at least 16 so that two conv-5x5 + pool-2 stages "
                f"leave a feature map, got {input_size}"
            )
        self.in_channels, self.num_classes, self.input_size = in_channels, num_classes, input_size
        self.dropout = dropout

        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, S, S) -> logits (N, num_classes)."""
        x = self.pool1(F.relu(self.conv1(x)))  # (N, 6, S-4, S-4) -> (N, 6, (S-4)/2, ...)
        x = self.pool2(F.relu(self.conv2(x)))  # (N, 16, s, s), s = 5 for S = 32
        x = self.flatten(x)  # (N, 16*s*s)
        # Functional dropout: no extra rows in the summary table, and the
        # identity in eval mode or for dropout = 0.
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.fc1(x))  # (N, 120)
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.fc2(x))  # (N, 84)
        return self.fc3(x)  # (N, num_classes)

    def extra_repr(self) -> str:
        # dropout is functional, so print(model) would not show it otherwise
        return f"dropout={self.dropout}" if self.dropout > 0 else ""


def lenet_digits(num_classes: int = 10) -> LeNet:
    """LeNet for 1-channel 28x28 digits (flatten size 16*4*4 = 256)."""
    return LeNet(in_channels=1, num_classes=num_classes, input_size=28)


class SmallVGG(nn.Module):
    """A small VGG-style CNN: stages of two 3x3 convs, then global average pooling and FC.

    Each stage is conv3x3-[BN]-ReLU-conv3x3-[BN]-ReLU-maxpool2 (padding 1 keeps the
    size until the pool halves it). Two stacked 3x3 convs see 5x5 with fewer weights
    and one more non-linearity than a single 5x5 conv.

    Parameters
    ----------
    in_channels : int
    num_classes : int
    widths : tuple of int
        Output channels of each stage; the input side must survive len(widths) halvings.
    dropout : float in [0, 1)
        Dropout before the final Linear layer.
    batch_norm : bool
        BatchNorm2d after every conv (the conv bias is then dropped as redundant).
    input_size : int
        Height = width of the input, checked against the number of poolings.

    Shapes
    ------
    input : (N, in_channels, input_size, input_size)
    features : (N, widths[-1], input_size / 2**len(widths), ...)
    output : (N, num_classes) logits
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: Sequence[int] = (32, 64, 128),
        dropout: float = 0.0,
        batch_norm: bool = True,
        input_size: int = 32,
    ) -> None:
        super().__init__()
        in_channels = check_positive_int(in_channels, "in_channels")
        num_classes = check_positive_int(num_classes, "num_classes")
        widths = _check_widths(widths, "widths", allow_empty=False)
        dropout = check_probability(dropout, "dropout")
        batch_norm = check_bool(batch_norm, "batch_norm")
        input_size = check_positive_int(input_size, "input_size")
        if input_size < 2 ** len(widths):
            raise ValueError(
                f"input_size must be at least 2**len(widths) = {2 ** len(widths)} to survive "
                f"{len(widths)} max-pool halvings, got {input_size}"
            )
        self.num_classes = num_classes

        stages: OrderedDict[str, nn.Module] = OrderedDict()
        c_in = in_channels
        for i, width in enumerate(widths, start=1):
            stages[f"stage{i}"] = self._stage(c_in, width, batch_norm)
            c_in = width
        self.features = nn.Sequential(stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, num_classes)

    @staticmethod
    def _stage(c_in: int, c_out: int, batch_norm: bool) -> nn.Sequential:
        layers: list[nn.Module] = []
        for c in (c_in, c_out):
            layers.append(nn.Conv2d(c, c_out, kernel_size=3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.MaxPool2d(2))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, S, S) -> logits (N, num_classes)."""
        x = self.features(x)  # (N, widths[-1], S / 2**stages, ...)
        x = self.flatten(self.avgpool(x))  # (N, widths[-1])
        return self.fc(self.dropout(x))  # (N, num_classes)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``model`` (shared parameters counted once).

    Parameters
    ----------
    model : nn.Module
    trainable_only : bool
        Count only parameters with ``requires_grad=True`` (frozen ones are skipped).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_bool(trainable_only, "trainable_only")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def landmark_parameter_counts() -> dict[str, int]:
    """Parameter counts of AlexNet, VGG-16 and GoogLeNet, computed from torchvision.

    Returns
    -------
    dict
        ``{"AlexNet": 61_100_840, "VGG-16": 138_357_544, "GoogLeNet": 6_624_904}``
        (1000 ImageNet classes; GoogLeNet without its two training-only auxiliary
        classifiers).
    """
    from torchvision import models as tvm

    # Counting needs only shapes: build on the "meta" device, which allocates no
    # memory and skips the (slow, for VGG's 138M weights) random initialisation.
    with torch.device("meta"):
        nets = {
            "AlexNet": tvm.alexnet(weights=None),
            "VGG-16": tvm.vgg16(weights=None),
            "GoogLeNet": tvm.googlenet(weights=None, aux_logits=False, init_weights=False),
        }
    return {name: count_parameters(net, trainable_only=False) for name, net in nets.items()}
