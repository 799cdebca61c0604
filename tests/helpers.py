"""Plain helper functions shared by the test modules (``import helpers``).

pytest puts tests/ on ``sys.path`` (it holds a conftest.py and no __init__.py),
so test modules import this file directly; test modules never import each other.

Two groups:

* notebooks and folders: ``course_notebook``, ``gid``, ``write``, ``tree_hash``;
* JupyterLab in headless Chromium (Playwright): ``require_chromium``,
  ``isolated_env``, ``start_lab`` to serve a folder, then ``open_notebook``,
  ``run_all``, ``move_slider``, ``wait_for_text`` ... on a Playwright page.
  The ``browser`` and ``page`` fixtures live in tests/conftest.py;
* PyTorch: ``compile_calls``, a stand-in for ``torch.compile`` with its signature,
  and ``broken_compiled_module``, what a broken compiler returns.

Nothing here imports Playwright, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from coursekit.distributed import free_port
from coursekit.notebooks import course_notebooks

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
VENV_BIN = Path(sys.executable).parent
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Every stderr output: tracebacks, and warnings too.
STDERR_OUTPUT = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


# --------------------------------------------------------------------------- #
# notebooks and folders
# --------------------------------------------------------------------------- #
def load_script(path: Path, name: str | None = None) -> ModuleType:
    """Import the Python file ``path`` (a script, not a package module) as a fresh module."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def course_notebook(number: str, folder: Path = NOTEBOOKS) -> Path:
    """The course notebook numbered ``number`` ("06"), found as coursekit finds them.

    Renaming ``06_conv_arithmetic.ipynb`` keeps the tests on it; a missing or
    doubled notebook fails the test (never a skip: a skip would hide it).
    """
    found = [p for p in course_notebooks(folder) if p.name.startswith(f"{number}_")]
    if len(found) != 1:
        pytest.fail(f"expected one course notebook {number}_*.ipynb in {folder}, found {found}")
    return found[0]


def gid(cell) -> str | None:
    """The nbgrader ``grade_id`` of a cell, or None for a cell without nbgrader metadata."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def write(nb, path: Path) -> None:
    """Write notebook ``nb`` to ``path``, creating its folders."""
    import nbformat  # not at import time: conftest imports this module for every run

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def tree_hash(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder``, by relative path: equal dicts, same tree."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def with_sources(nb, sources: dict[str, str]):
    """A copy of notebook ``nb`` whose cells named in ``sources`` (by grade_id) hold that code."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if gid(cell) in sources:
            cell.source = sources[gid(cell)]
    return nb


def package_sources(folder: Path) -> dict[str, str]:
    """``tree_hash`` of a package, without the bytecode caches its imports may write."""
    return {k: v for k, v in tree_hash(folder).items() if "__pycache__" not in k}


def grade_and_watch(root: Path, **limits: Any) -> dict[str, Any]:
    """``coursekit grade`` of root/subs against root/source into root/out, then what runs.

    The secret is root/secret; ``limits`` are grade's (budget_s, call_s, memory_mb,
    pids). Returns the rows, ``ps``'s list of every command line on the machine, and
    the command lines of the processes still below this one.
    """
    import psutil

    from coursekit.grading.autograde import grade

    rows = grade(
        root / "source",
        root / "subs",
        root / "out",
        jobs=2,
        secret_file=root / "secret",
        quiet=True,
        **limits,
    )
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    children = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)]
    return {"rows": rows, "ps": ps, "children": children}


# --------------------------------------------------------------------------- #
# a JupyterLab server
# --------------------------------------------------------------------------- #
def require_chromium() -> None:
    """Skip the calling test unless Chromium and Playwright are installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed: apt-get install chromium")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for Jupyter with its config, data and settings inside ``home``.

    Kernels started from it run this venv's python with live widgets and
    matplotlib's inline backend, as a student's Lab would.
    """
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
    # tests/conftest.py sets MPLBACKEND=Agg for the test process; a kernel must pick
    # its inline backend, or plt.show() draws nothing and warns.
    env.pop("MPLBACKEND", None)
    env.pop("COURSEKIT_GRADING", None)  # checks print "not attempted" instead of raising
    env.setdefault("OMP_NUM_THREADS", "1")
    # No "would you like news?" toast over the notebook.
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return env


