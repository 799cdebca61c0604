"""The REAL course notebooks in a browser: JupyterLab and reveal.js slides in headless Chromium.

tests/test_browser.py checks the machinery on a tiny fixture notebook; this
file checks the course itself:

* notebook 06 runs in JupyterLab with live widgets (no static fallback): the
  convolution explorer renders, moving its stride slider with the keyboard
  changes the output size it shows, and no cell shows an error;
* every course notebook renders to a reveal.js deck, and the deck of 06 opens
  with its slides and without error output;
* the student edition of 01 with a wrong answer saved for exercise 1: Run All
  reaches the last cell, and the check shows its report and one line, no
  traceback; a freshly opened notebook is not marked modified.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from helpers import (
    course_notebook,
    gid,
    isolated_env,
    move_slider,
    open_notebook,
    output_errors,
    require_chromium,
    run_all,
    start_lab,
    stderr_outputs,
)

from coursekit import conv_arithmetic as ca

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CONV_NB = course_notebook("06").name  # a missing notebook 06 fails the module
NB02 = course_notebook("02").name
EXPLORER_TITLE = "Convolution explorer"  # coursekit.widgets.ConvExplorer.title


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory):
    """JupyterLab serving a copy of notebook 06; see ``helpers.start_lab``."""
    require_chromium()
    root = tmp_path_factory.mktemp("course-lab-root")
    home = tmp_path_factory.mktemp("course-lab-home")
    shutil.copy(NOTEBOOKS / CONV_NB, root / CONV_NB)  # coursekit finds data/ via its package
    with start_lab(root, home, isolated_env(home)) as server:
        yield server


def explorer_state(explorer) -> dict[str, int]:
    """Slider readouts of the convolution explorer, by description ("stride S" -> "stride").

    ``text_content``, not ``inner_text``: JupyterLab skips rendering cells out of
    view (CSS content-visibility), and their inner text is then empty.
    """
    state = {}
    for slider in explorer.locator(".widget-slider").all():
        label = slider.locator(".widget-label").text_content().strip()
        readout = slider.locator(".widget-readout").text_content().strip()
        state[label.split()[0]] = int(readout)
    return state


def expected_output_line(state: dict[str, int]) -> str:
    size = ca.conv_output_size(
        state["input"], state["kernel"], state["stride"], state["padding"], state["dilation"]
    )
    return f"output: {size} × {size}"


# --------------------------------------------------------------------------- #
# JupyterLab
# --------------------------------------------------------------------------- #
def test_conv_explorer_is_live_in_jupyterlab(course_lab, page, tmp_path):
    from playwright.sync_api import expect

    start = time.monotonic()
    page.set_viewport_size({"width": 1280, "height": 1600})  # the whole explorer in one shot
    open_notebook(page, course_lab, CONV_NB)
    # The stored outputs carry execution counts and a static explorer; cleared, every
    # count and widget seen after Run All comes from this run.
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").first.click()
    page.get_by_role("menuitem", name="Edit", exact=True).click()
    page.get_by_role("menuitem", name="Clear Outputs of All Cells", exact=True).click()
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".some(p => /\\[\\d+\\]/.test(p.textContent))"
    )
    run_all(page)
    explorer = page.locator(".widget-vbox").filter(has_text=EXPLORER_TITLE).last
    explorer.wait_for(state="visible", timeout=30_000)
    info = explorer.locator(".widget-html").filter(has_text="output:").first
    info.wait_for(state="visible", timeout=30_000)
    # A live explorer draws its figure into an Output widget: an <img> appears.
    explorer.locator(".widget-output img").first.wait_for(state="visible", timeout=30_000)
    explorer.scroll_into_view_if_needed()
    state = explorer_state(explorer)
    before = info.text_content()
    assert expected_output_line(state) in before

    # The stride slider, moved one step with the keyboard (tests/helpers.py's move_slider
    # counts sliders over the whole page).
    sliders = page.locator(".widget-slider")
    labels = [s.strip() for s in sliders.locator(".widget-label").all_text_contents()]
    index = next(i for i, t in enumerate(labels) if t.startswith("stride"))
    step = 1 if state["stride"] < 4 else -1
    move_slider(page, index, step)
    state["stride"] += step
    wanted = expected_output_line(state)
    expect(info).to_contain_text(wanted, timeout=15_000)
    assert explorer_state(explorer)["stride"] == state["stride"]
    after = info.text_content()
    assert after != before, "the info text did not change when the stride slider moved"

    shot = tmp_path / "conv-explorer.png"
    explorer.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert output_errors(page) == []
    warnings = stderr_outputs(page)
    if warnings:  # allowed here (tests/test_notebook_format.py forbids them in stored outputs)
        print("stderr in JupyterLab:", *warnings, sep="\n")
    print(f"{before[:20]!r} -> {after[:20]!r}; screenshot {shot}")
    print(f"JupyterLab test: {time.monotonic() - start:.1f} s")


# --------------------------------------------------------------------------- #
# the student edition: feedback that never stops the notebook
# --------------------------------------------------------------------------- #
LOSSES_NB = "01_losses.ipynb"
WRONG_SOFTMAX = (
    "def softmax_rows(z):\n"
    "    e = np.exp(z)  # no shift by the row's maximum: overflows for large logits\n"
    "    return e / e.sum(axis=1, keepdims=True)"
)


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """JupyterLab on a workspace: 01 with a wrong exercise 1 saved, 02 as released."""
    require_chromium()
    import nbformat

    root = tmp_path_factory.mktemp("student-lab-root")
    home = tmp_path_factory.mktemp("student-lab-home")
    nb = nbformat.read(ROOT / "student" / LOSSES_NB, as_version=4)
    cell = next(c for c in nb.cells if gid(c) == "nb01-softmax")
    cell.source = WRONG_SOFTMAX
    nbformat.write(nb, root / LOSSES_NB)
    shutil.copy(ROOT / "student" / NB02, root)
    with start_lab(root, home, isolated_env(home)) as server:
        yield server


def test_run_all_goes_past_a_failed_check_without_a_traceback(student_lab, page):
    open_notebook(page, student_lab, LOSSES_NB)
    run_all(page)  # waits until every code cell, the last one included, has run
    check = page.locator(".jp-CodeCell").filter(has_text="nb01.check_softmax_rows").first
    out = check.locator(".jp-OutputArea").first
    text = out.text_content()
    assert "✘ softmax_rows:" in text and "hint:" in text, text
    assert "overflow encountered in exp" in text  # the warning, inside the report
    errors = stderr_outputs(page)
    assert len(errors) == 1, errors  # the failed check; later checks print "not attempted"
    assert "check failed: softmax_rows" in errors[0]
    assert "Traceback" not in errors[0] and "coursekit" not in errors[0], errors[0]
    assert len(errors[0].strip().splitlines()) == 1, errors[0]
    later = page.locator(".jp-CodeCell").filter(has_text="nb01.check_cross_entropy_and_grad")
    assert "not attempted yet" in later.first.text_content()


# Keeps the body of the last save the page sends: Chromium reports no body this
# large to Playwright's request events.
RECORD_SAVES = """
const fetch0 = window.fetch;
window.fetch = (input, init) => {
  const request = new Request(input, init);
  if (request.method === 'PUT' && request.url.includes('/api/contents/')) {
    request.clone().text().then(body => { window.__lastSave = body; });
  }
  return fetch0(request);
};
"""


def test_a_freshly_opened_notebook_is_not_modified(student_lab, page):
    page.add_init_script(RECORD_SAVES)
    # A first visit: an empty workspace. With the tabs an earlier page left open
    # restored, Lab sometimes marks this tab modified with nothing in it changed
    # (seen on a busy machine; jupyterlab-manager marks the document modified each
    # time it registers or clears widget models while saveState is on, which the
    # course turns on: coursekit/widgets.py). What this test guards is the notebook:
    # widget state stored in it, which Lab rebuilds on opening, marked it modified
    # on CI (coursekit.notebooks.normalise now drops state that no output shows).
    open_notebook(page, student_lab, NB02, reset=True)
    page.wait_for_timeout(1500)  # the kernel's info has reached the model by now
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab").filter(has_text="02_gradient_descent")
    if "jp-mod-dirty" in (tab.get_attribute("class") or ""):
        pytest.fail("opening marked the notebook modified: " + unsaved_changes(page, NB02))


def unsaved_changes(page, name: str) -> str:
    """Save ``name`` from the Lab; say where what the browser sent differs from the release.

    What was sent, not the file, in case the server mends something on save.
    Needs ``RECORD_SAVES`` installed before the page loaded.
    """
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    page.wait_for_function("() => window.__lastSave !== undefined")
    sent = _joined(json.loads(page.evaluate("() => window.__lastSave"))["content"])
    for cell in sent["cells"]:
        cell["metadata"].pop("trusted", None)  # the server's transient flag, dropped on save
    released = _joined(json.loads((ROOT / "student" / name).read_text()))
    return ", ".join(_differences(released, sent)) or "nothing differs"


def _joined(obj):
    """``obj`` with every list of strings joined: the Lab sends a cell's source as one string."""
    if isinstance(obj, dict):
        return {k: _joined(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return (
            "".join(obj)
            if obj and all(isinstance(v, str) for v in obj)
            else list(map(_joined, obj))
        )
    return obj


def _differences(a, b, path: str = "") -> list[str]:
    """JSON paths where ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        pairs = [(f"{path}/{k}", a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys())]
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = [(f"{path}[{i}]", x, y) for i, (x, y) in enumerate(zip(a, b, strict=True))]
    else:
        return [] if a == b else [f"{path or '/'}: {a!r:.40} -> {b!r:.40}"]
    return [d for p, x, y in pairs for d in _differences(x, y, p)]
