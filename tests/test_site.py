"""The course website of `make site`, in headless Chromium with every outside request blocked.

Every page loads without a failed request or a console error; search works
offline; math renders; each notebook page links to its own download and Colab
notebook; nothing loads from outside; no solution reaches the student edition;
axe-core finds no critical or serious accessibility violation; every figure
has its description.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import yaml
from web_helpers import (
    ROOT,
    course_web,
    css_external_urls,
    external_resources,
    marker_hits,
    need_chromium,
    need_node_modules,
    need_sphinx,
    offline_page,
    page_text,
    raw_math,
    serve,
    solution_lines,
    wait_for_mathjax,
)

from coursekit.notebooks import course_notebooks

NOTEBOOKS = ROOT / "notebooks"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """`make site` into a temporary folder."""
    need_node_modules("mathjax")
    need_sphinx()
    return course_web.build_site(out=tmp_path_factory.mktemp("site") / "site")


@pytest.fixture(scope="module")
def base(site):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def web_browser(request):
    need_chromium()
    return request.getfixturevalue("browser")


def _pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


# --------------------------------------------------------------------------- #
# static checks
# --------------------------------------------------------------------------- #
def test_site_has_the_landing_page_every_notebook_and_the_data_page(site):
    names = {p.name for p in _pages(site)}
    expected = {f"{nb.stem}.html" for nb in course_notebooks(NOTEBOOKS)}
    assert expected | {"index.html", "data.html", "search.html"} <= names
    index = page_text((site / "index.html").read_text(encoding="utf-8"))
    assert "Course outline" in index and "Dilation and receptive fields" in index
    data = page_text((site / "data.html").read_text(encoding="utf-8"))
    assert "Data sources and licences" in data and "CC0" in data


def test_no_page_loads_anything_from_outside_or_shows_a_solution(site):
    leaks = {nb.stem: solution_lines(nb) for nb in course_notebooks(NOTEBOOKS)}
    for page in _pages(site):
        html = page.read_text(encoding="utf-8")
        assert external_resources(html) == [], page.name
        text = page_text(html)
        assert marker_hits(text) == [], page.name
        shown = [line for line in leaks.get(page.stem, []) if line in text]
        assert shown == [], f"{page.name} shows solution code: {shown[:3]}"
    for css in sorted((site / "_static").rglob("*.css")):
        assert css_external_urls(css.read_text(encoding="utf-8")) == [], css
    for nb in sorted((site / "_sources").glob("*.ipynb")):  # the downloads
        assert marker_hits(nb.read_text(encoding="utf-8")) == [], nb.name


def test_instructor_edition_keeps_the_solutions(tmp_path):
    course_web.site_source(tmp_path / "src", instructor=True)
    text = (tmp_path / "src" / "01_losses.ipynb").read_text(encoding="utf-8")
    assert all(
        json.dumps(line)[1:-1] in text for line in solution_lines(NOTEBOOKS / "01_losses.ipynb")
    )
    assert marker_hits(text) == []


def test_every_figure_has_its_description(site):
    written = yaml.safe_load((ROOT / "web" / "alt_text.yaml").read_text(encoding="utf-8"))
    from bs4 import BeautifulSoup

    for nb in course_notebooks(NOTEBOOKS):
        soup = BeautifulSoup((site / f"{nb.stem}.html").read_text(encoding="utf-8"), "html.parser")
        figures = soup.select(".cell_output img")
        # A cell with several figures gives each the same description.
        assert {img.get("alt", "") for img in figures} == set(written.get(nb.stem, {}).values()), (
            nb.name
        )
    for page in _pages(site):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        assert all(img.get("alt", "").strip() for img in soup.find_all("img")), page.name


def _figure_cells(nb_path: Path) -> dict[str, str]:
    """Cell id -> source of every code cell of the notebook with an image output."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return {
        cell["id"]: "".join(cell["source"])
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        and any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
    }


