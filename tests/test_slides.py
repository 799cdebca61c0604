"""The lecture decks of `make slides`: offline, the lecture edition, and they work as decks.

Decks 01 and 06 are opened in headless Chromium from file:// and over http from
127.0.0.1; every other request is blocked and counted, and fails the test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from web_helpers import (
    ROOT,
    course_web,
    css_external_urls,
    external_resources,
    marker_hits,
    need_chromium,
    need_node_modules,
    offline_page,
    page_text,
    raw_math,
    serve,
    solution_lines,
    wait_for_mathjax,
)

from coursekit.notebooks import course_notebooks

NOTEBOOKS = ROOT / "notebooks"
OPENED = ["01_losses", "06_conv_arithmetic"]


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> Path:
    """`make slides` into a temporary folder."""
    need_node_modules("reveal.js", "mathjax")
    out = tmp_path_factory.mktemp("slides")
    built = course_web.build_slides(out=out)
    assert [d.name for d in built] == [f"{p.stem}.slides.html" for p in course_notebooks(NOTEBOOKS)]
    return out


@pytest.fixture(scope="module")
def web_browser(request):
    need_chromium()
    return request.getfixturevalue("browser")


# --------------------------------------------------------------------------- #
# static checks of every deck
# --------------------------------------------------------------------------- #
def test_no_deck_loads_anything_from_outside(decks):
    for deck in sorted(decks.glob("*.html")):
        assert external_resources(deck.read_text(encoding="utf-8")) == [], deck.name
    for css in sorted((decks / "_assets").rglob("*.css")):
        assert css_external_urls(css.read_text(encoding="utf-8")) == [], css
    assert (decks / "_assets" / "reveal.js" / "dist" / "reveal.js").is_file()
    assert (decks / "_assets" / "mathjax" / "tex-chtml-full.js").is_file()


def test_decks_show_the_lecture_edition(decks):
    """No nbgrader marker, no line of a solution or hidden test, but the empty function
    (the visible checks are left out of the decks, in either edition)."""
    for nb in course_notebooks(NOTEBOOKS):
        text = page_text((decks / f"{nb.stem}.slides.html").read_text(encoding="utf-8"))
        assert marker_hits(text) == [], nb.name
        leaks = [line for line in solution_lines(nb) if line in text]
        assert leaks == [], f"{nb.name} shows solution or hidden-test code: {leaks[:3]}"
        if "Exercise" in text:
            assert "raise NotImplementedError()" in text, nb.name


def test_solution_decks_are_separate_and_named(tmp_path):
    need_node_modules("reveal.js", "mathjax")
    (deck,) = course_web.build_slides(out=tmp_path, instructor=True, only=["01_losses.ipynb"])
    assert deck.name == "01_losses.solutions.slides.html"
    text = page_text(deck.read_text(encoding="utf-8"))
    lines = solution_lines(NOTEBOOKS / "01_losses.ipynb", hidden_tests=False)
    assert lines and all(line in text for line in lines)
    assert marker_hits(text) == []


def test_decks_have_speaker_notes_and_figure_descriptions(decks):
    for deck in sorted(decks.glob("*.html")):
        html = deck.read_text(encoding="utf-8")
        assert html.count('<aside class="notes">') >= 2, deck.name
        alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
        assert len(alts) == html.count("<img "), f"{deck.name}: an image without alt"
        assert all(len(a) > 20 for a in alts), f"{deck.name}: empty or short alt text"


def test_every_speaker_note_has_its_slide():
    """Static (no deck build). web/speaker_notes.yaml keys notes by the start of a slide's
    heading; a note whose heading was renamed or removed is silently dropped from the deck,
    and one whose key starts several headings is repeated. Each key must start exactly one
    slide heading of its notebook."""
    import nbformat
    import yaml

    written = yaml.safe_load((ROOT / "web" / "speaker_notes.yaml").read_text(encoding="utf-8"))
    notebooks = {nb.stem: nb for nb in course_notebooks(NOTEBOOKS)}
    assert set(written) <= set(notebooks), set(written) - set(notebooks)
    problems = []
    for stem, notes in written.items():
        nb = nbformat.read(notebooks[stem], as_version=4)
        headings = [
            course_web._heading(cell)
            for cell in nb.cells
            if course_web._slide_type(cell) in ("slide", "subslide")
        ]
        for prefix, text in (notes or {}).items():
            hits = [h for h in headings if h.startswith(prefix)]
            if len(hits) != 1:
                problems.append(f"{stem} {prefix!r}: starts {len(hits)} slide headings {hits}")
            if not str(text or "").strip():
                problems.append(f"{stem} {prefix!r}: an empty note")
    assert problems == [], "web/speaker_notes.yaml:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- #
# in the browser
# --------------------------------------------------------------------------- #
def _check_deck(page, watch, url: str, stem: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")
    wait_for_mathjax(page)
    total = page.evaluate("() => Reveal.getTotalSlides()")
    assert total > 10, f"{stem}: {total} slides"
    assert page.locator("mjx-container").count() > 10, f"{stem}: no rendered math"
    left = raw_math(page, ".reveal .slides .jp-MarkdownCell")
    assert left == [], f"{stem}: raw TeX left: {left[:5]}"

    # The right arrow goes through the first slide's fragments, then to the next slide.
    page.locator(".reveal").click()
    start = page.evaluate("() => Reveal.getIndices()")
    for _ in range(1 + page.locator(".reveal .slides section.present .fragment").count()):
        page.keyboard.press("ArrowRight")
    now = page.evaluate("() => Reveal.getIndices()")
    assert (now["h"], now["v"]) != (start["h"], start["v"]), f"{stem}: ArrowRight did not move"
    assert page.evaluate("() => Reveal.getSlidePastCount()") == 1

    text = page.locator("body").text_content()
    assert marker_hits(text) == [], stem
    watch.assert_clean(f"{stem} at {url}")


@pytest.mark.browser
@pytest.mark.parametrize("stem", OPENED)
def test_deck_works_offline_from_file_and_over_http(decks, web_browser, stem):
    deck = decks / f"{stem}.slides.html"
    with offline_page(web_browser) as (page, watch):
        _check_deck(page, watch, deck.as_uri(), stem)
    with serve(decks) as base, offline_page(web_browser) as (page, watch):
        _check_deck(page, watch, f"{base}/{deck.name}", stem)


@pytest.mark.browser
def test_presenter_view_shows_the_notes(decks, web_browser):
    deck = decks / "06_conv_arithmetic.slides.html"
    with serve(decks) as base, offline_page(web_browser) as (page, watch):
        page.goto(f"{base}/{deck.name}")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()")
        page.locator(".reveal").click()
        with page.expect_popup() as popup_info:
            page.keyboard.press("s")
        popup = popup_info.value
        notes = popup.locator(".speaker-controls-notes")
        notes.wait_for(state="attached")
        popup.wait_for_function(
            "() => /Plan of this lecture/.test(document.querySelector('.speaker-controls-notes')"
            ".textContent)"
        )
        watch.assert_clean("presenter view")


# --------------------------------------------------------------------------- #
# single-notebook HTML export (make html)
# --------------------------------------------------------------------------- #
@pytest.mark.browser
def test_html_export_works_offline(tmp_path, web_browser):
    need_node_modules("mathjax")
    nb = NOTEBOOKS / "06_conv_arithmetic.ipynb"
    (page_path,) = course_web.export_html([nb], out=tmp_path)
    html = page_path.read_text(encoding="utf-8")
    assert external_resources(html) == []
    text = page_text(html)
    assert marker_hits(text) == [] and not [x for x in solution_lines(nb) if x in text]
    with offline_page(web_browser) as (page, watch):
        page.goto(page_path.as_uri())
        wait_for_mathjax(page)
        assert page.locator("mjx-container").count() > 10
        assert raw_math(page, ".jp-MarkdownCell") == []
        watch.assert_clean(page_path.name)
