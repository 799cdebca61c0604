"""Graded exercises of notebook 08 (residual networks); none may use ``coursekit.resnet``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from coursekit.checks import nb08
from coursekit.checks.framework import Case
from coursekit.grading.spec import Call, Exercise, mismatch

FORBID = nb08.FORBID  # the rule the visible checks state


# --------------------------------------------------------------------------- parameters
def _resnet_params_calls(rng: np.random.Generator) -> list[Call]:
    return [
        Call((8, int(rng.integers(2, 201))), label="one block per stage"),
        Call((6 * int(rng.integers(2, 5)) + 2, 10), label="ten classes"),
        Call((6 * int(rng.integers(2, 6)) + 2, int(rng.integers(2, 1001))), label="deeper"),
        Call((6 * int(rng.integers(1, 4)) + 2, 1), label="one output"),
    ]


# --------------------------------------------------------------------------- residual block
_BN = ("weight", "bias", "running_mean", "running_var")


def _state_dict(block: Any) -> dict:
    """A plain dict (plain data) of detached copies of the block's tensors."""
    return {k: v.detach().clone() for k, v in block.state_dict().items()}


def _block_public(case: Case) -> Call:
    """The visible case as a module_forward call: the weights and x of ``nb08._block_output``."""
    import torch

    from coursekit.resnet import BasicBlock

    in_planes, planes, stride = case.args
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = BasicBlock(in_planes, planes, stride, shortcut="B").double()
    x = torch.randn(
        2, in_planes, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    return Call((case.args, _state_dict(reference), x), driver="module_forward", label=case.name)


def _block_answer(got: Any, call: Call | None) -> Any:
    """The train-mode output as NumPy (public calls); the whole record (hidden calls)."""
    if call is not None and not call.public:
        return got
    if not isinstance(got, dict) or got.get("is_module") is not True:
        raise TypeError("ResidualBlock(...) must be an nn.Module")
    if got.get("train") is None:
        # the same words as the visible check (nb08._block_output)
        keys = got.get("keys") or []
        wanted = list(call.args[1]) if call is not None else []
        missing = [k for k in wanted if k not in keys]
        extra = [k for k in keys if k not in wanted]
        raise ValueError(
            "the block's submodules must be named conv1, bn1, conv2, bn2 (and shortcut.0, "
            f"shortcut.1 for a projection); missing {missing[:3]}, unexpected {extra[:3]}"
        )
    return got["train"].numpy()


def _random_block(rng: np.random.Generator, in_planes: int, planes: int, stride: int) -> dict:
    """Weights of a freshly seeded reference block, BN parameters and statistics perturbed."""
    import torch

    from coursekit.resnet import BasicBlock

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**31)))
        block = BasicBlock(in_planes, planes, stride, shortcut="B").double()
    state = _state_dict(block)
    for name, value in state.items():
        kind = name.rsplit(".", 1)[-1]
        if kind in _BN and value.ndim == 1:
            n = value.shape[0]
            new = {
                "weight": 1.0 + 0.3 * rng.normal(size=n),
                "bias": 0.3 * rng.normal(size=n),
                "running_mean": 0.5 * rng.normal(size=n),
                "running_var": rng.uniform(0.3, 3.0, size=n),
            }[kind]
            state[name] = torch.from_numpy(new)
        elif kind == "num_batches_tracked":
            state[name] = torch.tensor(int(rng.integers(0, 1000)), dtype=torch.int64)
    return state


def _block_call(rng: np.random.Generator, in_planes: int, planes: int, stride: int, label: str):
    import torch

    n, h, w = int(rng.integers(2, 5)), int(rng.integers(3, 9)), int(rng.integers(3, 9))
    x = torch.from_numpy(rng.normal(size=(n, in_planes, h, w)) * rng.uniform(0.5, 3.0))
    state = _random_block(rng, in_planes, planes, stride)
    return Call(((in_planes, planes, stride), state, x), driver="module_forward", label=label)


