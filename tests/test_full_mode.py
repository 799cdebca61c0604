"""Every notebook runs in full mode (``MODE = "full"``), on tiny data, through the real download code.

The full data sets are replaced by small fixtures in their real on-disk formats
(MNIST and Fashion-MNIST as gzipped IDX files, CIFAR-10 as the python tarball;
see ``full_mode_fixtures.py``), served over HTTP on 127.0.0.1. The notebooks'
kernels inherit ``$COURSEKIT_DATA_SOURCES``, which points coursekit's download
code at that server with the fixtures' md5s, and ``$COURSEKIT_DATA``, a
temporary data folder (the shipped files linked in, ``full/`` empty). So each
notebook downloads, verifies, extracts and reads its data exactly as a learner's
full run would, only smaller.

Papermill injects the smoke-run parameters after each notebook's ``parameters``
cell: ``FULL_LIMIT`` (images per split and other sizes) and ``FULL_EPOCHS``
(epochs, steps, repeats) cut the full-mode sizes so each notebook takes seconds,
and ``CHECK_RESULTS = False`` switches off the accuracy and learning checks,
which tiny random data cannot pass. Any exception in a full-mode code path
fails the notebook's test with the cell and the error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from full_mode_fixtures import serve_fixtures

from coursekit.download import SOURCES_ENV, md5sum

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# images in the fixtures' training and test files (CIFAR-10: 5 batches of N_TRAIN // 5)
N_TRAIN, N_TEST = 200, 50
SMOKE = {
    "MODE": "full",
    "CHECK_RESULTS": False,
    "DEVICE": "cpu",  # full mode on the CPU too (09's CUDA-only paths are skipped there)
    "FULL_LIMIT": 32,  # images per split and batch sizes (fewer than the fixtures hold: the cap works)
    "FULL_EPOCHS": 1,
}
# the full data sets each notebook downloads in full mode
DOWNLOADS = {
    "00_start_here": ["MNIST"],
    "04_mlp": ["MNIST"],
    "05_training_deep_networks": ["MNIST"],
    "07_cnn": ["CIFAR-10"],
    "08_resnet": ["CIFAR-10"],
    "09_fast_gpu_training": ["CIFAR-10"],
}
EXTRACTED = {
    "MNIST": "MNIST/raw/train-images-idx3-ubyte",
    "CIFAR-10": "cifar-10-batches-py/data_batch_1",
}
ARCHIVES = {
    "MNIST": ("mnist", "MNIST/raw/train-images-idx3-ubyte.gz"),
    "CIFAR-10": ("cifar10", "cifar-10-python.tar.gz"),
}


@pytest.fixture(scope="module")
def full_env(tmp_path_factory):
    """Serve the fixtures and point coursekit (and every kernel started here) at them."""
    import json

    tmp = tmp_path_factory.mktemp("full-mode")
    data = tmp / "data"
    data.mkdir()
    for item in (ROOT / "data").iterdir():  # the shipped data, as the notebooks use it too
        if item.name not in ("full", "README.md"):
            (data / item.name).symlink_to(item)
    with serve_fixtures(tmp, N_TRAIN, N_TEST) as sources, pytest.MonkeyPatch.context() as mp:
        mp.setenv(SOURCES_ENV, str(sources))
        mp.setenv("COURSEKIT_DATA", str(data))
        mp.setenv("COURSEKIT_STATIC_WIDGETS", "1")
        mp.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        yield {"data": data, "out": tmp / "executed", "sources": json.loads(sources.read_text())}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_full_mode(path, full_env):
    import papermill

    out = full_env["out"] / path.name
    out.parent.mkdir(exist_ok=True)
    try:
        papermill.execute_notebook(
            str(path),
            str(out),
            parameters=SMOKE,
            kernel_name="python3",
            cwd=str(path.parent),
            execution_timeout=240,  # per cell; a few seconds each on an idle CPU core
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as exc:
        pytest.fail(
            f"{path.name} failed in full mode, in cell In [{exc.exec_count}]:\n{exc.source}\n"
            f"{exc.ename}: {exc.evalue}",
            pytrace=False,
        )
    full = full_env["data"] / "full"
    for name in DOWNLOADS.get(path.stem, []):
        # downloaded from the fixture server, verified against the configured md5, extracted
        assert (full / EXTRACTED[name]).is_file(), f"{path.name} did not prepare {name}"
        key, archive = ARCHIVES[name]
        assert md5sum(full / archive) == full_env["sources"][key]["md5"][Path(archive).name]


def test_the_smoke_run_covers_every_notebook():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{k:02d}" for k in range(10)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_smoke_parameter_is_a_parameter_of_the_notebook(path):
    """Papermill injects unknown names without complaint: a missing one would cut nothing."""
    import re

    import nbformat

    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    for name in SMOKE:
        assert re.search(rf"^{name} = ", params[0].source, re.M), f"{path.name}: no {name}"
