"""The course for the browser: offline lecture decks, the course website, HTML export.

    python scripts/course_web.py slides               # lecture decks into slides/
    python scripts/course_web.py slides --instructor  # solution decks into slides-instructor/
    python scripts/course_web.py site                 # the website into site/
    python scripts/course_web.py site --instructor    # with solutions, into site-instructor/
    python scripts/course_web.py html notebooks/06_conv_arithmetic.ipynb  # into html/

Everything is built from the notebooks' stored outputs (nothing is executed).
The lecture and student editions come from
``coursekit.grading.release.release_notebook``: no solution code, no hidden
tests, no nbgrader markers. reveal.js and MathJax 3 come from npm
(``package.json``; run ``npm ci`` first) and are copied beside what is built,
so nothing loads from a CDN. The site is built by Sphinx with MyST-NB and
sphinx-book-theme (``pip install -e ".[site]"``); see docs/DESIGN.md.

Speaker notes (``web/speaker_notes.yaml``) and figure descriptions
(``web/alt_text.yaml``) are committed beside the templates and added to the
notebooks at build time.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import nbformat
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coursekit.grading.release import MARKERS, is_grade, release_notebook  # noqa: E402
from coursekit.notebooks import WIDGET_VIEW, course_notebooks  # noqa: E402

WEB = ROOT / "web"
NODE_MODULES = ROOT / "node_modules"
ASSETS = "_assets"  # beside the decks / the exported HTML

# A 1280x720 slide holds about this many lines of 19px code or 20px text under
# its title; a cell that would overflow the slide starts a new (vertical) one.
SLIDE_LINES = 22
LONG_CELL_LINES = 12  # code cells longer than this are set in a smaller font
FIGURE_LINES = 14  # a figure takes about as much height as this many lines


# --------------------------------------------------------------------------- #
# the repository's address (the Colab links)
# --------------------------------------------------------------------------- #
def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The course's public repository: ``[project.urls] Repository`` in pyproject.toml.

    The one definition of the address: the notebooks' Colab cells, the README's
    links (scripts/course_links.py) and the website's buttons all come from it.
    """
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    url = data.get("project", {}).get("urls", {}).get("Repository")
    if not url:
        raise ValueError(f"{pyproject} names no Repository under [project.urls]")
    return url.rstrip("/").removesuffix(".git")


def colab_url(path: str, repository: str | None = None, branch: str = "main") -> str:
    """The "Open in Colab" address of ``path`` (relative to the repository root)."""
    repository = repository or repository_url()
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repository)
    if not match:
        raise ValueError(
            f"repository must be https://github.com/<owner>/<repo>, got {repository!r}"
        )
    owner, repo = match.groups()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{branch}/{path}"


# --------------------------------------------------------------------------- #
# editions
# --------------------------------------------------------------------------- #
def _load_yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _slide_type(cell: NotebookNode) -> str:
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def _set_slide_type(cell: NotebookNode, slide_type: str) -> None:
    cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type


def _heading(cell: NotebookNode) -> str:
    """The first line of a markdown cell without its '#' marks ('' for code cells)."""
    if cell.cell_type != "markdown" or not cell.source.strip():
        return ""
    return cell.source.strip().split("\n")[0].lstrip("#").strip()


def strip_marker_lines(nb: NotebookNode) -> None:
    """Instructor edition: keep the solutions and hidden tests, drop nbgrader's marker lines."""
    for cell in nb.cells:
        if any(m in cell.source for m in MARKERS):
            cell.source = "\n".join(
                line for line in cell.source.split("\n") if not any(m in line for m in MARKERS)
            )


def drop_widget_views(nb: NotebookNode) -> None:
    """Widget views need a widget manager (from a CDN); their text fallback stays."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if o.get("data", True)]


def derived_alt_text(cell: NotebookNode) -> str:
    """A description made from the plot's title and axis labels in the cell's source."""
    strings = r"""\s*f?(?:"([^"]+)"|'([^']+)')"""

    def found(pattern: str) -> list[str]:
        return [a or b for a, b in re.findall(pattern + strings, cell.source)]

    titles = found(r"(?:title|suptitle)\s*[=(]")
    xlabels, ylabels = found(r"xlabel\s*[=(]"), found(r"ylabel\s*[=(]")
    parts = ["Figure: " + "; ".join(titles) if titles else "Figure"]
    if xlabels or ylabels:
        parts.append(f"{', '.join(ylabels) or 'value'} against {', '.join(xlabels) or 'x'}")
    return re.sub(r"[${}\\]", "", ", ".join(parts)) + "."


