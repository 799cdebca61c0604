"""Course administration: student edition, student workspace, progress and autograder.

Command line: ``coursekit release``, ``coursekit workspace``, ``coursekit progress``
(:mod:`coursekit.grading.progress`), ``coursekit grade``, ``coursekit grade merge``
(also ``python -m coursekit ...``). The submodules
are imported on first use, so the sandbox's harness
(``python -m coursekit.grading.harness``) starts without importing the rest.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

# jsonschema, imported by nbformat, spends seconds compiling an IRI grammar
# (package rfc3987_syntax) that notebook validation never uses; every grading
# process imports nbformat, so we tell Python that package is absent.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__all__ = [
    "GradingError",
    "MarkupError",
    "Row",
    "WorkspaceReport",
    "compute_checksum",
    "grade",
    "merge",
    "release",
    "release_notebook",
    "solution_cells",
    "update_workspace",
]

_WHERE = {
    "MarkupError": "release",
    "compute_checksum": "release",
    "release": "release",
    "release_notebook": "release",
    "GradingError": "autograde",
    "Row": "autograde",
    "grade": "autograde",
    "merge": "autograde",
    "solution_cells": "autograde",
    "WorkspaceReport": "workspace",
    "update_workspace": "workspace",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'coursekit.grading' has no attribute {name!r}")
    module = importlib.import_module(f"coursekit.grading.{_WHERE[name]}")
    return getattr(module, name)
