"""The project's metadata agrees with itself: pyproject, environment.yml, lock file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = set(project["dependencies"]) | set(extras["dev"]) | set(extras["instructor"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_section if not r.startswith("-e")}
    assert listed == wanted, (
        f"only in pyproject: {sorted(wanted - listed)}; only in environment.yml: "
        f"{sorted(listed - wanted)}"
    )
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.replace("python", "") == project["requires-python"]


def test_lock_file_pins_every_declared_dependency_exactly():
    project = _pyproject()["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    lock = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"lock line {line!r} is not pinned with =="
            lock[_name(name)] = version
    missing = sorted({_name(r) for r in declared} - set(lock))
    assert not missing, f"declared but not pinned in requirements/lock.txt: {missing}"


def test_pinned_versions_satisfy_the_lower_bounds():
    from packaging.requirements import Requirement

    project = _pyproject()["project"]
    lock = dict(
        (_name(n), v)
        for n, _, v in (
            line.partition("==")
            for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
            if "==" in line
        )
    )
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    for req in declared:
        r = Requirement(req)
        assert r.specifier.contains(lock[_name(req)], prereleases=True), (req, lock[_name(req)])


def _commands(script: str) -> list[str]:
    """The shell commands of ``script``: no comments, no blank lines, one per line."""
    out = []
    for line in script.splitlines():
        code = re.sub(r"(^|\s)#.*$", "", line).strip()
        if code:
            out.append(code)
    return out


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    return [c for block in blocks for c in _commands(block)]


def test_commands_ignore_comments():
    assert _commands("# make test\n  #make test\nmake lint  # then make test\n") == ["make lint"]


def test_ci_runs_the_readme_test_command():
    readme = _readme_commands()
    assert "make test" in readme and "make lab" in readme
    ci = _commands((ROOT / ".ci" / "run").read_text())
    # Run as a command, last, after CI=true is exported, by a script that stops at the first error.
    assert ci[-1] == "make test", ci[-3:]
    assert ci.index("export CI=true") < len(ci) - 1
    assert "set -euo pipefail" in ci[:2]
    assert not any(re.match(r"(exit|return)\b", c) for c in ci[:-1] if "||" not in c)


def test_ci_installs_what_the_tests_look_for():
    from helpers import CHROMIUM

    ci = "\n".join(_commands((ROOT / ".ci" / "run").read_text()))
    # A failed install fails the run, at the path the browser tests use.
    assert f"[ -x {CHROMIUM} ] || {{ echo" in ci and "exit 1; }" in ci
    assert "command -v bwrap" in ci and "command -v npm" in ci


def test_make_test_is_lint_unit_and_nbval():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: lint unit nbval$", makefile, flags=re.M)
