"""The learner's environment holds the course's runtime and JupyterLab, no tool of ours."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {
    "nbgrader",
    "pytest",
    "pytest-xdist",
    "playwright",
    "ruff",
    "sphinx",
    "hypothesis",
    "nbval",
}


def _names(reqs: list[str]) -> set[str]:
    return {Requirement(r).name.lower() for r in reqs}


def test_runtime_and_lab_extra_hold_no_tools():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    student = _names(project["dependencies"]) | _names(project["optional-dependencies"]["lab"])
    assert "jupyterlab" in student and "torch" in student
    assert not student & TOOLS, student & TOOLS
    assert "nbgrader" in _names(project["optional-dependencies"]["instructor"])


def test_make_lab_uses_the_learners_environment_and_make_test_the_tools():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^EXTRAS\s*\?=\s*lab$", make, re.M)
    assert re.search(r"^DEV_EXTRAS\s*\?=\s*dev,instructor$", make, re.M)

    def recipe(target: str) -> str:
        match = re.search(rf"^{target}:([^\n]*)\n((?:\t[^\n]*\n?)*)", make, re.M)
        assert match, target
        return match.group(1) + match.group(2)

    for target in ("workspace", "lab"):
        body = recipe(target)
        assert "DEV_" not in body and ("$(BIN)" in body or "workspace" in body), target
    assert " install" in recipe("workspace") and "install-dev" not in recipe("workspace")
    for target in ("lint", "unit", "nbval"):
        assert "install-dev" in recipe(target) and "$(DEV_BIN)" in recipe(target), target


def test_readme_sizes_come_from_the_record():
    import json

    record = json.loads((ROOT / "benchmarks" / "results" / "student_env.json").read_text())
    readme = (ROOT / "README.md").read_text()
    for key in ("learner_venv_gib", "learner_torch_cuda_triton_gib", "tools_venv_gib"):
        assert f"{record[key]} GiB" in readme, key


def test_every_environment_gets_the_data_files_an_editable_install_skips(tmp_path):
    import subprocess
    import sys

    make = (ROOT / "Makefile").read_text()
    venv = re.search(r"^define new_venv\n(.*?)^endef", make, re.M | re.S).group(1)
    pip = venv.index('pip install --quiet -c $(LOCK) -e ".[$(2)]"')
    assert venv.index("$(1)/bin/python scripts/install_data_files.py") > pip
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    files = project["tool"]["setuptools"]["data-files"]
    assert "share/jupyter/lab/settings/overrides.d" in files
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "install_data_files.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for folder, names in files.items():
        for name in names:
            installed = tmp_path / folder / Path(name).name
            assert installed.read_bytes() == (ROOT / name).read_bytes()
