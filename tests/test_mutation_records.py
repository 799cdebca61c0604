"""docs/mutation.md's table of the last runs agrees with the committed mutmut records.

Each row of the "Last run" table quotes one record in
benchmarks/results/mutation/ (written by scripts/mutation.py): the counts and
the score must be that record's, every record must have its row, and every
module that the script can run must have a record.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import load_script

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "results" / "mutation"
PAGE = ROOT / "docs" / "mutation.md"
ROW = re.compile(
    r"^\| `(?P<module>coursekit/[\w/]+\.py)` \| (?P<tests>[^|]+) \| (?P<mutants>[\d,]+) \| "
    r"(?P<killed>[\d,]+) \| (?P<survived>[\d,]+) \| (?P<score>[\d.]+) % \|",
    re.MULTILINE,
)


def _rows() -> dict[str, dict[str, str]]:
    rows = {m["module"]: m.groupdict() for m in ROW.finditer(PAGE.read_text(encoding="utf-8"))}
    assert rows, f"no table rows found in {PAGE}"
    return rows


def _records() -> dict[str, dict]:
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RECORDS.glob("*.json"))]
    return {r["module"]: r for r in records}


def _int(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.mark.parametrize("module", sorted(_records()))
def test_each_record_is_quoted_exactly(module):
    record, row = _records()[module], _rows().get(module)
    assert row is not None, f"{module} has a record but no row in docs/mutation.md"
    quoted = (_int(row["mutants"]), _int(row["killed"]), _int(row["survived"]), row["score"])
    assert quoted == (
        record["mutants"],
        record["killed"],
        record["survived"],
        f"{record['score']:.1f}",
    )
    # the record's own arithmetic: every mutant tried, the score from its counts
    assert record["killed"] + record["survived"] + len(record["not_run"]) == record["mutants"]
    assert len(record["survivors"]) == record["survived"]
    tried = record["killed"] + record["survived"]
    assert record["score"] == round(100 * record["killed"] / tried, 1)
    # the tests named in the row are the record's (their first file in full, then names)
    assert f"`{record['tests'][0]}`" in row["tests"]


def test_every_row_has_a_record_and_every_module_a_row():
    script = load_script(ROOT / "scripts" / "mutation.py")
    modules = {f"coursekit/{m}.py" for m in script.MODULES}
    assert set(_rows()) == set(_records()) == modules
