"""Browser tests: a real JupyterLab driven by headless Chromium (Playwright).

They check what nbval cannot: that widgets render in Lab and react to the
user (a slider moved with the keyboard updates its text), and that a
notebook renders to a reveal.js slide deck without errors.

The helpers (``open_notebook``, ``run_all``, ``move_slider``, ``wait_for_text``)
are generic, so other notebooks with sliders can reuse them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIXTURES = Path(__file__).parent / "fixtures" / "browser"
NOTEBOOK = "slider.ipynb"
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed: apt-get install chromium")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _isolated_env(home: Path) -> dict:
    """Environment for Jupyter with its config, data and settings inside ``home``."""
    env = dict(os.environ)
    env["PATH"] = str(VENV_BIN) + os.pathsep + env.get("PATH", "")  # kernel "python" = this venv
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
    ]:
        env[var] = str(home / sub)
    env.pop("COURSEKIT_STATIC_WIDGETS", None)  # real widgets in the browser
    env.setdefault("OMP_NUM_THREADS", "1")
    # No "would you like news?" toast over the notebook.
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


# --------------------------------------------------------------------------- #
# fixtures: a JupyterLab server and a Chromium page
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """Start JupyterLab on a free port with a random token; always shut it down."""
    _require_chromium()
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    shutil.copy(FIXTURES / NOTEBOOK, root / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    log = open(home / "server.log", "w")  # closed in the finaliser
    proc = subprocess.Popen(cmd, cwd=root, env=_isolated_env(home), stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{(home / 'server.log').read_text()}")
            try:
                req = urllib.request.Request(
                    f"{base}/api/status", headers={"Authorization": f"token {token}"}
                )
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab did not answer within 60 s:\n{(home / 'server.log').read_text()}"
                )
            time.sleep(0.3)
        yield {"url": base, "token": token, "root": root, "log": home / "server.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        # The last state of the page, kept for a post-mortem when a test fails.
        pg.screenshot(path=str(tmp_path / "last-page.png"))
        context.close()


# --------------------------------------------------------------------------- #
# generic helpers
# --------------------------------------------------------------------------- #
def open_notebook(page, server: dict, name: str) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is ready."""
    page.goto(f"{server['url']}/lab/tree/{name}?token={server['token']}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="visible", timeout=60_000)
    wait_for_kernel_idle(page)


def wait_for_kernel_idle(page, timeout: float = 60_000) -> None:
    """Wait until the kernel is connected and idle and no cell is queued or running.

    The status bar reads "<kernel> | Idle" only once a kernel is connected
    (before that: "Starting", "Connecting", "Unknown"); the toolbar's execution
    indicator and the "[*]" prompts cover cells still running.
    """
    page.wait_for_function(
        """() => {
            const bar = document.querySelector('#jp-main-statusbar');
            const connected = bar && / \\| Idle/.test(bar.textContent);
            const ind = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
            const idle = ind && ind.getAttribute('data-status') === 'idle';
            const busy = [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]
                .some(p => p.textContent.includes('*'));
            return connected && idle && !busy;
        }""",
        timeout=timeout,
    )


def run_all(page) -> None:
    """Run > Run All Cells from the menu bar, then wait for every cell to finish."""
    page.locator(".jp-NotebookPanel .jp-Notebook").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    # Every code cell has an execution count once it ran.
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=60_000,
    )
    wait_for_kernel_idle(page)


def move_slider(page, index: int, steps: int) -> None:
    """Move the ``index``-th ipywidgets slider by ``steps`` (negative: left) with arrow keys."""
    handle = page.locator(".widget-slider .noUi-handle").nth(index)
    handle.wait_for(state="visible")
    handle.scroll_into_view_if_needed()
    handle.focus()
    key = "ArrowRight" if steps > 0 else "ArrowLeft"
    for _ in range(abs(steps)):
        handle.press(key)


def slider_value(page, index: int) -> str:
    """The readout text of the ``index``-th slider."""
    return page.locator(".widget-slider .widget-readout").nth(index).inner_text().strip()


def wait_for_text(page, text: str, selector: str = ".jp-OutputArea", timeout: float = 15_000):
    """Wait until an element matching ``selector`` shows ``text``; returns the locator."""
    loc = page.locator(selector).filter(has_text=text).first
    loc.wait_for(state="visible", timeout=timeout)
    return loc


def output_errors(page) -> list[str]:
    """Texts of error outputs (tracebacks) in the open notebook."""
    return page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()


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
    assert output_errors(page) == []
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
        cmd, cwd=tmp_path, env=_isolated_env(home), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = src.with_suffix(".slides.html" if to == "slides" else ".html")
    assert out.exists(), proc.stderr[-3000:]
    return out


def test_notebook_renders_to_slides_and_html(tmp_path, page):
    _require_chromium()
    deck = _nbconvert(tmp_path, "slides")
    html = _nbconvert(tmp_path, "html")
    for path in (deck, html):
        text = path.read_text(encoding="utf-8")
        assert "Traceback" not in text and "jp-RenderedText" in text
        assert "sum of squares 0..10: 385" in text

    # Offline: block every request that is not the local file (reveal.js CDN etc.).
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(deck.as_uri(), wait_until="domcontentloaded")
    # Three markdown cells marked "slide": three top-level reveal.js sections.
    slides = page.locator(".reveal .slides > section")
    assert slides.count() == 3
    assert "Slider fixture" in slides.nth(0).inner_text()
    assert page.locator(".jp-OutputArea-output[data-mime-type*='stderr']").count() == 0
    assert (
        page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']").count()
        == 0
    )
    page.screenshot(path=str(tmp_path / "deck.png"))

    page.goto(html.as_uri(), wait_until="domcontentloaded")
    assert page.locator(".jp-Cell").count() == 6
    assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
