"""Browser tests: a real JupyterLab driven by headless Chromium (Playwright).

They check what nbval cannot: that widgets render in Lab and react to the
user (a slider moved with the keyboard updates its text), and that a
notebook renders to a reveal.js slide deck without errors.

The helpers (``open_notebook``, ``run_all``, ``move_slider``, ``wait_for_text``)
live in tests/helpers.py, the ``browser`` and ``page`` fixtures in
tests/conftest.py, so other notebooks with sliders can reuse them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import (
    count_stderr,
    isolated_env,
    move_slider,
    open_deck,
    open_notebook,
    require_chromium,
    run_all,
    slider_value,
    start_lab,
    stderr_outputs,
    wait_for_text,
)

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent / "fixtures" / "browser"
NOTEBOOK = "slider.ipynb"


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """JupyterLab serving a copy of the fixture notebook; see ``helpers.start_lab``."""
    require_chromium()
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    shutil.copy(FIXTURES / NOTEBOOK, root / NOTEBOOK)
    with start_lab(root, home, isolated_env(home)) as server:
        yield server


# --------------------------------------------------------------------------- #
# tests
# --------------------------------------------------------------------------- #
def test_slider_in_jupyterlab_updates_its_text(lab_server, page, tmp_path):
    open_notebook(page, lab_server, NOTEBOOK)
    run_all(page)
    label = wait_for_text(page, "square: 9", selector=".widget-html")
    assert slider_value(page, 0) == "3"
    before = label.inner_text()

    move_slider(page, 0, 2)
    after_loc = wait_for_text(page, "square: 25", selector=".widget-html")
    assert slider_value(page, 0) == "5"
    assert after_loc.inner_text() != before
    move_slider(page, 0, -4)
    wait_for_text(page, "square: 1", selector=".widget-html")

    wait_for_text(page, "sum of squares 0..10: 385")
    assert stderr_outputs(page) == []
    shot = tmp_path / "slider.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000


def _nbconvert(tmp_path: Path, to: str) -> Path:
    src = tmp_path / NOTEBOOK
    if not src.exists():
        shutil.copy(FIXTURES / NOTEBOOK, src)
    home = tmp_path / "home"
    cmd = [
        sys.executable, "-m", "jupyter", "nbconvert", f"--to={to}", "--execute",
        "--ExecutePreprocessor.timeout=60", str(src),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=isolated_env(home), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = src.with_suffix(".slides.html" if to == "slides" else ".html")
    assert out.exists(), proc.stderr[-3000:]
    return out


def test_notebook_renders_to_slides_and_html(tmp_path, page):
    require_chromium()
    deck = _nbconvert(tmp_path, "slides")
    html = _nbconvert(tmp_path, "html")
    for path in (deck, html):
        text = path.read_text(encoding="utf-8")
        assert "Traceback" not in text and "jp-RenderedText" in text
        assert "sum of squares 0..10: 385" in text

    slides = open_deck(page, deck)
    # Three markdown cells marked "slide": three top-level reveal.js sections.
    assert slides.count() == 3
    assert "Slider fixture" in slides.nth(0).inner_text()
    assert count_stderr(page) == 0
    page.screenshot(path=str(tmp_path / "deck.png"))

    page.goto(html.as_uri(), wait_until="domcontentloaded")
    assert page.locator(".jp-Cell").count() == 6
    assert count_stderr(page) == 0
