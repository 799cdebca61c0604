"""Execute the course notebooks in order and store their outputs (``make notebooks``).

Each notebook runs top to bottom in a fresh kernel on the embedded default
data; the executed notebook is normalised and written back, and the run time
table in README.md (between the ``notebook-times`` markers) is regenerated.

    python scripts/run_notebooks.py notebooks            # all of them
    python scripts/run_notebooks.py notebooks/06_*.ipynb # some of them
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coursekit.notebooks import (  # noqa: E402
    RunResult,
    course_notebooks,
    execute_notebook,
    stderr_outputs,
)

START, END = "<!-- notebook-times:start -->", "<!-- notebook-times:end -->"


def times_table(results: list[RunResult]) -> str:
    """Markdown table of run times and peak memory, with the machine it ran on."""
    import os

    rows = [
        "| notebook | seconds | peak memory, kernel (MiB) | with its child processes (MiB) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in results:
        rows.append(
            f"| `{r.path.name}` | {r.seconds:.1f} | {r.kernel_peak_mb:.0f} | {r.peak_mb:.0f} |"
        )
    total = sum(r.seconds for r in results)
    rows.append(f"| **total** | **{total:.1f}** | | |")
    cpu = f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}"
    return "\n".join(rows) + (
        f"\n\nMeasured by `make notebooks` on {cpu}. With child processes (notebook 09's "
        "torchrun launcher and workers), memory is the sum of their PSS: pages they "
        "share, such as PyTorch's libraries, count once."
    )


def update_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text:
        return
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table}\n{END}", text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["notebooks"])
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)

    paths: list[Path] = []
    for p in map(Path, args.paths):
        paths += course_notebooks(p) if p.is_dir() else [p]
    results, failed = [], False
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        result = execute_notebook(path, timeout=args.timeout)
        results.append(result)
        if result.error is not None:
            failed = True
            print(f"  FAILED after {result.seconds:.1f} s: {result.error}")
            continue
        warnings = stderr_outputs(nbformat.read(path, as_version=4))
        for i, text in warnings:
            failed = True
            print(f"  cell {i} printed to stderr (fix the warning): {text.strip()[:300]}")
        print(
            f"  {result.seconds:.1f} s, peak {result.kernel_peak_mb:.0f} MiB "
            f"({result.peak_mb:.0f} MiB with child processes)"
        )
    table = times_table(results)
    print(table)
    if not failed and len(results) == len(course_notebooks(ROOT / "notebooks")):
        update_readme(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
