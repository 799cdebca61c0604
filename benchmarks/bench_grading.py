"""Grading speed: seconds per submission with and without the sandbox, and a class of 100.

1. One submission of notebook 06 (the instructor's solutions), graded alternately
   in the bubblewrap sandbox and without it (``--no-sandbox``), ``--pairs`` times:
   the overhead is taken per pair, so a burst of load hits both halves alike.
   Reported: the median of each side, the median overhead and its spread.
2. ``coursekit grade`` on ``--students`` submissions of notebook 06 (a third
   solved, a third half solved, a third untouched) with ``--jobs 2``: wall time,
   seconds per submission, and the instructor's-solutions check it starts with.

    python benchmarks/bench_grading.py [--pairs 8] [--students 100] [--out FILE.json] [--readme]
    python benchmarks/bench_grading.py --from-record benchmarks/results/grading_cpu.json

The 1-minute load average is printed before and after; read a figure measured
under load (above half the cores) as rough.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from coursekit.grading import autograde  # noqa: E402
from coursekit.grading.exercises import all_exercises  # noqa: E402
from coursekit.grading.release import is_solution, release_notebook  # noqa: E402
from coursekit.grading.sandbox import Limits, limits_description  # noqa: E402

NB = "06_conv_arithmetic.ipynb"


def _load(when: str) -> float:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(f"load average ({when}): {load:.2f} on {os.cpu_count()} cores", flush=True)
    return load


def _one_submission(source: autograde._Source, secret: bytes, sandbox: bool) -> float:
    cells, _ = autograde.solution_cells(source.nb, source.nb)
    job = autograde._Job("bench", source, cells, [])
    start = time.perf_counter()
    autograde._grade_job(job, autograde._plan(source, secret), Limits(wall_s=300), sandbox)
    seconds = time.perf_counter() - start
    statuses = {row.status for row, _ in job.rows}
    if statuses != {"passed"}:
        raise SystemExit(f"the instructor's solutions did not pass: {statuses}")
    return seconds


def overhead(pairs: int) -> dict:
    """Sandbox vs no sandbox, alternating, ``pairs`` times (after one warm-up each)."""
    source = autograde._load_source(ROOT / "notebooks" / NB, NB, all_exercises())
    secret = b"benchmark secret, not an instructor's"
    _one_submission(source, secret, True)
    _one_submission(source, secret, False)
    with_s, without_s = [], []
    for i in range(pairs):
        with_s.append(_one_submission(source, secret, True))
        without_s.append(_one_submission(source, secret, False))
        print(f"pair {i + 1}: sandbox {with_s[-1]:.2f} s, no sandbox {without_s[-1]:.2f} s")
    diffs = sorted(a - b for a, b in zip(with_s, without_s, strict=True))
    q = statistics.quantiles(diffs, n=4) if len(diffs) > 1 else [diffs[0]] * 3
    return {
        "pairs": pairs,
        "sandbox_median_s": round(statistics.median(with_s), 3),
        "no_sandbox_median_s": round(statistics.median(without_s), 3),
        "overhead_median_s": round(statistics.median(diffs), 3),
        "overhead_iqr_s": [round(q[0], 3), round(q[2], 3)],
    }


def _class(root: Path, students: int) -> Path:
    source = nbformat.read(ROOT / "notebooks" / NB, as_version=4)
    student = release_notebook(source, NB)
    solutions = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells if is_solution(c)}
    half = dict(list(solutions.items())[: len(solutions) // 2])
    for i in range(students):
        nb = copy.deepcopy(student)
        chosen = (solutions, half, {})[i % 3]
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in chosen:
                cell.source = chosen[gid]
        folder = root / "subs" / f"student{i:03d}"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NB)
    (root / "source").mkdir()
    nbformat.write(source, root / "source" / NB)
    return root / "subs"


def whole_class(students: int, jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subs = _class(root, students)
        (root / "secret").write_text("benchmark secret, not an instructor's\n")
        start = time.perf_counter()
        rows = autograde.grade(
            root / "source", subs, root / "out", jobs=jobs, secret_file=root / "secret"
        )
        wall = time.perf_counter() - start
        info = json.loads((root / "out" / "grading.json").read_text())
    points = sorted({sum(r.points for r in rows if r.student == s) for s in info["students"]})
    return {
        "students": students,
        "jobs": jobs,
        "wall_s": round(wall, 1),
        "per_submission_s": round(wall / students, 2),
        "reference_check_s": info["reference_s"],
        "budget_s": info["budget_s"],
        "distinct_totals": points,
    }


MARKERS = ("<!-- grading-figures:start -->", "<!-- grading-figures:end -->")


def figures_markdown(record: dict) -> str:
    """The README's grading figures, written from a committed record."""
    o, c = record["overhead"], record["class"]
    return (
        f"Measured by `benchmarks/bench_grading.py` on {record['date']} ({record['machine']}; "
        f"{record['isolation']}; load average {record['load_average'][0]} before, "
        f"{record['load_average'][1]} after; record: `benchmarks/results/grading_cpu.json`):\n\n"
        "| what | seconds |\n| --- | ---: |\n"
        f"| one submission of `{record['notebook']}`, in the sandbox (median of "
        f"{o['pairs']}) | {o['sandbox_median_s']} |\n"
        f"| the same without the sandbox (`--no-sandbox`) | {o['no_sandbox_median_s']} |\n"
        f"| sandbox overhead per submission (median of pairs; goal < 1 s) | "
        f"{o['overhead_median_s']} |\n"
        f"| {c['students']} submissions of `{record['notebook']}`, `--jobs {c['jobs']}`, "
        f"whole run | {c['wall_s']} |\n"
        f"| the same, per submission | {c['per_submission_s']} |\n"
    )


def write_readme(record: dict, readme: Path = ROOT / "README.md") -> None:
    """Replace the README's block between MARKERS with :func:`figures_markdown`."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(MARKERS[0]), text.index(MARKERS[1])
    block = MARKERS[0] + "\n" + figures_markdown(record) + MARKERS[1]
    readme.write_text(text[:start] + block + text[end + len(MARKERS[1]) :], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", help="write the figures as JSON to this file")
    parser.add_argument(
        "--readme", action="store_true", help="also write the figures into README.md"
    )
    parser.add_argument(
        "--from-record", help="only write README.md's figures from this JSON record"
    )
    args = parser.parse_args(argv)
    if args.from_record:
        write_readme(json.loads(Path(args.from_record).read_text()))
        return 0

    print(f"isolation here: {limits_description(True)}")
    before = _load("before")
    result = {
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "isolation": limits_description(True),
        "notebook": NB,
        "overhead": overhead(args.pairs),
    }
    o = result["overhead"]
    print(
        f"\nper submission: sandbox {o['sandbox_median_s']} s, no sandbox "
        f"{o['no_sandbox_median_s']} s, overhead {o['overhead_median_s']} s "
        f"(interquartile {o['overhead_iqr_s'][0]} to {o['overhead_iqr_s'][1]} s; goal < 1 s)\n"
    )
    result["class"] = whole_class(args.students, args.jobs)
    c = result["class"]
    print(
        f"\n{c['students']} submissions of {NB}, --jobs {c['jobs']}: {c['wall_s']} s "
        f"({c['per_submission_s']} s each, including the solutions check of "
        f"{c['reference_check_s'][NB]} s)"
    )
    after = _load("after")
    result["load_average"] = [round(before, 2), round(after, 2)]
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    if args.readme:
        write_readme(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
