"""The ``coursekit`` command line (``coursekit release | workspace | progress | grade``)."""

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

    p = sub.add_parser(
        "progress",
        help="show which exercises of your workspace pass their checks, and what to do next",
        description="Run the visible checks of every exercise on the notebooks saved in your "
        "workspace, in a separate kernel (the notebooks are never modified), and show each "
        "as passed, failed or not attempted, with the points, what to do next and the "
        "study time left.",
    )
    p.add_argument("--workspace", default="workspace", help="your folder (default workspace)")
    p.add_argument(
        "--source", default="notebooks", help="the course's notebooks (default notebooks)"
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per cell (default 60)")

    p = sub.add_parser(
        "grade",
        help="autograde submissions in a sandbox (see also: coursekit grade merge)",
        description="Grade every submission against the source notebooks. Each submission "
        "runs in a bubblewrap sandbox; scores are decided outside it. "
        "'coursekit grade merge OUT SHARD_DIR...' joins the outputs of --shard runs.",
    )
    p.add_argument("source_dir")
    p.add_argument("submissions_dir")
    p.add_argument("--out", default="grades", help="output folder (default grades)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--shard", metavar="K/N", help="grade only the K-th of N shares of the students")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="wall-clock seconds per submission (default: 5x the instructor's solutions, >= 60)",
    )
    p.add_argument(
        "--call-timeout", type=float, default=30.0, help="seconds per cell or exercise (default 30)"
    )
    p.add_argument(
        "--memory-mb", type=int, default=3072, help="memory per submission (default 3072)"
    )
    p.add_argument("--pids", type=int, default=128, help="processes per submission (default 128)")
    p.add_argument("--secret-file", default=None, help="the instructor's secret seed file")
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without isolation (student code runs with your rights)",
    )

    p = sub.add_parser("grade-merge", help=argparse.SUPPRESS)
    p.add_argument("out_dir")
    p.add_argument("shard_dirs", nargs="+")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success, 1 on an error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["grade", "merge"]:
        argv = ["grade-merge", *argv[2:]]
    args = _parser().parse_args(argv)
    # Imported here so ``coursekit --help`` stays instant.
    from coursekit.grading.autograde import GradingError, grade, merge
    from coursekit.grading.progress import progress, progress_report
    from coursekit.grading.release import MarkupError, release
    from coursekit.grading.sandbox import SandboxUnavailable
    from coursekit.grading.workspace import update_workspace

    try:
        if args.command == "release":
            release(args.source_dir, args.out_dir)
        elif args.command == "workspace":
            update_workspace(args.source, args.dest)
        elif args.command == "progress":
            records = progress(args.workspace, args.source, timeout=args.timeout, quiet=False)
            print(progress_report(records, args.workspace))
        elif args.command == "grade-merge":
            merge(args.out_dir, args.shard_dirs)
        else:
            grade(
                args.source_dir,
                args.submissions_dir,
                out_dir=args.out,
                jobs=args.jobs,
                shard=args.shard,
                budget_s=args.budget,
                call_s=args.call_timeout,
                memory_mb=args.memory_mb,
                pids=args.pids,
                sandbox=not args.no_sandbox,
                secret_file=args.secret_file,
            )
    except (
        MarkupError,
        GradingError,
        SandboxUnavailable,
        FileNotFoundError,
        ValueError,
        TypeError,
    ) as exc:
        print(f"coursekit {args.command.replace('-', ' ')}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