@contextlib.contextmanager
def start_lab(
    root: Path, home: Path, env: dict[str, str], python: str | Path = sys.executable
) -> Iterator[dict[str, Any]]:
    """Serve ``root`` with JupyterLab on a free port and a random token; always shut it down.

    ``python`` is the environment's interpreter (default: this one); its kernels
    run that interpreter too. Yields ``{"base": url, "token": ..., "root": root,
    "log": path of the server log}``.
    """
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        str(python), "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    log_path = home / "server.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=log)
        try:
            _wait_for_server(proc, base, token, log_path)
            yield {"base": base, "token": token, "root": root, "log": log_path}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _wait_for_server(proc: subprocess.Popen, base: str, token: str, log: Path) -> None:
    """Poll the server's status API until it answers; raise with its log if it never does."""
    deadline = time.monotonic() + 60
    request = urllib.request.Request(
        f"{base}/api/status", headers={"Authorization": f"token {token}"}
    )
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(request, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"JupyterLab did not answer within 60 s:\n{log.read_text()}")
        time.sleep(0.3)


# --------------------------------------------------------------------------- #
# driving JupyterLab from a Playwright page
# --------------------------------------------------------------------------- #
def open_notebook(page, server: dict[str, Any], name: str, reset: bool = False) -> None:
    """Open ``name`` in the Lab of ``server`` (from :func:`start_lab`); wait for its kernel.

    ``reset``: start from an empty workspace, as on a first visit, instead of
    reopening the tabs an earlier page of the same server left open.
    """
    query = f"token={server['token']}" + ("&reset" if reset else "")
    page.goto(f"{server['base']}/lab/tree/{name}?{query}")
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
    """Move the ``index``-th ipywidgets slider of the page by ``steps`` (negative: left).

    With the arrow keys, as a keyboard user would.
    """
    handle = page.locator(".widget-slider .noUi-handle").nth(index)
    handle.wait_for(state="visible")
    handle.scroll_into_view_if_needed()
    handle.focus()
    key = "ArrowRight" if steps > 0 else "ArrowLeft"
    for _ in range(abs(steps)):
        handle.press(key)


def slider_value(page, index: int) -> str:
    """The readout text of the ``index``-th slider of the page."""
    return page.locator(".widget-slider .widget-readout").nth(index).text_content().strip()


def wait_for_text(page, text: str, selector: str = ".jp-OutputArea", timeout: float = 15_000):
    """Wait until an element matching ``selector`` shows ``text``; returns the locator."""
    loc = page.locator(selector).filter(has_text=text).first
    loc.wait_for(state="visible", timeout=timeout)
    return loc


def stderr_outputs(page) -> list[str]:
    """Texts of every stderr output (tracebacks and warnings) in the open notebook.

    ``text_content``, not ``inner_text``: JupyterLab 4 skips rendering cells out
    of view (CSS content-visibility), and their inner text is then empty.
    """
    return page.locator(STDERR_OUTPUT).all_text_contents()


def output_errors(page) -> list[str]:
    """Texts of the stderr outputs that are errors (tracebacks), not mere warnings."""
    return [t for t in stderr_outputs(page) if "Error" in t or "Traceback" in t]


def open_deck(page, deck: Path):
    """Open a reveal.js deck offline (only file: requests are served); returns its slides.

    The slides are the top-level ``<section>`` elements, one per "slide" cell.
    """
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(deck.as_uri(), wait_until="domcontentloaded")
    return page.locator(".reveal .slides > section")


def count_stderr(page) -> int:
    """How many stderr outputs the open page (notebook, deck or HTML export) shows."""
    return page.locator("[data-mime-type*='stderr']").count()


