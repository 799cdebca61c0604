"""Test-wide settings and the browser fixtures.

No display is needed (tests never need a GPU or the network). Plain helper
functions shared by test modules live in tests/helpers.py.
"""

import os

# Before anything imports matplotlib.
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
from helpers import CHROMIUM, CHROMIUM_ARGS, require_chromium  # noqa: E402


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
