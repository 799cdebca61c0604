"""Visible checks for notebook 08 (residual networks).

Parameter counts are compared with ``coursekit.resnet.CifarResNet`` counted by
torch; the student's residual block is compared with ``coursekit.resnet.BasicBlock``
(projection shortcuts) after copying the reference block's weights into it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import torch

from coursekit.checks.framework import Case, CheckResult, run_check

#: Modules these exercises must be solved without: ``coursekit grade`` hides them,
#: and the checks fail a case whose call reaches one of them.
FORBID = ("coursekit.resnet",)

__all__ = [
    "cifar_resnet_params_reference",
    "check_cifar_resnet_params",
    "check_residual_block",
    "check_chain_gradient",
]


# --------------------------------------------------------------------------- exercise 1
def cifar_resnet_params_reference(depth: int, num_classes: int = 10) -> int:
    """Parameters of ``CifarResNet(depth, num_classes)`` (option-A shortcuts), counted by torch."""
    from coursekit.models import count_parameters
    from coursekit.resnet import CifarResNet

    return count_parameters(CifarResNet(depth, num_classes=num_classes))


def check_cifar_resnet_params(fn: Callable) -> CheckResult:
    """Check ``cifar_resnet_params(depth, num_classes)`` -> int.

    Parameters
    ----------
    fn : callable (int, int) -> int
        Trainable parameters of the CIFAR ResNet of depth 6n + 2 with
        parameter-free (option A) shortcuts: convolutions without bias, two
        per BatchNorm (gamma and beta), and the final Linear layer.

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(
            args=(20, 10),
            expected=cifar_resnet_params_reference(20, 10),
            name="ResNet-20",
            hint="stem conv 3*16*3*3 + BN 2*16; each block has two 3x3 convs (no bias) and "
            "two BNs; the first block of stages 2 and 3 maps 16 -> 32 and 32 -> 64 channels",
        ),
        Case(
            args=(8, 10),
            expected=cifar_resnet_params_reference(8, 10),
            name="ResNet-8 (n = 1)",
            hint="n = (depth - 2) / 6 blocks per stage",
        ),
        Case(
            args=(56, 100),
            expected=cifar_resnet_params_reference(56, 100),
            name="ResNet-56, 100 classes",
            hint="the Linear layer has 64 * num_classes weights and num_classes biases",
        ),
    ]
    return run_check("cifar_resnet_params", fn, cases, compare="equal", forbid=FORBID)


# --------------------------------------------------------------------------- exercise 2
def _block_output(block_cls: Callable, in_planes: int, planes: int, stride: int) -> np.ndarray:
    """Build the student's block, give it the reference block's weights, run one batch.

    Returns the output on a fixed input in training mode (batch statistics), as
    float64 NumPy of shape (2, planes, 6 / stride, 6 / stride).
    """
    from coursekit.resnet import BasicBlock

    # fork_rng: building the blocks must not move the notebook's global random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = BasicBlock(in_planes, planes, stride, shortcut="B").double()
        block = block_cls(in_planes, planes, stride)
    if not isinstance(block, torch.nn.Module):
        raise TypeError(f"ResidualBlock(...) must be an nn.Module, got {type(block).__name__}")
    block = block.double()
    # the names conv1, bn1, conv2, bn2, shortcut.0, shortcut.1 are part of the task
    keys = block.state_dict().keys()
    missing = [k for k in reference.state_dict() if k not in keys]
    extra = [k for k in keys if k not in reference.state_dict()]
    if missing or extra:
        raise ValueError(
            f"the block's submodules must be named conv1, bn1, conv2, bn2 (and shortcut.0, "
            f"shortcut.1 for a projection); missing {missing[:3]}, unexpected {extra[:3]}"
        )
    block.load_state_dict(reference.state_dict())
    x = torch.randn(
        2, in_planes, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    block.train()
    with torch.no_grad():
        return block(x).numpy()


def _block_expected(in_planes: int, planes: int, stride: int) -> np.ndarray:
    from coursekit.resnet import BasicBlock

    return _block_output(functools.partial(BasicBlock, shortcut="B"), in_planes, planes, stride)


def check_residual_block(block_cls: Callable) -> CheckResult:
    """Check a ``ResidualBlock(in_planes, planes, stride)`` class (``nn.Module``).

    The block must compute ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x)) with
    submodules named ``conv1, bn1, conv2, bn2`` and ``shortcut`` (``nn.Identity``
    when the shape is unchanged, else ``nn.Sequential(1x1 conv, BN)``), so the
    reference block's weights can be loaded into it.

    Parameters
    ----------
    block_cls : type
        Called as ``block_cls(in_planes, planes, stride)``.

    Returns
    -------
    CheckResult
    """
    fn = functools.partial(_block_output, block_cls)
    cases = [
        Case(
            args=(4, 4, 1),
            expected=_block_expected(4, 4, 1),
            name="same shape: identity shortcut",
            hint="out = relu(bn2(conv2(relu(bn1(conv1(x))))) + x); add x before the last ReLU",
        ),
        Case(
            args=(4, 8, 2),
            expected=_block_expected(4, 8, 2),
            name="stride 2 and 4 -> 8 channels: projection shortcut",
            hint="shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), "
            "nn.BatchNorm2d(planes)); conv1 has the stride, conv2 has stride 1",
        ),
        Case(
            args=(3, 6, 1),
            expected=_block_expected(3, 6, 1),
            name="more channels, same size: projection shortcut",
            hint="a projection is needed whenever stride != 1 or in_planes != planes",
        ),
    ]
    return run_check("ResidualBlock", fn, cases, rtol=1e-10, atol=1e-12, forbid=FORBID)


# --------------------------------------------------------------------------- exercise 3
def _chain_reference(weights: Sequence[float], residual: bool) -> float:
    w = np.asarray(weights, dtype=np.float64)
    return float(np.prod(1.0 + w) if residual else np.prod(w))


def check_chain_gradient(fn: Callable) -> CheckResult:
    """Check ``chain_gradient(weights, residual)`` -> float: dy/dx through a chain of layers.

    Plain layer i: ``h <- w_i h``; residual layer i: ``h <- h + w_i h``.

    Parameters
    ----------
    fn : callable (ndarray of shape (L,), bool) -> float

    Returns
    -------
    CheckResult
    """
    rng = np.random.default_rng(3)
    small = rng.normal(0.0, 0.1, size=20)  # a freshly initialised branch: w ~ N(0, 0.1^2)
    mixed = rng.uniform(-0.3, 0.3, size=12)
    cases = [
        Case(
            args=(small, False),
            expected=_chain_reference(small, False),
            name="20 plain layers, w ~ N(0, 0.1^2)",
            hint="the chain rule multiplies the local derivatives: dy/dx = w_1 w_2 ... w_L",
        ),
        Case(
            args=(small, True),
            expected=_chain_reference(small, True),
            name="20 residual layers, w ~ N(0, 0.1^2)",
            hint="each residual layer h + w h has derivative 1 + w",
        ),
        Case(
            args=(mixed, True),
            expected=_chain_reference(mixed, True),
            name="12 residual layers, small random weights",
            hint="multiply (1 + w_i) over all layers",
        ),
        Case(
            args=(mixed, False),
            expected=_chain_reference(mixed, False),
            name="12 plain layers, small random weights",
            hint="signs matter: a product of negative weights can be negative",
        ),
    ]
    return run_check("chain_gradient", fn, cases, rtol=1e-10, atol=1e-300, forbid=FORBID)
