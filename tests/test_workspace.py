"""The student's workspace: installed, updated, and never overwritten once edited."""

import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import nbformat  # noqa: E402
import pytest

from coursekit.grading import cli  # noqa: E402
from coursekit.grading.release import release  # noqa: E402
from coursekit.grading.workspace import MANIFEST, update_workspace  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "grading" / "source"
DAY = dt.date(2025, 3, 14)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_source(path: Path, text: str) -> None:
    """The instructor changes the first (markdown) cell of a source notebook."""
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\n" + text
    nbformat.write(nb, path)


def edit_student(path: Path) -> None:
    """The student writes an answer in the first solution cell."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = cell.source.replace("raise NotImplementedError()", "return 0.0")
    nbformat.write(nb, path)


@pytest.fixture
def course(tmp_path):
    src = tmp_path / "notebooks"
    shutil.copytree(FIXTURE, src)
    shutil.copy(src / "01_sample.ipynb", src / "02_other.ipynb")
    return src, tmp_path / "workspace"


def test_first_install_copies_the_student_edition(course, tmp_path, capsys):
    src, ws = course
    report = update_workspace(src, ws, today=DAY)
    assert report.added == ["01_sample.ipynb", "02_other.ipynb"]
    assert "workspace: 2 added, 0 updated, 0 kept with your edits, 0 unchanged" in (
        capsys.readouterr().out
    )
    expected = release(src, tmp_path / "student", quiet=True)
    assert {n: sha(ws / n) for n in expected} == expected
    manifest = json.loads((ws / MANIFEST).read_text())
    assert manifest == {"notebooks": expected}
    assert "BEGIN SOLUTION" not in (ws / "01_sample.ipynb").read_text()


def test_nothing_to_do_when_identical(course):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    snapshot = {p.name: sha(p) for p in ws.glob("*.ipynb")}
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.unchanged == ["01_sample.ipynb", "02_other.ipynb"]
    assert not report.added and not report.updated and not report.kept
    assert {p.name: sha(p) for p in ws.glob("*.ipynb")} == snapshot


def test_untouched_notebook_is_replaced_by_the_new_release(course, capsys):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    edit_source(src / "01_sample.ipynb", "New paragraph.")
    report = update_workspace(src, ws, today=DAY)
    assert report.updated == ["01_sample.ipynb"] and report.unchanged == ["02_other.ipynb"]
    assert "New paragraph." in (ws / "01_sample.ipynb").read_text()
    assert "1 updated" in capsys.readouterr().out
    assert not list(ws.glob("*.updated-*"))


def test_edited_notebook_is_never_overwritten(course, capsys):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    edit_student(ws / "01_sample.ipynb")
    mine = sha(ws / "01_sample.ipynb")

    # Course unchanged: the student's edits are simply kept.
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.unchanged == ["01_sample.ipynb", "02_other.ipynb"]
    assert sha(ws / "01_sample.ipynb") == mine

    # Course changed: the new version goes beside it.
    edit_source(src / "01_sample.ipynb", "Erratum fixed.")
    report = update_workspace(src, ws, today=DAY)
    out = capsys.readouterr().out
    assert sha(ws / "01_sample.ipynb") == mine
    assert report.kept == {"01_sample.ipynb": "01_sample.updated-20250314.ipynb"}
    assert "Erratum fixed." in (ws / "01_sample.updated-20250314.ipynb").read_text()
    assert "01_sample.ipynb: you have edited it" in out
    assert "01_sample.updated-20250314.ipynb" in out

    # Same release again: nothing new is written.
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.unchanged == ["01_sample.ipynb", "02_other.ipynb"]

    # Another change on the same day never clobbers the earlier file.
    edit_source(src / "01_sample.ipynb", "Second erratum.")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.kept == {"01_sample.ipynb": "01_sample.updated-20250314-2.ipynb"}
    assert "Second erratum." not in (ws / "01_sample.updated-20250314.ipynb").read_text()
    assert "Second erratum." in (ws / "01_sample.updated-20250314-2.ipynb").read_text()
    assert sha(ws / "01_sample.ipynb") == mine


def test_deleted_or_new_notebooks_are_added(course):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    (ws / "02_other.ipynb").unlink()
    shutil.copy(src / "01_sample.ipynb", src / "03_new.ipynb")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.added == ["02_other.ipynb", "03_new.ipynb"]
    assert report.unchanged == ["01_sample.ipynb"]


def test_workspace_argument_errors_and_cli(course, tmp_path, capsys):
    src, ws = course
    with pytest.raises(FileNotFoundError, match=r"source must be a directory of notebooks, got"):
        update_workspace(tmp_path / "missing", ws)
    with pytest.raises(TypeError, match=r"today must be a datetime.date, got '2025-01-01'"):
        update_workspace(src, ws, today="2025-01-01")
    with pytest.raises(ValueError, match=r"dest must differ from source"):
        update_workspace(src, src)
    before = {p.name: sha(p) for p in src.glob("*.ipynb")}
    assert cli.main(["workspace", "--source", str(src), "--dest", str(ws)]) == 0
    assert "2 added" in capsys.readouterr().out
    assert {p.name: sha(p) for p in src.glob("*.ipynb")} == before


# --------------------------------------------------------------------------- #
# a missing or corrupt manifest: no record means "maybe edited", never "untouched"
# --------------------------------------------------------------------------- #
BROKEN_MANIFESTS = {
    "deleted": None,
    "empty": "",
    "not json": "{notebooks: ",
    "a list": "[]",
    "notebooks is a list": '{"notebooks": ["01_sample.ipynb"]}',
    "a number for a hash": '{"notebooks": {"01_sample.ipynb": 5, "02_other.ipynb": 5}}',
    "no record": '{"notebooks": {}}',
    "a directory": "DIR",
}


def break_manifest(ws: Path, how: str) -> None:
    path = ws / MANIFEST
    path.unlink()
    text = BROKEN_MANIFESTS[how]
    if text == "DIR":
        path.mkdir()
    elif text is not None:
        path.write_text(text)


def _cases(names):
    return list(names)


@pytest.mark.parametrize("how", _cases(BROKEN_MANIFESTS))
def test_without_a_manifest_record_an_edited_notebook_is_never_overwritten(course, how):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    edit_student(ws / "01_sample.ipynb")
    mine = sha(ws / "01_sample.ipynb")
    untouched = sha(ws / "02_other.ipynb")
    break_manifest(ws, how)
    edit_source(src / "01_sample.ipynb", "Erratum fixed.")
    edit_source(src / "02_other.ipynb", "Erratum fixed.")
    if how == "a directory":
        with pytest.raises(IsADirectoryError):
            update_workspace(src, ws, today=DAY, quiet=True)
        assert sha(ws / "01_sample.ipynb") == mine and sha(ws / "02_other.ipynb") == untouched
        return
    report = update_workspace(src, ws, today=DAY, quiet=True)
    # Both go beside: without a record, an untouched notebook cannot be told from an edited one.
    assert report.kept == {
        "01_sample.ipynb": "01_sample.updated-20250314.ipynb",
        "02_other.ipynb": "02_other.updated-20250314.ipynb",
    }
    assert not report.updated and not report.added
    assert sha(ws / "01_sample.ipynb") == mine and sha(ws / "02_other.ipynb") == untouched
    assert "Erratum fixed." in (ws / "01_sample.updated-20250314.ipynb").read_text()
    # The manifest is whole again: it records what was released, so a next update
    # that finds the notebooks as released sees them as unchanged.
    recorded = json.loads((ws / MANIFEST).read_text())["notebooks"]
    assert recorded == {n: sha(ws / f"{Path(n).stem}.updated-20250314.ipynb") for n in recorded}
    assert sorted(recorded) == ["01_sample.ipynb", "02_other.ipynb"]


@pytest.mark.parametrize("how", _cases(h for h in BROKEN_MANIFESTS if h != "a directory"))
def test_without_a_manifest_record_identical_notebooks_stay_unchanged(course, how):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    snapshot = {p.name: sha(p) for p in ws.glob("*.ipynb")}
    break_manifest(ws, how)
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.unchanged == ["01_sample.ipynb", "02_other.ipynb"] and not report.kept
    assert {p.name: sha(p) for p in ws.glob("*.ipynb")} == snapshot
    assert json.loads((ws / MANIFEST).read_text())["notebooks"] == snapshot


def test_a_notebook_the_manifest_never_recorded_is_not_overwritten(course):
    # The student made 01_sample.ipynb before the first install (or copied one in).
    src, ws = course
    ws.mkdir()
    (ws / "01_sample.ipynb").write_text("my own notes")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert (ws / "01_sample.ipynb").read_text() == "my own notes"
    assert report.kept == {"01_sample.ipynb": "01_sample.updated-20250314.ipynb"}
    assert report.added == ["02_other.ipynb"]


def test_a_record_under_another_name_does_not_count(course):
    # 02_other.ipynb's record must not vouch for 01_sample.ipynb.
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    edit_student(ws / "01_sample.ipynb")
    mine = sha(ws / "01_sample.ipynb")
    (ws / MANIFEST).write_text(json.dumps({"notebooks": {"02_other.ipynb": mine}}))
    edit_source(src / "01_sample.ipynb", "Erratum fixed.")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert sha(ws / "01_sample.ipynb") == mine
    assert report.kept == {"01_sample.ipynb": "01_sample.updated-20250314.ipynb"}


def test_an_edited_notebook_with_a_record_of_an_older_release_is_kept(course):
    # The record says what was installed; an edit since then is the student's.
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    edit_source(src / "01_sample.ipynb", "Release 2.")
    update_workspace(src, ws, today=DAY, quiet=True)  # untouched: updated to release 2
    assert "Release 2." in (ws / "01_sample.ipynb").read_text()
    edit_student(ws / "01_sample.ipynb")
    mine = sha(ws / "01_sample.ipynb")
    edit_source(src / "01_sample.ipynb", "Release 3.")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert sha(ws / "01_sample.ipynb") == mine and "01_sample.ipynb" in report.kept


# --------------------------------------------------------------------------- #
# details a planted bug would otherwise slip through (mutation testing)
# --------------------------------------------------------------------------- #
def test_summary_names_every_kept_notebook_and_its_new_file():
    from coursekit.grading.workspace import WorkspaceReport

    report = WorkspaceReport(
        added=["a.ipynb"],
        updated=["b.ipynb", "c.ipynb"],
        kept={"d.ipynb": "d.updated-20250314.ipynb", "e.ipynb": "e.updated-20250314-2.ipynb"},
        unchanged=["f.ipynb"] * 4,
    )
    assert report.summary() == (
        "workspace: 1 added, 2 updated, 2 kept with your edits, 4 unchanged\n"
        "  d.ipynb: you have edited it, so it was left as it is; "
        "the new version is in d.updated-20250314.ipynb\n"
        "  e.ipynb: you have edited it, so it was left as it is; "
        "the new version is in e.updated-20250314-2.ipynb"
    )
    assert WorkspaceReport().summary() == (
        "workspace: 0 added, 0 updated, 0 kept with your edits, 0 unchanged"
    )


def test_quiet_prints_nothing_and_the_default_prints_the_summary(course, capsys):
    src, ws = course
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert capsys.readouterr().out == ""  # neither the summary nor the release's own line
    report = update_workspace(src, ws, today=DAY)
    assert capsys.readouterr().out == report.summary() + "\n"


def test_the_manifest_file_is_sorted_indented_json(course):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    recorded = json.loads((ws / MANIFEST).read_text())["notebooks"]
    # records written in reverse order come back sorted
    (ws / MANIFEST).write_text(json.dumps({"notebooks": dict(sorted(recorded.items())[::-1])}))
    update_workspace(src, ws, today=DAY, quiet=True)
    text = (ws / MANIFEST).read_text(encoding="utf-8")
    assert text == json.dumps({"notebooks": dict(sorted(recorded.items()))}, indent=1) + "\n"


def test_records_of_notebooks_gone_from_the_course_are_kept_and_bad_ones_dropped(course):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    recorded = json.loads((ws / MANIFEST).read_text())["notebooks"]
    stale = dict(recorded, **{"00_old.ipynb": "ab" * 32, "00_bad.ipynb": 5, "00_list.ipynb": []})
    (ws / MANIFEST).write_text(json.dumps({"notebooks": stale}))
    update_workspace(src, ws, today=DAY, quiet=True)
    assert json.loads((ws / MANIFEST).read_text())["notebooks"] == dict(
        recorded, **{"00_old.ipynb": "ab" * 32}
    )


def test_a_manifest_without_notebooks_records_nothing(course):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    (ws / MANIFEST).write_text(json.dumps({"other": {"01_sample.ipynb": "x"}}))
    edit_source(src / "01_sample.ipynb", "Erratum fixed.")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.kept == {"01_sample.ipynb": "01_sample.updated-20250314.ipynb"}


def test_every_same_day_update_gets_its_own_file(course):
    src, ws = course
    update_workspace(src, ws, today=DAY, quiet=True)
    edit_student(ws / "01_sample.ipynb")
    mine = sha(ws / "01_sample.ipynb")
    names = []
    for k in range(4):
        edit_source(src / "01_sample.ipynb", f"Erratum {k}.")
        names.append(update_workspace(src, ws, today=DAY, quiet=True).kept["01_sample.ipynb"])
    assert names == [
        "01_sample.updated-20250314.ipynb",
        "01_sample.updated-20250314-2.ipynb",
        "01_sample.updated-20250314-3.ipynb",
        "01_sample.updated-20250314-4.ipynb",
    ]
    for k, name in enumerate(names):
        assert f"Erratum {k}." in (ws / name).read_text()
    assert sha(ws / "01_sample.ipynb") == mine
    # another day starts its own series
    edit_source(src / "01_sample.ipynb", "Next day.")
    report = update_workspace(src, ws, today=dt.date(2025, 3, 15), quiet=True)
    assert report.kept == {"01_sample.ipynb": "01_sample.updated-20250315.ipynb"}


def test_today_defaults_to_the_date_of_the_update(course):
    src, ws = course
    update_workspace(src, ws, quiet=True)
    edit_student(ws / "01_sample.ipynb")
    edit_source(src / "01_sample.ipynb", "Erratum fixed.")
    before = dt.date.today()
    report = update_workspace(src, ws, quiet=True)
    after = dt.date.today()
    assert report.kept["01_sample.ipynb"] in {
        f"01_sample.updated-{d:%Y%m%d}.ipynb" for d in (before, after)
    }


def test_default_folders_are_notebooks_and_workspace(course, tmp_path, monkeypatch):
    src, ws = course
    monkeypatch.chdir(tmp_path)
    report = update_workspace(today=DAY, quiet=True)
    assert report.added == ["01_sample.ipynb", "02_other.ipynb"]
    assert (tmp_path / "workspace" / "01_sample.ipynb").is_file()
    assert (tmp_path / "workspace" / MANIFEST).is_file()


def test_notebooks_in_subfolders_and_a_new_workspace_folder(course, tmp_path):
    src, _ = course
    (src / "part2").mkdir()
    shutil.copy(src / "01_sample.ipynb", src / "part2" / "03_deep.ipynb")
    ws = tmp_path / "not" / "yet" / "there"
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.added == ["01_sample.ipynb", "02_other.ipynb", "part2/03_deep.ipynb"]
    assert (ws / "part2" / "03_deep.ipynb").is_file()
    edit_student(ws / "part2" / "03_deep.ipynb")
    edit_source(src / "part2" / "03_deep.ipynb", "Erratum fixed.")
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.kept == {"part2/03_deep.ipynb": "part2/03_deep.updated-20250314.ipynb"}
    assert "Erratum fixed." in (ws / "part2" / "03_deep.updated-20250314.ipynb").read_text()


def test_a_course_without_notebooks_still_writes_a_manifest(tmp_path):
    src = tmp_path / "empty"
    src.mkdir()
    ws = tmp_path / "a" / "workspace"
    report = update_workspace(src, ws, today=DAY, quiet=True)
    assert report.summary() == "workspace: 0 added, 0 updated, 0 kept with your edits, 0 unchanged"
    assert json.loads((ws / MANIFEST).read_text()) == {"notebooks": {}}


def test_argument_messages_in_full(course, tmp_path):
    src, ws = course
    missing = tmp_path / "missing"
    with pytest.raises(
        FileNotFoundError,
        match=rf"^source must be a directory of notebooks, got {re.escape(repr(str(missing)))}$",
    ):
        update_workspace(missing, ws)
    with pytest.raises(TypeError, match=r"^today must be a datetime.date, got 20250101$"):
        update_workspace(src, ws, today=20250101)
    with pytest.raises(
        ValueError,
        match=rf"^dest must differ from source, got {re.escape(repr(str(src)))} for both$",
    ):
        update_workspace(src, src)
    assert not ws.exists()  # nothing written before the arguments are checked
