"""The learner's JupyterLab, as ``make lab`` sets it up, in headless Chromium.

``make lab`` installs ``coursekit[lab]``: the course's runtime and JupyterLab,
none of the tools. Building that venv from the index takes minutes and the
network (5 GiB of PyTorch/CUDA wheels), so ``learner_python`` builds the same
file set offline: every file that install would write, linked from the tools'
environment (same lock, same versions), coursekit from this checkout, and the
Makefile's data-files step (tests/helpers.py's ``make_learner_env``). What it
proves: the distributions the learner gets, and the JupyterLab extensions and
settings they bring, load no nbgrader. What it does not: that pip resolves the
lock as it did for the tools (``learner_distributions`` reads that resolution).

Checked here:

* no nbgrader server or lab extension in the learner's environment (the tools'
  environment lists both: the same command sees them when they are there);
* the learner's Lab has no Nbgrader menu, no Create Assignment panel and no
  Validate button (the tools' Lab shows all three to the same selectors);
* notebook 02 after Run All, save and a new kernel (no live widget model left):
  each explorer shows its figure, never "Error displaying widget: model not
  found"; the saved file holds the widgets' state and a PNG fallback per explorer.

Every request the pages make outside the Lab server is blocked.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest
from helpers import (
    isolated_env,
    make_learner_env,
    open_notebook,
    require_chromium,
    run_all,
    start_lab,
    wait_for_kernel_idle,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
GD_NB = "02_gradient_descent.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXPLORER_TITLES = ("Learning rate explorer (1-D)", "Learning rate explorer (2-D)")


@pytest.fixture(scope="module")
def learner_python(tmp_path_factory):
    return make_learner_env(tmp_path_factory.mktemp("learner") / "venv", ROOT)


def learner_env(python: Path, home: Path) -> dict[str, str]:
    """``isolated_env`` for the learner's environment: its bin first, no PYTHONPATH."""
    env = isolated_env(home)
    env["PATH"] = str(python.parent) + os.pathsep + env["PATH"]
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def learner_lab(learner_python, tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("learner-root")
    home = tmp_path_factory.mktemp("learner-home")
    shutil.copy(ROOT / "student" / GD_NB, root / GD_NB)
    env = learner_env(learner_python, home)
    with start_lab(root, home, env, python=learner_python) as server:
        yield server


def local_only(page, server) -> None:
    """Abort every request that does not go to the Lab server."""
    page.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(server["base"]) else r.abort(),
    )


def _listing(python: Path | str, module: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(python), "-m", module, "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def test_learner_env_loads_no_nbgrader_extension(learner_python, tmp_path):
    env = learner_env(learner_python, tmp_path)
    server = _listing(learner_python, "jupyter_server.extension.serverextension", env)
    lab = _listing(learner_python, "jupyterlab.labextensions", env)
    assert "jupyterlab " in server and "@jupyter-widgets/jupyterlab-manager" in lab
    assert "nbgrader" not in server.lower() and "nbgrader" not in lab.lower()
    tools = isolated_env(tmp_path / "tools")
    assert "nbgrader" in _listing(sys.executable, "jupyter_server.extension.serverextension", tools)
    assert "@jupyter/nbgrader" in _listing(sys.executable, "jupyterlab.labextensions", tools)


def nbgrader_ui(page) -> dict[str, int]:
    """How many of nbgrader's Lab controls the page shows (its labextension's ids and labels)."""
    return {
        "Nbgrader menu": page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").count(),
        "Create Assignment": page.locator(
            '.lm-TabBar-tab[data-id="nbgrader-create_assignemnt"]'
        ).count(),
        "Validate": page.locator(".jp-NotebookPanel-toolbar .validate-button").count(),
    }


def test_learner_lab_has_no_nbgrader(learner_lab, page, tmp_path):
    local_only(page, learner_lab)
    open_notebook(page, learner_lab, GD_NB)
    page.wait_for_timeout(2000)  # every plugin has activated by now
    assert nbgrader_ui(page) == {"Nbgrader menu": 0, "Create Assignment": 0, "Validate": 0}

    # The tools' Lab, nbgrader installed: the same selectors find each control.
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    shutil.copy(ROOT / "student" / GD_NB, root / GD_NB)
    with start_lab(root, home, isolated_env(home)) as tools_lab:
        local_only(page, tools_lab)
        open_notebook(page, tools_lab, GD_NB)
        page.locator(".jp-NotebookPanel-toolbar .validate-button").first.wait_for(timeout=30_000)
        shown = nbgrader_ui(page)
    assert all(shown.values()), shown


def _api(server, method: str, path: str) -> object:
    request = urllib.request.Request(
        f"{server['base']}{path}",
        method=method,
        headers={"Authorization": f"token {server['token']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def test_reopened_explorers_show_their_figures(learner_lab, page):
    from playwright.sync_api import expect

    local_only(page, learner_lab)
    page.set_viewport_size({"width": 1280, "height": 1600})
    open_notebook(page, learner_lab, GD_NB)
    run_all(page)
    explorers = [
        page.locator(".widget-vbox").filter(has_text=title).last for title in EXPLORER_TITLES
    ]
    for explorer in explorers:
        explorer.locator(".widget-output img").first.wait_for(state="attached", timeout=60_000)

    page.keyboard.press("Control+s")
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").filter(has_text="02_gradient")
    expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"), timeout=60_000)
    saved = nbformat.read(learner_lab["root"] / GD_NB, as_version=4)
    views = [
        o for c in saved.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})
    ]
    assert len(views) == len(EXPLORER_TITLES), len(views)
    for out in views:  # the fallbacks a frontend without the widget shows
        assert base64.b64decode(out.data["image/png"]).startswith(b"\x89PNG")
        assert out.data["text/plain"].startswith("Learning rate explorer")
    state = saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    for out in views:
        assert out.data[WIDGET_VIEW]["model_id"] in state

    # A new kernel: the live models are gone with the old one.
    for session in _api(learner_lab, "GET", "/api/sessions"):
        _api(learner_lab, "DELETE", f"/api/sessions/{session['id']}")
    page.goto("about:blank")
    open_notebook(page, learner_lab, GD_NB)
    page.wait_for_timeout(3000)  # the widget manager has restored the notebook's state
    wait_for_kernel_idle(page)
    # Without the saved state each explorer's output reads "Error displaying widget:
    # model not found" (checked with the setting removed: this test then fails).
    errors = page.locator(".jp-OutputArea-output").filter(has_text="Error displaying widget")
    assert errors.count() == 0, errors.all_text_contents()
    for title, explorer in zip(EXPLORER_TITLES, explorers, strict=True):
        img = explorer.locator(".widget-output img").first
        img.wait_for(state="attached", timeout=30_000)
        img.scroll_into_view_if_needed()
        assert img.evaluate("i => i.complete && i.naturalWidth > 100"), title
