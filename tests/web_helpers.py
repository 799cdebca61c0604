"""Helpers for the tests of the lecture decks and the course website (``import web_helpers``).

* ``need_chromium`` / ``need_node_modules``: skip without them, but fail when ``CI=true``;
* ``serve``: a folder over http on 127.0.0.1 (a thread, stopped on exit);
* ``offline_page``: a Playwright page on which every request that does not go to
  ``file://`` or 127.0.0.1 is blocked and counted, console errors are collected;
* ``external_resources``, ``marker_hits``, ``solution_lines``: static scans.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import course_web  # noqa: E402

from coursekit.grading.release import (  # noqa: E402
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MARKERS,
    release_notebook,
)

IN_CI = os.environ.get("CI") == "true"
ALLOWED = ("file://", "http://127.0.0.1", "data:", "blob:", "about:")
MATH_LEFT = re.compile(r"\$[^$\s][^$]*\$|\\\(|\\\[")  # raw TeX: $...$, \( or \[


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: these tests must run, not be skipped)")
    pytest.skip(reason)


def need_chromium() -> None:
    """Skip without Chromium or Playwright; fail instead when CI=true."""
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium not installed at {CHROMIUM}: apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[dev]'")


def need_node_modules(*packages: str) -> None:
    """Skip when npm's packages are not installed (`npm ci`); fail instead when CI=true."""
    for package in packages:
        if not (ROOT / "node_modules" / package / "package.json").is_file():
            _missing(f"node_modules/{package} is missing: run `npm ci`")


def need_sphinx() -> None:
    try:
        import myst_nb  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError:
        _missing("the site's packages are missing: pip install -e '.[site]'")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on http://127.0.0.1:<free port>; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Watch:
    """What a page did that it should not: requests to the outside, errors, failed requests."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def assert_clean(self, what: str) -> None:
        assert self.blocked == [], f"{what}: requests to the outside: {self.blocked[:5]}"
        assert self.failed == [], f"{what}: failed requests: {self.failed[:5]}"
        assert self.errors == [], f"{what}: console errors: {self.errors[:5]}"


@contextlib.contextmanager
def offline_page(browser, width: int = 1280, height: int = 720) -> Iterator[tuple]:
    """A fresh page that can reach only file:// and 127.0.0.1; yields ``(page, watch)``."""
    context = browser.new_context(viewport={"width": width, "height": height})
    watch = Watch()

    def route(r) -> None:
        url = r.request.url
        if url.startswith(ALLOWED):
            r.continue_()
        else:
            watch.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.on(
        "requestfailed",
        lambda r: None if r.url in watch.blocked else watch.failed.append(r.url),
    )
    page.on("response", lambda r: watch.failed.append(r.url) if r.status >= 400 else None)
    try:
        yield page, watch
    finally:
        context.close()


def wait_for_mathjax(page) -> None:
    """Wait until MathJax 3 has typeset the page."""
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")


def raw_math(page, selector: str) -> list[str]:
    """TeX left unrendered in the prose under ``selector`` (code and MathJax's own markup
    excluded)."""
    texts = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map(el => {
            const copy = el.cloneNode(true);
            copy.querySelectorAll('pre, code, mjx-container, script, style, .highlight')
                .forEach(e => e.remove());
            return copy.textContent;
        })""",
        selector,
    )
    return [m for t in texts for m in MATH_LEFT.findall(t)]


# --------------------------------------------------------------------------- #
# static scans
# --------------------------------------------------------------------------- #
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*(https?:)?//""", re.I)


def external_resources(html: str) -> list[str]:
    """Every resource a page would load from outside: script/img/iframe src, link href
    (not plain hyperlinks), url() and @import in styles, imports in module scripts."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found = []
    for tag in soup.find_all(["script", "img", "iframe", "source", "audio", "video", "embed"]):
        src = tag.get("src", "")
        if re.match(r"(https?:)?//", src):
            found.append(f"<{tag.name} src={src}>")
    for tag in soup.find_all("link"):
        href = tag.get("href", "")
        if re.match(r"(https?:)?//", href):
            found.append(f"<link rel={tag.get('rel')} href={href}>")
    for tag in soup.find_all("style"):
        found += [f"<style> {m.group(0)}" for m in _CSS_URL.finditer(tag.get_text())]
    for tag in soup.find_all(style=True):
        found += [f"style= {m.group(0)}" for m in _CSS_URL.finditer(tag["style"])]
    for tag in soup.find_all("script", src=False):
        text = tag.get_text()
        found += [
            f"<script> {m}"
            for m in re.findall(r"""(?:import|src\s*=)\s*\(?['"]https?://[^'"]+""", text)
        ]
    return found


def css_external_urls(css: str) -> list[str]:
    return [m.group(0) for m in _CSS_URL.finditer(css)]


def marker_hits(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def page_text(html: str) -> str:
    """The text a reader sees (tags stripped, so highlighted code reads as plain code)."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").get_text()


def solution_lines(nb_path: Path, hidden_tests: bool = True) -> list[str]:
    """Lines of the solutions (and hidden tests) of a source notebook that the student
    edition does not contain anywhere (so finding one in a page means a leak)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    student = "\n".join(c.source for c in release_notebook(nb, nb_path.name).cells)
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if BEGIN_SOLUTION in line or (hidden_tests and BEGIN_HIDDEN in line):
                inside = True
            elif END_SOLUTION in line or (hidden_tests and END_HIDDEN in line):
                inside = False
            elif inside and len(line.strip()) >= 12 and line.strip() not in student:
                lines.append(line.strip())
    return lines


__all__ = ["course_web"]