def add_alt_text(nb: NotebookNode, stem: str, alt_texts: dict) -> list[str]:
    """Give every figure its description; return the cells that had none in the mapping."""
    written = alt_texts.get(stem, {}) or {}
    missing = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        if not images:
            continue
        alt = written.get(cell.get("id"))
        if not alt:
            missing.append(f"{stem} {cell.get('id')}")
            alt = derived_alt_text(cell)
        alt = " ".join(str(alt).split())
        for output in images:
            output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = alt
        cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
    return missing


def _notes_cell(text: str) -> NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text.strip())
    _set_slide_type(cell, "notes")
    return cell


def generated_notes(nb: NotebookNode, stem: str) -> dict[int, str]:
    """Speaker notes made from the notebook: an outline on the title slide, the
    exercises (with their points) on the exercises slide."""
    notes: dict[int, str] = {}
    sections = [
        _heading(c) for c in nb.cells[1:] if c.cell_type == "markdown" and _slide_type(c) == "slide"
    ]
    if sections:
        notes[0] = "Plan of this lecture:\n\n" + "\n".join(f"- {s}" for s in sections)
    for index, cell in enumerate(nb.cells):
        if _slide_type(cell) == "slide" and "Exercises" in _heading(cell):
            tasks = [
                _heading(c)
                for c in nb.cells[index + 1 :]
                if _heading(c).startswith("Exercise") and c.cell_type == "markdown"
            ]
            notes[index] = (
                "Exercises (students solve them in their workspace; each has visible checks "
                "and hidden tests):\n\n"
                + "\n".join(f"- {t}" for t in tasks)
                + f"\n\nSolutions: the instructor deck `slides-instructor/{stem}.solutions.slides.html`."
            )
    return notes


def add_speaker_notes(nb: NotebookNode, stem: str, written: dict) -> int:
    """Insert reveal.js notes after the slides they belong to; return how many."""
    notes = generated_notes(nb, stem)
    by_heading = written.get(stem, {}) or {}
    for index, cell in enumerate(nb.cells):
        if _slide_type(cell) not in ("slide", "subslide"):
            continue
        for prefix, text in by_heading.items():
            if _heading(cell).startswith(prefix):
                notes[index] = (notes.get(index, "") + "\n\n" + text.strip()).strip()
    for index in sorted(notes, reverse=True):
        nb.cells.insert(index + 1, _notes_cell(notes[index]))
    return len(notes)


def _cell_lines(cell: NotebookNode) -> int:
    lines = cell.source.count("\n") + 1
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            lines += FIGURE_LINES
        else:
            text = output.get("text") or data.get("text/plain") or ""
            lines += min(text.count("\n") + 1, 12)  # long outputs scroll (lecture.css)
    return lines


def fit_slides(nb: NotebookNode) -> int:
    """Continue on a new vertical slide where a cell would overflow; tag long code cells.

    Returns the number of slides added.
    """
    used, added = 0, 0
    for cell in nb.cells:
        kind = _slide_type(cell)
        if kind in ("skip", "notes"):
            continue
        lines = _cell_lines(cell)
        if cell.cell_type == "code" and cell.source.count("\n") + 1 > LONG_CELL_LINES:
            tags = cell.metadata.setdefault("tags", [])
            if "lecture-long" not in tags:
                tags.append("lecture-long")
        if kind in ("slide", "subslide"):
            used = lines
        elif used and used + lines > SLIDE_LINES:
            _set_slide_type(cell, "subslide")
            used, added = lines, added + 1
        else:
            used += lines
    return added


def edition(nb: NotebookNode, name: str, instructor: bool = False) -> NotebookNode:
    """The student edition of ``nb`` (the instructor's source, less its marker lines, with
    ``instructor=True``), with widget views dropped and figures described."""
    if instructor:
        nb = copy.deepcopy(nb)
        strip_marker_lines(nb)
    else:
        nb = release_notebook(nb, name)
    drop_widget_views(nb)
    return nb


def lecture_notebook(
    nb: NotebookNode, name: str, instructor: bool = False, notes: dict | None = None
) -> NotebookNode:
    """The notebook a lecture deck is made from: its edition, test cells left out (the
    exercise slide shows the task and the empty function), speaker notes, slides fitted."""
    nb = edition(nb, name, instructor)
    for cell in nb.cells:
        if is_grade(cell) and cell.cell_type == "code":
            _set_slide_type(cell, "skip")
    add_speaker_notes(nb, Path(name).stem, notes or {})
    fit_slides(nb)
    return nb


