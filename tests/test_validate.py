"""coursekit._validate: the argument checks every module shares."""

import pytest

from coursekit._validate import check_bool


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
