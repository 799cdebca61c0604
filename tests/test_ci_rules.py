"""The suite's own rules (tests/conftest.py): under CI=true a skip fails, except a GPU
test's; GPU skips are summed up once; every test has a time limit.

Each case runs pytest in a subprocess on a small test file beside a copy of the
suite's conftest.py, so the real hooks are what is tested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

CASES = """
import pytest

def test_runs():
    pass

def test_skips_for_a_missing_tool():
    pytest.skip("Chromium not installed")

@pytest.mark.browser
def test_browser_skips():
    pytest.skip("no browser")

@pytest.fixture
def needs_sandbox():
    pytest.skip("bubblewrap missing")

def test_fixture_skips(needs_sandbox):
    pass

@pytest.mark.gpu
@pytest.mark.skipif(True, reason="needs CUDA")
def test_gpu_one():
    pass

@pytest.mark.gpu
def test_gpu_two():
    pytest.skip("needs CUDA")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
"""


def _run(tmp_path: Path, ci: bool, *args: str, source: str = CASES) -> subprocess.CompletedProcess:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(TESTS / "helpers.py", tmp_path / "helpers.py")
    (tmp_path / "test_cases.py").write_text(source)
    # The repository's pyproject.toml: its markers, timeout and options.
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("CI", None)
    env.pop("PYTEST_ADDOPTS", None)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args, "test_cases.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_outside_ci_skips_stay_skips(tmp_path):
    done = _run(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 5 skipped, 1 xfailed" in done.stdout, done.stdout
    assert "2 GPU test(s) skipped: no CUDA GPU here" in done.stdout


def test_under_ci_a_skip_fails_but_a_gpu_skip_does_not(tmp_path):
    done = _run(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout
    assert "2 failed, 1 passed, 2 skipped, 1 xfailed" in done.stdout, done.stdout
    for name in ("test_skips_for_a_missing_tool", "test_browser_skips"):
        assert f"FAILED test_cases.py::{name}" in done.stdout, done.stdout
    # A fixture that skips (no Chromium, no sandbox) makes its test an error.
    assert "ERROR test_cases.py::test_fixture_skips" in done.stdout, done.stdout
    assert "skipped under CI=true, where every non-GPU test must run: Chromium" in done.stdout
    # Said once, in the summary.
    assert done.stdout.count("2 GPU test(s) skipped") == 1, done.stdout


def test_under_ci_a_module_skipped_at_import_fails(tmp_path):
    source = (
        'import pytest\npytest.importorskip("no_such_module_here")\n\ndef test_x():\n    pass\n'
    )
    assert _run(tmp_path, ci=False, source=source).returncode == 5  # nothing ran, nothing failed
    done = _run(tmp_path, ci=True, source=source)
    assert done.returncode != 0 and "no_such_module_here" in done.stdout, done.stdout


def test_a_hung_test_fails_with_its_name(tmp_path):
    source = "import time\n\ndef test_hangs():\n    time.sleep(60)\n"
    done = _run(tmp_path, False, "--timeout=2", source=source)
    assert done.returncode == 1, done.stdout
    assert "FAILED test_cases.py::test_hangs" in done.stdout and "Timeout" in done.stdout


def test_every_test_has_a_time_limit_and_long_modules_more():
    import tomllib

    import conftest

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert config["timeout"] == 300
    for name, seconds in conftest.LONG_TIMEOUTS.items():
        assert (TESTS / name).is_file(), f"LONG_TIMEOUTS names {name}, which does not exist"
        assert seconds > config["timeout"]
