"""The course's address, the Colab cells, the README's links and the committed student edition.

* pyproject.toml's ``[project.urls] Repository`` is the one definition; every
  notebook's Colab cell, the README's badges and ``student/`` are generated
  from it and from ``notebooks/`` (scripts/course_links.py) and must agree.
* Colab, simulated: a fresh virtual environment in which ``coursekit`` is not
  importable, a kernel with a stand-in ``google.colab`` module, the course
  served by ``git daemon`` on 127.0.0.1. The student edition's first cell runs
  against it; then, in the same kernel, ``import coursekit`` and every other
  cell of the notebook.
"""

from __future__ import annotations

import shutil
import site
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import nbformat
import pytest

from coursekit import colab
from coursekit.distributed import free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import course_links  # noqa: E402
from course_web import repository_url  # noqa: E402

COLAB_NB = "01_losses.ipynb"


def test_the_address_is_defined_once_in_pyproject():
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert repository_url() == urls["Repository"].removesuffix(".git")
    for path in [ROOT / "scripts" / "course_web.py", ROOT / "web" / "site" / "conf.py"]:
        assert repository_url() not in path.read_text(), f"{path.name} writes the address again"


def test_colab_cells_readme_and_student_edition_are_up_to_date():
    stale = course_links.out_of_date()
    assert stale == [], f"out of date (run make links): {stale}"
    readme = (ROOT / "README.md").read_text()
    assert repository_url() in readme
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"blob/main/student/{nb.name})" in readme, f"no Colab badge for {nb.name}"


def test_the_colab_cell_installs_no_tooling_and_no_editable_package():
    source = course_links.colab_cell_source()
    for word in ("pip install -e", "jupyterlab", "nbconvert", "papermill", "nbval", "nbgrader"):
        assert word not in source
    assert f"{repository_url()}.git" in source


def test_setup_installs_only_what_is_missing(tmp_path, monkeypatch):
    (tmp_path / "student").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["numpy>=1.0", "no-such-package-xyz>=1", '
        '"numpy>=999"]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    asked = []
    installed = colab.setup(tmp_path, install=asked.append)
    assert installed == ["no-such-package-xyz>=1", "numpy>=999"] == asked[0]
    assert Path.cwd() == (tmp_path / "student").resolve()
    assert sys.path[0] == str(tmp_path.resolve())


# --------------------------------------------------------------------------- #
# Colab, simulated
# --------------------------------------------------------------------------- #
def _course_repository(dest: Path) -> Path:
    """A git repository holding the working tree's files (committed or not), as pushed."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "course"]):
        subprocess.run([*git, *args], cwd=dest, check=True)
    return dest


def _wait_for_port(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "git daemon exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("git daemon did not listen")


@pytest.mark.slow
def test_first_cell_sets_the_course_up_in_a_fresh_colab_like_runtime(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    # A fresh venv: this environment's packages (numpy, torch, ipykernel ...) are visible
    # through a .pth line, but not coursekit (its editable install is itself a .pth file,
    # which a listed folder's .pth files never are).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (purelib / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    fake = purelib / "google" / "colab"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('"""Stand-in for Colab\'s module."""\n')
    probe = subprocess.run(
        [python, "-c", "import coursekit"], cwd=tmp_path, capture_output=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert probe.returncode != 0, "coursekit is importable before the first cell ran"

    # The kernel: the fresh venv's python; Colab imports google.colab at start-up.
    kernels = tmp_path / "jupyter" / "kernels" / "colabsim"
    kernels.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernels / "kernel.json").write_text(
        __import__("json").dumps({"argv": argv, "display_name": "colab", "language": "python"})
    )
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")
    for var in ("PYTHONPATH", "MPLBACKEND", "COURSEKIT_GRADING", "VIRTUAL_ENV"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("COURSEKIT_STATIC_WIDGETS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    repo = _course_repository(tmp_path / "served" / "course")
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", "--listen=127.0.0.1",
         f"--port={port}", f"--base-path={repo.parent}", str(repo.parent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, daemon)
        clone = tmp_path / "content" / "course"
        nb = nbformat.read(ROOT / "student" / COLAB_NB, as_version=4)
        first = nb.cells[1]
        first.source = first.source.replace(
            f"{repository_url()}.git", f"git://127.0.0.1:{port}/course"
        ).replace(course_links.CLONE, str(clone))
        assert str(clone) in first.source and "127.0.0.1" in first.source
        check = nbformat.v4.new_code_cell(
            "import coursekit, os\nprint(coursekit.__file__)\nprint(os.getcwd())"
        )
        nb.cells.insert(2, check)

        from nbclient import NotebookClient

        client = NotebookClient(
            nb, timeout=300, kernel_name="colabsim",
            resources={"metadata": {"path": str(tmp_path)}},
        )  # fmt: skip
        client.execute()  # raises on the first error: every cell must run
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)

    def text(cell) -> str:
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    assert "coursekit is ready" in text(nb.cells[1])
    assert "installing" not in text(nb.cells[1]), "installed something the runtime had"
    path, cwd = text(nb.cells[2]).split()
    assert Path(path) == clone / "coursekit" / "__init__.py"
    assert Path(cwd) == clone / "student"
    assert (clone / "student" / COLAB_NB).is_file()
    checks = [text(c) for c in nb.cells if "raises-exception" in c.metadata.get("tags", [])]
    assert checks and all("not attempted yet" in t for t in checks), checks
