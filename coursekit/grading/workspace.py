"""The student's working copy of the course (``workspace/``, ignored by git).

``coursekit workspace`` installs the student edition there and, when the
course is updated, brings it up to date without ever overwriting a notebook
the student has edited. ``workspace/.coursekit/manifest.json`` records the
SHA-256 of what was last installed for each notebook:

=========================================  =========================================
situation                                  action
=========================================  =========================================
not in the workspace                       copied ("added")
as installed, and the release changed      replaced ("updated"; nothing of theirs lost)
edited by the student, release changed     new version written beside it as
                                           ``NAME.updated-YYYYMMDD.ipynb`` ("kept")
identical to the release                   nothing ("unchanged")
=========================================  =========================================
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.grading.release import release, sha256_bytes

__all__ = ["MANIFEST", "WorkspaceReport", "update_workspace"]

MANIFEST = Path(".coursekit") / "manifest.json"


@dataclass
class WorkspaceReport:
    """What ``update_workspace`` did (notebook paths relative to the workspace).

    ``kept`` maps an edited notebook to the file the new version was written to.
    """

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per kind of action, then one line per edited notebook."""
        lines = [
            f"workspace: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.kept)} kept with your edits, {len(self.unchanged)} unchanged"
        ]
        for name, new in self.kept.items():
            lines.append(
                f"  {name}: you have edited it, so it was left as it is; "
                f"the new version is in {new}"
            )
        return "\n".join(lines)


def _load_manifest(dest: Path) -> dict[str, str]:
    try:
        data = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    notebooks = data.get("notebooks", {}) if isinstance(data, dict) else {}
    if not isinstance(notebooks, dict):  # a damaged manifest records nothing
        return {}
    return {k: v for k, v in notebooks.items() if isinstance(k, str) and isinstance(v, str)}


def _save_manifest(dest: Path, installed: dict[str, str]) -> None:
    path = dest / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"notebooks": dict(sorted(installed.items()))}, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")


def _free_name(target: Path, today: dt.date) -> Path:
    """``NAME.updated-YYYYMMDD.ipynb``, or ``...-2``, ``-3`` if that exists."""
    stem = f"{target.stem}.updated-{today:%Y%m%d}"
    candidate = target.with_name(stem + target.suffix)
    n = 2
    while candidate.exists():
        candidate = target.with_name(f"{stem}-{n}{target.suffix}")
        n += 1
    return candidate


def update_workspace(
    source: str | Path = "notebooks",
    dest: str | Path = "workspace",
    today: dt.date | None = None,
    quiet: bool = False,
) -> WorkspaceReport:
    """Create or update the student's working copy ``dest`` from the notebooks in ``source``.

    Parameters
    ----------
    source : str or Path
        Folder of source notebooks; the student edition is built from it in a
        temporary folder (the source is not modified).
    dest : str or Path
        The workspace folder (created if needed).
    today : datetime.date, optional
        Date used in ``NAME.updated-YYYYMMDD.ipynb`` (default: today).
    quiet : bool
        Do not print the summary.

    Returns
    -------
    WorkspaceReport
    """
    source, dest = Path(source), Path(dest)
    if not source.is_dir():
        raise FileNotFoundError(f"source must be a directory of notebooks, got {str(source)!r}")
    if today is None:
        today = dt.date.today()
    elif not isinstance(today, dt.date):
        raise TypeError(f"today must be a datetime.date, got {today!r}")
    if dest.resolve() == source.resolve():
        raise ValueError(f"dest must differ from source, got {str(dest)!r} for both")

    # The same student edition ``coursekit release`` writes, built in a
    # temporary folder so nothing outside the workspace is touched.
    with tempfile.TemporaryDirectory(prefix="coursekit-release-") as tmp:
        manifest = release(source, tmp, quiet=True)
        released = {name: (Path(tmp) / name).read_bytes() for name in manifest}

    installed = _load_manifest(dest)
    report = WorkspaceReport()
    for name, data in released.items():
        new_sha = sha256_bytes(data)
        target = dest / name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            report.added.append(name)
        else:
            current_sha = sha256_bytes(target.read_bytes())
            if current_sha == new_sha:
                report.unchanged.append(name)
            elif current_sha == installed.get(name):
                # The student has not touched it: nothing of theirs is lost.
                target.write_bytes(data)
                report.updated.append(name)
            elif installed.get(name) == new_sha:
                # Edited, and the course has not changed since it was installed.
                report.unchanged.append(name)
            else:
                beside = _free_name(target, today)
                beside.write_bytes(data)
                report.kept[name] = beside.relative_to(dest).as_posix()
        installed[name] = new_sha
    _save_manifest(dest, installed)
    if not quiet:
        print(report.summary())
    return report
