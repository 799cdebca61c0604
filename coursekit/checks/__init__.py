"""Exercise checks: the feedback framework and one module per notebook (``nbXX``).

The per-notebook modules are imported explicitly by their notebook
(``from coursekit.checks import nb01``), so importing this package stays cheap.
"""

from coursekit.checks.framework import (
    GRADING_ENV,
    Case,
    CheckFailed,
    CheckResult,
    run_check,
    short_repr,
    strict,
)

__all__ = ["Case", "CheckFailed", "CheckResult", "GRADING_ENV", "run_check", "short_repr", "strict"]
