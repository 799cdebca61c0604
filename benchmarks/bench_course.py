"""Course run time: every notebook on the embedded default, each in a fresh kernel.

Prints one table (notebook, seconds, peak memory) and checks the goals: each
notebook under 60 s, the whole course under 5 minutes, peak memory under 2 GB
per notebook. Notebooks are run from a temporary copy, so nothing in
notebooks/ changes.

    python benchmarks/bench_course.py [--out benchmarks/results/course.md]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coursekit.notebooks import course_notebooks, execute_notebook  # noqa: E402

GOAL_EACH_S, GOAL_TOTAL_S, GOAL_MEMORY_MB = 60.0, 300.0, 2048.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"))
    parser.add_argument("--out", help="also write the table as Markdown to this file")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in course_notebooks(args.notebooks):
            copy = Path(tmp) / src.name
            shutil.copy(src, copy)
            result = execute_notebook(copy, write=False)
            rows.append(
                (src.name, result.seconds, result.kernel_peak_mb, result.peak_mb, result.error)
            )
            print(
                f"{src.name:<36} {result.seconds:7.1f} s {result.kernel_peak_mb:8.0f} MiB "
                f"({result.peak_mb:.0f} MiB with child processes)",
                flush=True,
            )

    total = sum(r[1] for r in rows)
    lines = [
        f"Course run time, {date.today()}, {platform.machine()}, Python "
        f"{platform.python_version()}, {__import__('os').cpu_count()} cores",
        "",
        "| notebook | seconds | peak memory, kernel (MiB) | with child processes (MiB) | goal met |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    ok_all = True
    for name, secs, kernel_mb, mb, err in rows:
        # The memory goal counts every process the notebook starts (torchrun workers too),
        # each page they share once (PSS; see coursekit.notebooks._tree_share).
        ok = err is None and secs < GOAL_EACH_S and mb < GOAL_MEMORY_MB
        ok_all &= ok
        status = "yes" if ok else (f"no: {err}" if err else "no")
        lines.append(f"| {name} | {secs:.1f} | {kernel_mb:.0f} | {mb:.0f} | {status} |")
    met_total = "yes" if total < GOAL_TOTAL_S else "no"
    lines.append(f"| **total** | **{total:.1f}** | | | {met_total} |")
    ok_all &= total < GOAL_TOTAL_S
    lines += [
        "",
        f"Goals: each notebook < {GOAL_EACH_S:.0f} s, whole course < {GOAL_TOTAL_S:.0f} s, "
        f"peak memory < {GOAL_MEMORY_MB:.0f} MiB per notebook: {'all met' if ok_all else 'NOT met'}.",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