def test_alt_text_entries_are_the_cells_that_draw_figures():
    """Static (no site build, so it runs wherever the suite does).

    The keys of web/alt_text.yaml are positional cell ids (coursekit.notebooks.normalise
    numbers the cells), so a notebook that gains or loses a cell above a figure moves them.
    The site check above catches that only when the site is built (it skips without
    node_modules and the site's packages), and only an entry that lands on a cell without
    a figure; `course_web` merely prints the figures it found no description for. Here:
    every figure has a written description, every entry names a cell with a figure, and
    the explorers' static figures carry the explorers' descriptions.
    """
    written = yaml.safe_load((ROOT / "web" / "alt_text.yaml").read_text(encoding="utf-8"))
    notebooks = {nb.stem: nb for nb in course_notebooks(NOTEBOOKS)}
    assert set(written) <= set(notebooks), set(written) - set(notebooks)
    problems = []
    for stem, path in notebooks.items():
        figures, entries = _figure_cells(path), written.get(stem) or {}
        for cell_id, source in figures.items():
            text = " ".join(str(entries.get(cell_id) or "").split())
            if len(text.split()) < 6:
                problems.append(f"{stem} {cell_id}: draws a figure but has no description")
            elif ("widgets." in source) != ("drawn as a static figure" in text):
                problems.append(
                    f"{stem} {cell_id}: an explorer's description on another figure, or the reverse"
                )
        problems += [
            f"{stem} {cell_id}: described, but the cell draws no figure"
            for cell_id in entries
            if cell_id not in figures
        ]
    hint = "cell ids are positional: move each description to its cell's new id"
    assert problems == [], f"web/alt_text.yaml out of step ({hint}):\n" + "\n".join(problems)


# --------------------------------------------------------------------------- #
# in the browser
# --------------------------------------------------------------------------- #
@pytest.mark.browser
def test_every_page_loads_cleanly_offline(site, base, web_browser):
    with offline_page(web_browser) as (page, watch):
        for path in _pages(site):
            page.goto(f"{base}/{path.name}", wait_until="load")
            page.wait_for_load_state("networkidle")
            watch.assert_clean(path.name)


@pytest.mark.browser
def test_offline_search_finds_receptive_fields_in_notebook_06(base, web_browser):
    with offline_page(web_browser) as (page, watch):
        page.goto(f"{base}/search.html?q=receptive+field")
        hits = page.locator("#search-results ul.search li a")
        hits.first.wait_for()
        links = [a.get_attribute("href") for a in hits.all()]
        assert any(href.startswith("06_conv_arithmetic.html") for href in links), links
        watch.assert_clean("search")


@pytest.mark.browser
def test_math_renders_on_notebook_03(base, web_browser):
    with offline_page(web_browser) as (page, watch):
        page.goto(f"{base}/03_backprop.html")
        wait_for_mathjax(page)
        assert page.locator("article mjx-container").count() > 20
        assert raw_math(page, "article") == []
        watch.assert_clean("03_backprop.html")


@pytest.mark.browser
def test_download_and_colab_links_point_to_the_page_notebook(base, web_browser):
    stem = "06_conv_arithmetic"
    with offline_page(web_browser) as (page, watch):
        page.goto(f"{base}/{stem}.html")
        colab = page.locator("a[href^='https://colab.research.google.com/']")
        assert colab.count() == 1
        assert colab.get_attribute("href") == course_web.colab_url(f"student/{stem}.ipynb")
        download = page.locator("a.btn-download-source-button")
        href = download.get_attribute("href")
        assert href == f"_sources/{stem}.ipynb"
        with urllib.request.urlopen(f"{base}/{href}") as resp:
            nb = json.loads(resp.read())
        first = "".join(nb["cells"][0]["source"])
        assert first.startswith("# 06 · Convolution arithmetic")
        watch.assert_clean(f"{stem}.html")


@pytest.mark.browser
@pytest.mark.parametrize("name", ["index.html", "03_backprop.html", "06_conv_arithmetic.html"])
def test_no_serious_accessibility_violations(base, web_browser, name):
    need_node_modules("axe-core")
    with offline_page(web_browser) as (page, watch):
        page.goto(f"{base}/{name}")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['html'][:120]}"
            for v in result["violations"]
            if v["impact"] in ("critical", "serious")
        ]
        assert serious == [], f"{name}:\n" + "\n".join(serious)
        watch.assert_clean(name)
