"""coursekit._validate: the argument checks every module shares."""

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit._validate import check_bool, check_finite, check_labels, check_seed


def test_check_bool_passes_real_bools_only():
    assert check_bool(True, "flag") is True and check_bool(False, "flag") is False
    for slip in (1, 0, "yes", None):
        with pytest.raises(TypeError, match=f"flag must be a bool, got {slip!r}"):
            check_bool(slip, "flag")


def test_check_bool_with_none_for_auto():
    assert check_bool(None, "amp", allow_none=True) is None
    assert check_bool(True, "amp", allow_none=True) is True
    with pytest.raises(TypeError, match=r"amp must be True, False or None \(auto\), got 1"):
        check_bool(1, "amp", allow_none=True)


def test_check_finite_names_the_argument():
    assert check_finite(-2, "x0") == -2.0
    with pytest.raises(ValueError, match="x0 must be a finite real number, got nan"):
        check_finite(float("nan"), "x0")
    with pytest.raises(TypeError, match=r"x0 must be a finite real number, got '1' \(str\)"):
        check_finite("1", "x0")


def test_check_labels_rejects_nan_and_inf_and_takes_tensors():
    np.testing.assert_array_equal(check_labels(torch.tensor([0.0, 2.0]), 3), [0, 2])
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="y must hold integer class labels, got (nan|inf)"):
            check_labels(np.array([0.0, bad]), 3)
    assert check_labels([0, 7], None).tolist() == [0, 7]  # no upper bound
    with pytest.raises(ValueError, match=r"y must hold class labels >= 0, got -1 in array"):
        check_labels([0, -1], None)
    with pytest.raises(ValueError, match=r"in \[0, 1\] for the 2 class_names, got 2"):
        check_labels([2], 2, why="for the 2 class_names")


def test_torch_seeds_fit_below_2_to_the_63():
    assert check_seed(2**70) == 2**70  # numpy takes any size
    assert check_seed(2**63 - 1, for_torch=True) == 2**63 - 1
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63 - 1\]"):
        check_seed(2**63, for_torch=True)


def test_user_stacklevel_points_past_every_coursekit_frame():
    import coursekit

    package = Path(coursekit.__file__).parent
    # two functions compiled as if they were coursekit's: warn() called through outer()
    code = (
        "import warnings\n"
        "from coursekit._validate import user_stacklevel\n"
        "def warn():\n"
        "    warnings.warn('w', stacklevel=user_stacklevel())\n"
        "    return user_stacklevel()\n"
        "def outer():\n"
        "    return warn()\n"
    )
    ns: dict = {}
    exec(compile(code, str(package / "fake_module.py"), "exec"), ns)
    with pytest.warns(UserWarning) as record:
        level = ns["outer"]()
    assert level == 3  # warn, outer, then this test
    assert record[0].filename == __file__
    assert record[0].lineno == inspect.currentframe().f_lineno - 3
    with pytest.warns(UserWarning) as record:
        assert ns["warn"]() == 2  # called from here directly
    assert record[0].filename == __file__
