"""Install pyproject.toml's [tool.setuptools.data-files] into an environment.

pip installs them with a wheel, not with an editable install (``pip install
-e``, what ``make lab`` and ``make test`` use), so the Makefile runs this after
pip. Today that is one file, JupyterLab's settings for the course
(share/jupyter/lab/settings/overrides.d/coursekit.json: Lab saves the widgets'
state in the notebook, so a reopened explorer shows its figure).

Usage: ``PYTHON scripts/install_data_files.py [PREFIX]``; PREFIX defaults to
the environment of the Python running it (``sys.prefix``).
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def data_files(root: Path = ROOT) -> dict[str, list[str]]:
    """Folder in the environment -> files of the checkout, as pyproject.toml lists them."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    return project.get("tool", {}).get("setuptools", {}).get("data-files", {})


def install(prefix: Path, root: Path = ROOT) -> list[Path]:
    """Copy every data file into ``prefix``; returns the paths written."""
    written = []
    for folder, files in data_files(root).items():
        for name in files:
            target = prefix / folder / Path(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / name, target)
            written.append(target)
    return written


def main(argv: list[str]) -> int:
    prefix = Path(argv[0]) if argv else Path(sys.prefix)
    for path in install(prefix):
        print(f"installed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