# --------------------------------------------------------------------------- #
# assets
# --------------------------------------------------------------------------- #
def _need_node_modules() -> None:
    for package in ("reveal.js", "mathjax"):
        if not (NODE_MODULES / package / "package.json").is_file():
            raise SystemExit(
                f"node_modules/{package} is missing: run `npm ci` in {ROOT} "
                "(the decks and the site copy reveal.js and MathJax from there)"
            )


def copy_mathjax(dest: Path) -> None:
    """MathJax 3's CommonHTML bundle with its fonts and on-demand parts (about 10 MB)."""
    src = NODE_MODULES / "mathjax" / "es5"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "tex-chtml-full.js", dest / "tex-chtml-full.js")
    for sub in ("output/chtml", "a11y", "ui", "sre", "input/tex/extensions"):
        shutil.copytree(src / sub, dest / sub, dirs_exist_ok=True)


def copy_reveal(dest: Path, theme: str = "white") -> None:
    """reveal.js, its notes plugin and one theme with its fonts (some other themes
    import web fonts from outside)."""
    src = NODE_MODULES / "reveal.js"
    (dest / "dist" / "theme").mkdir(parents=True, exist_ok=True)
    for name in ("reveal.js", "reveal.css", "reset.css", f"theme/{theme}.css"):
        shutil.copy2(src / "dist" / name, dest / "dist" / name)
    shutil.copytree(src / "dist/theme/fonts", dest / "dist/theme/fonts", dirs_exist_ok=True)
    shutil.copytree(src / "plugin/notes", dest / "plugin/notes", dirs_exist_ok=True)
    shutil.copy2(src / "LICENSE", dest / "LICENSE")


# --------------------------------------------------------------------------- #
# slides and HTML export
# --------------------------------------------------------------------------- #
def _exporter(kind: str):
    from nbconvert import HTMLExporter, SlidesExporter

    common = dict(
        extra_template_basedirs=[str(WEB / "templates")],
        extra_template_paths=[str(WEB / "templates")],
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    if kind == "slides":
        return SlidesExporter(
            template_name="lecture",
            reveal_url_prefix=f"{ASSETS}/reveal.js",
            reveal_theme="white",
            reveal_transition="none",
            reveal_number="c/t",
            reveal_width="1280",
            reveal_height="720",
            **common,
        )
    return HTMLExporter(template_name="offline_html", **common)


def build_slides(
    source: Path = ROOT / "notebooks",
    out: Path | None = None,
    instructor: bool = False,
    only: list[str] | None = None,
) -> list[Path]:
    """One reveal.js deck per notebook (those named in ``only``, if given), with reveal.js
    and MathJax copied into out/_assets."""
    _need_node_modules()
    out = out or ROOT / ("slides-instructor" if instructor else "slides")
    out.mkdir(parents=True, exist_ok=True)
    copy_reveal(out / ASSETS / "reveal.js")
    copy_mathjax(out / ASSETS / "mathjax")
    shutil.copy2(WEB / "static" / "lecture.css", out / ASSETS / "lecture.css")
    notes = _load_yaml(WEB / "speaker_notes.yaml")
    alt_texts = _load_yaml(WEB / "alt_text.yaml")
    exporter = _exporter("slides")
    suffix = ".solutions.slides.html" if instructor else ".slides.html"
    decks = []
    for path in course_notebooks(source):
        if only is not None and path.name not in only:
            continue
        nb = lecture_notebook(nbformat.read(path, as_version=4), path.name, instructor, notes)
        for cell in add_alt_text(nb, path.stem, alt_texts):
            print(f"  no description in web/alt_text.yaml for the figure of {cell}")
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}{suffix}"
        deck.write_text(body, encoding="utf-8")
        decks.append(deck)
    return decks


def export_html(paths: list[Path], out: Path = ROOT / "html", instructor: bool = False) -> list:
    """Single notebooks as standalone HTML pages (student edition), MathJax beside them."""
    _need_node_modules()
    out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out / ASSETS / "mathjax")
    alt_texts = _load_yaml(WEB / "alt_text.yaml")
    exporter = _exporter("html")
    pages = []
    for path in paths:
        nb = edition(nbformat.read(path, as_version=4), path.name, instructor)
        add_alt_text(nb, path.stem, alt_texts)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    return pages


# --------------------------------------------------------------------------- #
# the website
# --------------------------------------------------------------------------- #
def notebook_title(nb: NotebookNode) -> str:
    return next((_heading(c) for c in nb.cells if _heading(c)), "notebook")