def _block_calls(rng: np.random.Generator) -> list[Call]:
    def planes() -> int:
        return int(rng.integers(1, 9))

    c, s = planes(), planes()
    c_in = int(rng.integers(1, 8))
    c_out = int(rng.integers(c_in + 1, 10))
    big = int(rng.integers(2, 9))
    small = int(rng.integers(1, big))
    return [
        _block_call(rng, c, c, 1, "same shape: identity shortcut"),
        _block_call(rng, planes(), planes(), 2, "stride 2"),
        _block_call(rng, s, s, 2, "stride 2, same channels"),
        _block_call(rng, c_in, c_out, 1, "more channels"),
        _block_call(rng, big, small, 1, "fewer channels"),
    ]


def _block_reference(init_args: tuple, state_dict: dict, x: Any) -> dict:
    """What the driver returns for the reference block (keys, shortcut kind, outputs)."""
    import torch

    from coursekit.grading.drivers import module_forward
    from coursekit.resnet import BasicBlock

    # the driver seeds torch for the student's block; here, in the grader, the caller's
    # random state is kept as it was
    with torch.random.fork_rng(devices=[]):
        ran = module_forward(functools.partial(BasicBlock, shortcut="B"), init_args, state_dict, x)
    in_planes, planes, stride = init_args
    return {
        "keys": ran["keys"],
        "identity": stride == 1 and in_planes == planes,
        "train": ran["train"],
        "eval": ran["eval"],
    }


def _block_judge(got: Any, expected: dict, call: Call) -> str:
    if not isinstance(got, dict) or got.get("is_module") is not True:
        return "not an nn.Module"
    if got.get("keys") != expected["keys"]:
        return "wrong state-dict keys"
    submodules = got.get("submodules")
    shortcut = submodules.get("shortcut") if isinstance(submodules, dict) else None
    if (shortcut == "Identity") != expected["identity"]:
        return "wrong shortcut type"
    for mode in ("train", "eval"):
        why = mismatch(got.get(mode), expected[mode], 1e-10, 1e-12)
        if why:
            return f"{why} in {mode} mode"
    return ""


# --------------------------------------------------------------------------- gradient chain
def _chain_reference(weights, residual):
    w = np.asarray(weights, dtype=np.float64)
    return float(np.prod(1.0 + w) if residual else np.prod(w))


def _chain_calls(rng: np.random.Generator) -> list[Call]:
    calls = []
    for residual in (False, True):
        w = rng.uniform(-0.6, 0.6, size=int(rng.integers(1, 30)))
        calls.append(Call((w, residual), label="residual" if residual else "plain"))
    for residual in (False, True):
        w = rng.uniform(0.05, 0.9, size=int(rng.integers(60, 200)))
        calls.append(Call((w, residual), label="long chain"))
    w = -rng.uniform(0.1, 2.0, size=2 * int(rng.integers(1, 6)) + 1)
    calls.append(Call((w, False), label="negative weights"))
    n = int(rng.integers(1, 60))
    calls.append(Call((np.zeros(n), True), label="zero weights"))
    calls.append(Call((np.zeros(n), False), label="zero weights"))
    return calls


EXERCISES = [
    Exercise(
        grade_id="nb08-resnet-params-tests",
        target="cifar_resnet_params",
        check=nb08.check_cifar_resnet_params,
        hidden=_resnet_params_calls,
        reference=nb08.cifar_resnet_params_reference,
        exact=True,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb08-residual-block-tests",
        target="ResidualBlock",
        check=nb08.check_residual_block,
        hidden=_block_calls,
        reference=_block_reference,
        public=_block_public,
        answer=_block_answer,
        judge=_block_judge,
        forbid=FORBID,
    ),
    Exercise(
        grade_id="nb08-chain-gradient-tests",
        target="chain_gradient",
        check=nb08.check_chain_gradient,
        hidden=_chain_calls,
        reference=_chain_reference,
        rtol=1e-10,
        atol=1e-300,
        forbid=FORBID,
    ),
]
