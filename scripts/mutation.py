"""Mutation testing of the course's core modules with mutmut, one module at a time.

For each module, a copy of the repository (coursekit/, tests/, data/, pyproject.toml)
is made in a temporary folder, mutmut is configured there to mutate only that module
and to run only that module's own test files, and its results are summed up:

    python scripts/mutation.py losses optimizers      # some modules
    python scripts/mutation.py --all                  # every module listed in MODULES
    python scripts/mutation.py losses --keep /tmp/mut  # keep the copy (mutmut show/browse there)

The score is killed / (killed + survived); a timed-out mutant counts as killed.
A surviving mutant is listed with its diff; docs/mutation.md records the last run and
which survivors are equivalent (no behaviour change). Slow: minutes per module on 2 cores,
so `make mutation` runs it and CI does not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module (under coursekit/) -> its own test files
MODULES: dict[str, list[str]] = {
    "losses": ["tests/test_losses.py"],
    "optimizers": ["tests/test_optimizers.py"],
    "pooling": ["tests/test_pooling.py"],
    "normalization": ["tests/test_normalization.py"],
    "activations": ["tests/test_activations.py"],
    "base": ["tests/test_layers.py", "tests/test_base.py"],
    "layers": ["tests/test_layers.py"],
    "blocks": ["tests/test_layers.py", "tests/test_blocks.py"],
    "conv": ["tests/test_conv.py"],
    "grading/workspace": ["tests/test_workspace.py"],
    "grading/autograde": ["tests/test_grading_units.py", "tests/test_autograde.py"],
    "grading/spec": ["tests/test_grading_spec.py", "tests/test_grading_units.py"],
    "grading/sandbox": ["tests/test_sandbox.py"],
    "grading/harness": ["tests/test_harness.py"],
    "grading/drivers": ["tests/test_drivers.py"],
    "grading/plaindata": ["tests/test_plaindata.py"],
    "grading/release": ["tests/test_release.py", "tests/test_release_units.py"],
    # coursekit.datasets re-exports what these five modules define; its own code is load_dataset
    "datasets": ["tests/test_datasets.py", "tests/test_load_dataset.py"],
    "download": [
        "tests/test_datasets.py",
        "tests/test_download_sources.py",
        "tests/test_download.py",
    ],
    "shipped": ["tests/test_datasets.py"],
    "splits": ["tests/test_datasets.py", "tests/test_splits.py"],
    "standardization": ["tests/test_datasets.py", "tests/test_loaders.py"],
    "loaders": ["tests/test_datasets.py", "tests/test_loaders.py"],
}

# Tests left out of a module's run: each is slow and checks agreement with another tool,
# not this module's own behaviour (both still run in CI).
DESELECT: dict[str, list[str]] = {
    # real nbgrader's generate_assignment + autograde: 10 s of a mutant's 20 s
    "grading/autograde": ["tests/test_autograde.py::test_real_nbgrader_agrees"],
}

# mutmut's exit codes per mutant, by status name (mutmut 3.x `results --all true` output).
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
SURVIVED = {"survived"}
NOT_RUN = {"no tests", "skipped", "not checked", "suspicious"}


def _config(module: str, tests: list[str]) -> str:
    args = ", ".join(json.dumps(t) for t in tests)
    deselect = "".join(f', "--deselect", {json.dumps(t)}' for t in DESELECT.get(module, []))
    return f"""
[tool.mutmut]
source_paths = ["coursekit/"]
# mutmut runs the tests in mutants/, where it copies only the sources and tests/:
# the data modules' tests read the shipped files in data/ too
also_copy = ["data/"]
only_mutate = ["coursekit/{module}.py"]
pytest_add_cli_args_test_selection = [{args}]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly", "-q"{deselect}]
# torch is not fork-safe: fork each mutant from a server that imported pytest, not torch.
process_isolation = "forkserver"
use_git_change_detection = false
"""


def _copy(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "full", "mutants")
    for name in ("coursekit", "tests", "data"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore, symlinks=True)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _results(work: Path, env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    status = {}
    for line in done.stdout.splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    return status


def _diff(work: Path, env: dict[str, str], name: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def run_module(module: str, keep: Path | None, max_children: int, resume: bool = False) -> dict:
    tests = MODULES[module]
    tmp = Path(tempfile.mkdtemp(prefix="coursekit-mutation-"))
    work = keep / module.replace("/", "_") if keep else tmp
    if not (resume and (work / "mutants").is_dir()):
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        _copy(work)
        with open(work / "pyproject.toml", "a", encoding="utf-8") as f:
            f.write(_config(module, tests))
        # The mutated copy comes first on sys.path. The folder must exist before Python
        # starts: a missing sys.path entry is cached as "nothing here", and coursekit
        # would then be imported from wherever it is installed, unmutated.
        (work / "mutants").mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(work / "mutants"))
    env.pop("CI", None)  # a skip is no failure here: the module's own tests decide
    started = dt.datetime.now()
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = (dt.datetime.now() - started).total_seconds()
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
    status = _results(work, env)
    killed = sorted(n for n, s in status.items() if s in KILLED)
    survived = sorted(n for n, s in status.items() if s in SURVIVED)
    other = sorted(n for n, s in status.items() if s not in KILLED | SURVIVED)
    tried = len(killed) + len(survived)
    report = {
        "module": f"coursekit/{module}.py",
        "tests": tests,
        "deselected": DESELECT.get(module, []),
        "date": dt.date.today().isoformat(),
        "seconds": round(seconds),
        "mutants": len(status),
        "killed": len(killed),
        # counted as killed, but kept apart: a run slowed down from outside can time out
        "timeouts": sorted(n for n in killed if status[n] == "timeout"),
        "survived": len(survived),
        "not_run": {n: status[n] for n in other},
        "score": round(100 * len(killed) / tried, 1) if tried else None,
        "survivors": {n: _diff(work, env, n) for n in survived},
    }
    if not keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)}")
    parser.add_argument("--all", action="store_true", help="every module")
    parser.add_argument("--keep", type=Path, help="keep each module's working copy here")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="with --keep: go on with an interrupted run in its kept copy (mutants already "
        "tried keep their result; the copy's code and tests are not refreshed)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mutation")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--min-score", type=float, default=90.0)
    args = parser.parse_args(argv)
    if args.resume and not args.keep:
        parser.error("--resume needs --keep: the folder of the run to go on with")
    modules = list(MODULES) if args.all else args.modules
    unknown = [m for m in modules if m not in MODULES]
    if not modules or unknown:
        parser.error(f"name modules among {list(MODULES)} (or --all); unknown: {unknown}")
    args.out.mkdir(parents=True, exist_ok=True)
    low = []
    for module in modules:
        report = run_module(module, args.keep, args.max_children, args.resume)
        path = args.out / f"{module.replace('/', '_')}.json"
        path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(
            f"{report['module']}: {report['killed']} killed, {report['survived']} survived, "
            f"{len(report['not_run'])} not run of {report['mutants']}: score {report['score']}% "
            f"({report['seconds']} s) -> {path}"
        )
        if report["score"] is None or report["score"] < args.min_score:
            low.append(module)
    if low:
        print(f"below {args.min_score}%: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