def landing_page(books: list[tuple[str, NotebookNode]]) -> str:
    """index.md: what the course is, and its outline (each notebook and its sections)."""
    lines = [
        "# Deep learning from the ground up",
        "",
        "A hands-on deep-learning course in ten Jupyter notebooks: from tensors and loss",
        "functions to residual networks trained fast on a GPU. Every idea is built twice, once",
        "in plain NumPy, where you can see each formula (forward and backward), and once in",
        "PyTorch. Each page shows a notebook with its outputs; download it or open it in Colab",
        "from the buttons at the top of the page to run it and do the exercises.",
        "",
        "## Course outline",
        "",
    ]
    for stem, nb in books:
        lines.append(f"- [{notebook_title(nb)}]({stem}.ipynb)")
        for cell in nb.cells[1:]:
            if cell.cell_type == "markdown" and _slide_type(cell) == "slide":
                lines.append(f"  - {_heading(cell)}")
    lines += [
        "",
        "The course's data, and where it comes from: [data sources and licences](data.md).",
        "",
        "```{toctree}",
        ":hidden:",
        ":maxdepth: 1",
        "",
        *[stem for stem, _ in books],
        "data",
        "```",
        "",
    ]
    return "\n".join(lines)


def site_source(dest: Path, source: Path = ROOT / "notebooks", instructor: bool = False) -> None:
    """Write the Sphinx project of the site into ``dest`` (conf.py, pages, notebooks)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "_static").mkdir(parents=True)
    shutil.copy2(WEB / "site" / "conf.py", dest / "conf.py")
    shutil.copy2(WEB / "site" / "custom.css", dest / "_static" / "custom.css")
    shutil.copytree(WEB / "site" / "_templates", dest / "_templates")
    copy_mathjax(dest / "_static" / "mathjax")
    alt_texts = _load_yaml(WEB / "alt_text.yaml")
    books = []
    for path in course_notebooks(source):
        nb = edition(nbformat.read(path, as_version=4), path.name, instructor)
        for cell in add_alt_text(nb, path.stem, alt_texts):
            print(f"  no description in web/alt_text.yaml for the figure of {cell}")
        nbformat.write(nb, dest / path.name)
        books.append((path.stem, nb))
    (dest / "index.md").write_text(landing_page(books), encoding="utf-8")
    data = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    data = data.replace("# Shipped data", "# Data sources and licences", 1)
    (dest / "data.md").write_text(data, encoding="utf-8")


def build_site(out: Path | None = None, instructor: bool = False, jobs: str = "auto") -> Path:
    """Build the website with Sphinx (MyST-NB, sphinx-book-theme) into ``out``."""
    _need_node_modules()
    out = out or ROOT / ("site-instructor" if instructor else "site")
    # MyST-NB writes beside Sphinx's output folder (jupyter_execute/), so Sphinx builds
    # inside build/ and the finished site is moved into place.
    work = ROOT / "build" / ("site-instructor" if instructor else "site")
    src, html = work / "src", work / "html"
    site_source(src, instructor=instructor)
    if html.exists():
        shutil.rmtree(html)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", jobs, "-E"]
    cmd += ["-d", str(work / "doctrees"), str(src), str(html)]
    env = {**os.environ, "COURSEKIT_REPOSITORY": repository_url()}
    if instructor:
        env["COURSEKIT_SITE_EDITION"] = "instructor"
    subprocess.run(cmd, check=True, env=env)
    if out.exists():
        shutil.rmtree(out)
    shutil.move(html, out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    slides = sub.add_parser("slides", help="lecture decks into slides/")
    slides.add_argument("--instructor", action="store_true", help="solution decks")
    slides.add_argument("--out", type=Path)
    site = sub.add_parser("site", help="the course website into site/")
    site.add_argument("--instructor", action="store_true", help="with solutions")
    site.add_argument("--out", type=Path)
    html = sub.add_parser("html", help="single notebooks as offline HTML pages")
    html.add_argument("notebooks", nargs="+", type=Path)
    html.add_argument("--instructor", action="store_true", help="with solutions")
    html.add_argument("--out", type=Path, default=ROOT / "html")
    args = parser.parse_args(argv)

    start = time.monotonic()
    if args.what == "slides":
        decks = build_slides(out=args.out, instructor=args.instructor)
        where = decks[0].parent if decks else args.out
        print(f"wrote {len(decks)} decks to {where} in {time.monotonic() - start:.1f} s")
    elif args.what == "site":
        out = build_site(out=args.out, instructor=args.instructor)
        print(f"built the site into {out} in {time.monotonic() - start:.1f} s")
    else:
        pages = export_html(args.notebooks, out=args.out, instructor=args.instructor)
        print(f"wrote {len(pages)} pages to {args.out} in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
