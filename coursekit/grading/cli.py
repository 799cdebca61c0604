"""The ``coursekit`` command line (``coursekit release | workspace | grade``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coursekit", description="Build the student edition, the workspace, and grade."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="build the student edition of the notebooks")
    p.add_argument("source_dir", nargs="?", default="notebooks")
    p.add_argument("out_dir", nargs="?", default="student")

    p = sub.add_parser("workspace", help="create or update your working copy of the notebooks")
    p.add_argument("--source", default="notebooks")
    p.add_argument("--dest", default="workspace")

    p = sub.add_parser("grade", help="autograde submissions against the source notebooks")
    p.add_argument("source_dir")
    p.add_argument("submissions_dir")
    p.add_argument(
        "--out",
        default="grades",
        help="folder for scores.csv, scores.json and feedback/ (default grades)",
    )
    p.add_argument("--timeout-cell", type=int, default=30, help="seconds per cell (default 30)")
    p.add_argument(
        "--timeout-notebook", type=int, default=600, help="seconds per notebook (default 600)"
    )
    p.add_argument("--memory-mb", type=int, default=4096, help="memory per kernel (default 4096)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded in parallel (default 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success, 1 on an error)."""
    args = _parser().parse_args(argv)
    # Imported here so ``coursekit --help`` stays instant.
    from coursekit.grading.autograde import grade
    from coursekit.grading.release import MarkupError, release
    from coursekit.grading.workspace import update_workspace

    try:
        if args.command == "release":
            release(args.source_dir, args.out_dir)
        elif args.command == "workspace":
            update_workspace(args.source, args.dest)
        else:
            grade(
                args.source_dir,
                args.submissions_dir,
                out_dir=args.out,
                timeout_cell=args.timeout_cell,
                timeout_notebook=args.timeout_notebook,
                memory_mb=args.memory_mb,
                jobs=args.jobs,
            )
    except (MarkupError, FileNotFoundError, ValueError, TypeError) as exc:
        print(f"coursekit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
