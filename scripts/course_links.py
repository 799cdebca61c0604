"""Write what is made from the course's address and keep the student edition in step.

The address is ``[project.urls] Repository`` in pyproject.toml (read by
``course_web.repository_url``, its one definition). From it this script writes

* the Colab cell (the second cell) of every notebook in ``notebooks/``;
* the README's block between the ``colab-links`` markers: the repository's
  address and an "Open in Colab" badge per notebook, which opens the student
  edition;

and then the student edition into ``student/`` (committed, so that Colab and
GitHub show it), exactly as ``coursekit release notebooks student`` does.

    python scripts/course_links.py          # write (make links)
    python scripts/course_links.py --check  # exit 1 and name what is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from course_web import colab_url, repository_url  # noqa: E402

from coursekit.grading.release import MANIFEST_NAME, build_release, release  # noqa: E402
from coursekit.notebooks import course_notebooks  # noqa: E402

STUDENT = "student"
CLONE = "/content/course"  # where the Colab cell puts the course
START, END = "<!-- colab-links:start -->", "<!-- colab-links:end -->"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_cell_source(repository: str | None = None) -> str:
    """The Colab cell: clone the course, make coursekit importable, install what Colab lacks."""
    repository = repository or repository_url()
    return (
        "# In Google Colab only: fetch the course and set it up (about a minute). coursekit is\n"
        "# imported from the clone, so no restart is needed; pip installs only what Colab lacks.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f"    ![ -d {CLONE} ] || git clone -q --depth 1 {repository}.git {CLONE}\n"
        f'    sys.path.insert(0, "{CLONE}")\n'
        "    from coursekit.colab import setup\n"
        "\n"
        f'    setup("{CLONE}")  # and work in the student edition\'s folder'
    )


def notebook_title(path: Path) -> str:
    """The title in the notebook's first heading: "01 · Learning and loss functions"."""
    first = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0]
    return first.lstrip("#").strip()


def readme_block(notebooks: list[Path], repository: str | None = None) -> str:
    repository = repository or repository_url()
    rows = [
        f"The course's repository: <{repository}>. Open a notebook in Colab (the student",
        "edition, from `student/`; the first cell sets the course up):",
        "",
        "| notebook | Colab |",
        "| --- | --- |",
    ]
    for path in notebooks:
        url = colab_url(f"{STUDENT}/{path.name}", repository)
        rows.append(
            f"| [{notebook_title(path)}]({STUDENT}/{path.name}) "
            f"| [![Open in Colab]({BADGE})]({url}) |"
        )
    return "\n".join(rows)


def _with_colab_cell(path: Path, source: str) -> str | None:
    """The notebook's new text if its Colab cell differs from ``source``, else None."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    cell = nb.cells[1]
    if "google.colab" not in cell.source:
        raise ValueError(f"{path.name}: cell 1 must be the Colab cell, got {cell.source[:60]!r}")
    if cell.source == source:
        return None
    cell.source = source
    return nbformat.writes(nb) + ("\n" if text.endswith("\n") else "")


def _readme(text: str, block: str) -> str:
    if START not in text or END not in text:
        raise ValueError(f"README.md lacks the markers {START} ... {END}")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _: f"{START}\n{block}\n{END}", text)


def out_of_date(root: Path = ROOT) -> list[str]:
    """What ``main()`` would change: notebooks, README.md, files of student/."""
    notebooks = course_notebooks(root / "notebooks")
    cell = colab_cell_source()
    stale = [f"notebooks/{p.name}" for p in notebooks if _with_colab_cell(p, cell) is not None]
    readme = (root / "README.md").read_text(encoding="utf-8")
    if _readme(readme, readme_block(notebooks)) != readme:
        stale.append("README.md")
    released = build_release(root / "notebooks")
    for name, data in released.items():
        target = root / STUDENT / name
        if not (target.is_file() and target.read_bytes() == data):
            stale.append(f"{STUDENT}/{name}")
    extra = {p.name for p in (root / STUDENT).glob("*.ipynb")} - set(released)
    stale += [f"{STUDENT}/{name} (not in notebooks/)" for name in sorted(extra)]
    if not (root / STUDENT / MANIFEST_NAME).is_file():
        stale.append(f"{STUDENT}/{MANIFEST_NAME}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; list what is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = out_of_date()
        for name in stale:
            print(f"out of date: {name} (run: make links)")
        return 1 if stale else 0
    notebooks = course_notebooks(ROOT / "notebooks")
    cell = colab_cell_source()
    for path in notebooks:
        new = _with_colab_cell(path, cell)
        if new is not None:
            path.write_text(new, encoding="utf-8")
            print(f"wrote the Colab cell of {path.name}")
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = _readme(text, readme_block(notebooks))
    if new != text:
        readme.write_text(new, encoding="utf-8")
        print("wrote README.md's Colab links")
    release(ROOT / "notebooks", ROOT / STUDENT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
