"""Numbers quoted from a committed benchmark record match that record.

The convention (docs/NOTEBOOKS.md): a number taken from a record under
benchmarks/results/ is written as a Markdown link from the number to the
record's JSON file, with the path of the value inside the record as the
fragment, dotted keys and list indices:

    [5,921](../benchmarks/results/h100.json#ladder.0.images_per_s) images/s

The link renders as the number (a click opens the record), and this test
reads the value at that path and checks that the number is the value rounded
to the digits shown. The link text is the number with optional thousands
separators and an optional unit right after it (``3.33x``, ``14.3%``).
Applies to the notebooks' Markdown cells, docs/*.md and README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# [number](relative/path/to/benchmarks/results/<name>.json#dotted.path)
QUOTE = re.compile(
    r"\[(?P<text>[^\]\n]+)\]\((?P<path>[^)#\s]*benchmarks/results/[^)#\s]+\.json)"
    r"(?:#(?P<key>[^)\s]*))?\)"
)
NUMBER = re.compile(r"^[-+]?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?P<unit>\s?\S*)$")


def _documents() -> list[tuple[str, Path, str]]:
    """(name, folder the links are relative to, Markdown text) of every checked document."""
    docs = []
    for nb_path in course_notebooks(ROOT / "notebooks"):
        nb = nbformat.read(nb_path, as_version=4)
        text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        docs.append((nb_path.name, nb_path.parent, text))
    for md in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        docs.append((str(md.relative_to(ROOT)), md.parent, md.read_text()))
    return docs


def _quotes() -> list[tuple[str, Path, re.Match]]:
    return [(name, folder, m) for name, folder, text in _documents() for m in QUOTE.finditer(text)]


def _lookup(record: object, key: str) -> object:
    value = record
    for part in key.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(part)
    return value


def _matches(text: str, value: float) -> bool:
    m = NUMBER.match(text.strip())
    if m is None:
        return False
    shown = float(m["int"].replace(",", "") + ("." + m["frac"] if m["frac"] else ""))
    if text.strip().startswith("-"):
        shown = -shown
    digits = len(m["frac"] or "")
    return abs(value - shown) <= 0.5 * 10.0**-digits * (1 + 1e-9)


def test_the_convention_is_parsed_as_documented():
    text = "[5,921](../benchmarks/results/h100.json#ladder.0.images_per_s) images/s"
    (m,) = QUOTE.finditer(text)
    assert (m["text"], m["key"]) == ("5,921", "ladder.0.images_per_s")
    assert _matches("5,921", 5921.06) and _matches("3.33x", 3.3278) and _matches("14.3%", 14.32)
    assert not _matches("5,922", 5921.06) and not _matches("3.32x", 3.3278)
    assert not _matches("about 6,000", 5921.06)
    record = {"a": [{"b": 1.5}]}
    assert _lookup(record, "a.0.b") == 1.5


def test_the_notebooks_quote_records_this_way():
    # notebook 09 quotes the H100 record: the convention is in use, not only defined
    assert any(name.startswith("09_") for name, _, _ in _quotes())


@pytest.mark.parametrize(
    "name, folder, match",
    _quotes(),
    ids=[f"{name}:{m['text']}" for name, _, m in _quotes()],
)
def test_every_quoted_number_matches_its_record(name, folder, match):
    path = (folder / match["path"]).resolve()
    assert path.is_file(), f"{name}: {match[0]!r} links to a missing record {path}"
    assert RESULTS.resolve() in path.parents, f"{name}: records live under benchmarks/results/"
    assert match["key"], f"{name}: {match[0]!r} names no value (add #path.to.value)"
    record = json.loads(path.read_text())
    try:
        value = _lookup(record, match["key"])
    except (KeyError, IndexError, ValueError) as exc:
        raise AssertionError(f"{name}: {path.name} has no value at {match['key']!r}") from exc
    assert isinstance(value, int | float), f"{name}: {match['key']!r} is not a number: {value!r}"
    assert _matches(match["text"], value), (
        f"{name}: quotes {match['text']!r} but {path.name}#{match['key']} is {value!r}"
    )
