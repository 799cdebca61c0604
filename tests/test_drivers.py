"""coursekit.grading.drivers: how the sandbox calls a student's solution.

The drivers run next to the student's code and return plain data; these tests
call them in-process on small stand-ins for a student's function or class.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from coursekit.grading.drivers import DRIVERS, call, module_forward


def test_the_registry_names_each_driver():
    assert DRIVERS == {"call": call, "module_forward": module_forward}


def test_call_passes_positional_and_keyword_arguments():
    assert call(lambda *a, **k: (a, k), 1, 2, z=3) == ((1, 2), {"z": 3})
    with pytest.raises(ZeroDivisionError):
        call(lambda x: 1 / x, 0)


class Block(nn.Module):
    """A student's block: a linear layer, batch norm (train and eval differ) and dropout."""

    def __init__(self, n: int, p: float = 0.5):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.bn = nn.BatchNorm1d(n)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(self.bn(self.fc(x)))


def _state(n: int) -> dict:
    torch.manual_seed(123)
    return {k: v.double() for k, v in Block(n).state_dict().items()}


def test_module_forward_runs_train_then_eval_in_float64_with_the_given_weights():
    x = torch.randn(6, 3, dtype=torch.float64)
    x_before = x.clone()
    state = _state(3)
    out = module_forward(Block, (3,), state, x, seed=7)
    assert out["is_module"] is True
    assert out["keys"] == sorted(state)
    assert out["submodules"] == {"fc": "Linear", "bn": "BatchNorm1d", "drop": "Dropout"}
    # the same block, built by hand: train mode with the seed, then eval mode
    torch.manual_seed(7)
    ref = Block(3).double()
    ref.load_state_dict(state)
    with torch.no_grad():
        ref.train()
        train = ref(x.clone())
        ref.eval()
        evaluated = ref(x.clone())
    assert out["train"].dtype == torch.float64
    torch.testing.assert_close(out["train"], train, rtol=0, atol=0)
    torch.testing.assert_close(out["eval"], evaluated, rtol=0, atol=0)
    assert not torch.equal(out["train"], out["eval"])  # batch statistics vs running ones
    assert torch.equal(x, x_before)  # the input is cloned, never changed in place
    assert not out["train"].requires_grad  # run without autograd


def test_module_forward_seeds_torch_before_building_the_block():
    x = torch.randn(8, 4, dtype=torch.float64)
    state = _state(4)
    a = module_forward(Block, (4,), state, x, seed=1)["train"]
    b = module_forward(Block, (4,), state, x, seed=1)["train"]
    c = module_forward(Block, (4,), state, x, seed=2)["train"]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)  # dropout's mask follows the seed
    torch.manual_seed(0)
    d = module_forward(Block, (4,), state, x)["train"]
    torch.manual_seed(99)
    e = module_forward(Block, (4,), state, x)["train"]
    torch.testing.assert_close(d, e, rtol=0, atol=0)  # the same seed, whatever came before
    zero = module_forward(Block, (4,), state, x, seed=0)["train"]
    torch.testing.assert_close(d, zero, rtol=0, atol=0)  # and that seed is 0


def test_module_forward_with_other_keys_returns_no_outputs():
    x = torch.randn(2, 3, dtype=torch.float64)
    state = _state(3)
    del state["bn.running_mean"]
    out = module_forward(Block, (3,), state, x)
    assert out["is_module"] is True and out["train"] is None and out["eval"] is None
    assert "bn.running_mean" in out["keys"]  # the block's own keys say what differs
    assert out["submodules"] == {"fc": "Linear", "bn": "BatchNorm1d", "drop": "Dropout"}


def test_module_forward_of_a_class_that_is_no_module():
    class NotAModule:
        def __init__(self, n):
            self.n = n

    assert module_forward(NotAModule, (3,), {}, torch.zeros(1)) == {"is_module": False}
