"""Set the course up in Google Colab (every notebook's first cell calls :func:`setup`).

The first cell clones the repository and puts the clone on ``sys.path``, so
``import coursekit`` works at once in the same runtime. (``pip install -e``
would not: an editable install registers itself through a ``.pth`` file, which
Python reads only when it starts, so Colab would need a restart.) ``setup``
then installs, with pip, only the course's requirements that the runtime lacks
(Colab ships NumPy, PyTorch, matplotlib, ipywidgets ...: usually nothing), and
changes into the student edition's folder.

This module imports nothing outside the standard library at import time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

__all__ = ["missing_requirements", "runtime_requirements", "setup"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def runtime_requirements(root: str | Path) -> list[str]:
    """The requirements the notebooks need: ``[project] dependencies`` of ``root/pyproject.toml``."""
    data = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])


def _satisfied(requirement: str) -> bool:
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"requirement must start with a package name, got {requirement!r}")
    try:
        installed = importlib.metadata.version(match.group(1))
    except importlib.metadata.PackageNotFoundError:
        return False
    try:
        from packaging.requirements import Requirement
    except ImportError:  # no packaging: being installed is enough
        return True
    return Requirement(requirement).specifier.contains(installed, prereleases=True)


def missing_requirements(requirements: Iterable[str]) -> list[str]:
    """The requirements that are not installed, or installed in a version outside their bounds."""
    return [r for r in requirements if not _satisfied(r)]


def _pip_install(requirements: Sequence[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *requirements], check=True)


def setup(
    root: str | Path,
    folder: str = "student",
    install: Callable[[Sequence[str]], None] = _pip_install,
) -> list[str]:
    """Install what the runtime lacks and change into ``root/folder``; return what was installed.

    Parameters
    ----------
    root : the clone of the course repository.
    folder : the notebooks' folder to work in (the student edition).
    install : installs a list of requirements (default: pip, in this interpreter).
    """
    root = Path(root).resolve()
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"root must be a clone of the course, got {str(root)!r}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    missing = missing_requirements(runtime_requirements(root))
    if missing:
        print("installing what this runtime lacks:", ", ".join(missing))
        install(missing)
        importlib.invalidate_caches()  # packages installed now become importable now
    os.chdir(root / folder)
    print(f"coursekit is ready (from {root}); working in {root / folder}")
    return missing
