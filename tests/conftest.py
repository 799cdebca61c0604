"""Test-wide settings, the CI rules for skips and timeouts, and the browser fixtures.

No display is needed (tests never need a GPU or the network). Plain helper
functions shared by test modules live in tests/helpers.py.

With ``CI=true`` (set by .ci/run, which installs Chromium, bubblewrap and npm),
a skipped test is a failure: everything a test needs is there, so a skip can
only hide a test that did not run. The one exception is a test marked ``gpu``,
which stays skipped on a machine without CUDA; the summary says so once.

Every test has a time limit (pytest-timeout, ``timeout`` in pyproject.toml) so a
hung test fails with its name; the modules in ``LONG_TIMEOUTS`` legitimately
take longer (a module fixture that grades a class or builds the website counts
against the module's first test).
"""

import os

# Before anything imports matplotlib.
os.environ.setdefault("MPLBACKEND", "Agg")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium  # noqa: E402

IN_CI = os.environ.get("CI") == "true"

# Seconds per test for the modules that need more than pyproject.toml's default.
LONG_TIMEOUTS = {
    "test_autograde.py": 900,  # grades a small class in the sandbox (module fixture)
    "test_grading_hostile.py": 900,  # grades 20+ hostile submissions, some until their budget
    "test_course_grading.py": 900,  # grades course notebooks; real nbgrader (300 s subprocess)
    "test_site.py": 600,  # builds the Sphinx website of the whole course
    "test_slides.py": 600,  # renders every notebook as a deck
    "test_course_browser.py": 600,  # JupyterLab and Chromium run notebook 06
    "test_browser.py": 600,
    "test_full_mode.py": 600,  # one notebook in full mode on tiny data (module fixture: a server)
    "test_learner_lab.py": 600,  # links the learner's environment, two Labs, notebook 02
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        seconds = LONG_TIMEOUTS.get(Path(str(item.fspath)).name)
        if seconds is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(seconds))


def _may_skip_in_ci(keywords) -> bool:
    """Only GPU tests may skip under CI=true: CI machines have no CUDA."""
    return "gpu" in keywords


def _skip_reason(longrepr) -> str:
    reason = (
        str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    )
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if (
        IN_CI
        and rep.skipped
        and not hasattr(rep, "wasxfail")
        and not _may_skip_in_ci(item.keywords)
    ):
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where every non-GPU test must run: {_skip_reason(rep.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A whole module skipped at import (``pytest.importorskip``) fails under CI=true too."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where every non-GPU test must run: {_skip_reason(rep.longrepr)}"


def pytest_terminal_summary(terminalreporter):
    gpu = [
        r for r in terminalreporter.stats.get("skipped", []) if "gpu" in getattr(r, "keywords", {})
    ]
    if gpu:
        terminalreporter.write_line(
            f"{len(gpu)} GPU test(s) skipped: no CUDA GPU here; run `make gpu` on a CUDA machine."
        )


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, once per test module; skips when Chromium or Playwright is missing."""
    require_chromium()
    # Imported here: most test runs never start a browser.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, tmp_path):
    """A fresh 1280x900 page per test; its last state is saved as tmp_path/last-page.png."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        # The last state of the page, kept for a post-mortem when a test fails.
        pg.screenshot(path=str(tmp_path / "last-page.png"))
        context.close()