def compile_calls(monkeypatch, make_wrapper) -> list[dict[str, Any]]:
    """Replace ``torch.compile`` by a stand-in with its exact signature; returns its calls.

    Each call is bound to the real ``torch.compile``'s signature (a wrong keyword
    or a second positional argument raises ``TypeError`` as the real one would)
    and recorded as a dict of the arguments given, ``model`` included. The
    stand-in returns ``make_wrapper(model)``.
    """
    import inspect

    import torch

    signature = inspect.signature(torch.compile)
    calls: list[dict[str, Any]] = []

    def stand_in(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        calls.append(dict(bound.arguments))
        return make_wrapper(bound.arguments["model"])

    monkeypatch.setattr(torch, "compile", stand_in)
    return calls


def broken_compiled_module(model):
    """What a broken compiler's ``torch.compile(model)`` gives: a module failing at its first call."""
    from torch import nn  # imported here: most users of this module never need torch

    def fail(*a, **k):
        raise RuntimeError("no compiler here")

    wrapper = nn.Module()
    wrapper.forward = fail
    return wrapper


def require_sandbox() -> None:
    """Skip the calling test where the grading sandbox cannot run; under CI=true, fail."""
    from coursekit.grading.sandbox import SandboxUnavailable, check_sandbox

    try:
        check_sandbox()
    except SandboxUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the grading sandbox must run in CI: {exc}")
        pytest.skip(f"the grading sandbox cannot run here: {exc}")


# --------------------------------------------------------------------------- #
# the learner's environment (make lab), offline
# --------------------------------------------------------------------------- #
def learner_distributions(extras: tuple[str, ...] = ("lab",)) -> list:
    """The installed distributions ``pip install -e '.[lab]'`` installs, coursekit excluded.

    The closure of coursekit's requirements with those extras (markers and
    extras evaluated as pip does), read from this environment's metadata. This
    environment was installed from the same lock (requirements/lock.txt), so
    the versions are the ones a learner's ``make lab`` gets.
    """
    from importlib.metadata import distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, set[str]] = {}
    todo = [("coursekit", frozenset(extras))]
    found = {}
    while todo:
        name, wanted = todo.pop()
        key = canonicalize_name(name)
        if key in seen and wanted <= seen[key]:
            continue
        seen.setdefault(key, set()).update(wanted)
        dist = distribution(name)
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in (sorted(wanted) or [""])
            ):
                todo.append((req.name, frozenset(req.extras)))
    found.pop("coursekit")
    return sorted(found.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def make_learner_env(dest: Path, root: Path) -> Path:
    """A venv holding what ``make lab`` installs, without downloading it; returns its python.

    ``make lab`` is ``pip install -c requirements/lock.txt -e '.[lab]'`` into a
    fresh venv. Here every file that install would write is hard-linked from
    this environment instead (each distribution's RECORD: its packages, its
    ``share/jupyter`` and ``etc/jupyter`` files, which decide what JupyterLab
    loads); coursekit is the checkout ``root`` on ``sys.path``, as an editable
    install makes it, and its data files come from the Makefile's own step
    (scripts/install_data_files.py). What only the tools' environment has (nbgrader, pytest,
    playwright ...) is absent.
    """
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True, timeout=120
    )
    python = dest / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    )

    def link(src: Path, target: Path, data: bool) -> None:
        # Hard links: servers refuse a symlink that leads out of their static folder.
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            return
        try:
            os.link(src, target)
        except OSError:  # another file system: copy the data files (MBs), link the packages
            if data:
                shutil.copy2(src, target)
            else:
                target.symlink_to(src)

    for dist in learner_distributions():
        for rel in dist.files or []:
            src = Path(dist.locate_file(rel))
            if src.is_file():
                data = str(rel).startswith("..")  # share/, etc/, bin/ of the environment
                link(src, Path(os.path.normpath(site / rel)), data)
    (site / "coursekit-checkout.pth").write_text(f"{root}\n")
    # The Makefile's step after pip, run the same way.
    subprocess.run(
        [str(python), str(root / "scripts" / "install_data_files.py")],
        check=True,
        capture_output=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=60,
    )
    return python


class RoutesHandler(BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (bytes, mode)``, everything else is a 404.

    Every path asked for is appended to ``server.requests``. mode: None (the file),
    "truncate" (announce the length, send half, hang up), "no-length" (no
    Content-Length header), "slow" (answer after 2 s), "garbage" (no HTTP at all),
    "watch" (first call ``server.on_watch()``).
    """

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        if self.path not in self.server.routes:
            self.send_error(404)
            return
        body, mode = self.server.routes[self.path]
        if mode == "garbage":
            self.wfile.write(b"garbage")
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(2)
        if mode == "watch":
            self.server.on_watch()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode != "no-length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client that gave up (a timeout test) leaves the reply unwritten: expected
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def local_http_server(
    handler: type[BaseHTTPRequestHandler] = RoutesHandler,
) -> Iterator[ThreadingHTTPServer]:
    """An HTTP server on 127.0.0.1, serving from a thread; ``.url`` is its address.

    With the default handler, set ``.routes`` (and read ``.requests``) on it.
    """
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    httpd.routes, httpd.requests = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
