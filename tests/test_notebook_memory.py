"""coursekit.notebooks measures a notebook's peak memory, its child processes included.

The course's goal is a peak under 2 GB per notebook, counting the processes a
notebook starts (notebook 09 runs torchrun with two workers). Pages shared
between processes, such as the libraries every torch process maps, must be
counted once, not once per process.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

psutil = pytest.importorskip("psutil")

from coursekit.notebooks import _watch_peak_memory  # noqa: E402

MIB = 2**20
SIZE_MB = 300

# Touch SIZE_MB of memory, then fork: the child shares every page copy-on-write.
FORKING_PARENT = f"""
import os, sys, time
data = b"\\x01" * ({SIZE_MB} * {MIB})
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
print("forked", flush=True)
time.sleep(60)
"""

# The child allocates SIZE_MB of its own; the parent holds almost nothing.
CHILD = f"import time; data = b'\\x01' * ({SIZE_MB} * {MIB}); print('ready', flush=True); time.sleep(60)"
SPAWNING_PARENT = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {CHILD!r}], stdout=subprocess.PIPE, text=True)
child.stdout.readline()
print("forked", flush=True)
time.sleep(60)
"""


def _watch(pid: int, seconds: float) -> tuple[float, float]:
    """Run the notebook runner's memory watcher on ``pid`` for ``seconds``: (tree, alone) MiB."""
    peak, stop = [0.0, 0.0], threading.Event()
    watcher = threading.Thread(target=_watch_peak_memory, args=(lambda: pid, stop, peak))
    watcher.start()
    time.sleep(seconds)
    stop.set()
    watcher.join()
    return peak[0], peak[1]


def _peaks_of(script: str) -> tuple[float, float]:
    """Start ``script``, wait until its child exists, watch it for 1 s: (tree, parent) MiB."""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "forked"
        return _watch(proc.pid, 1.0)
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()


def test_a_child_process_memory_is_counted():
    tree, parent = _peaks_of(SPAWNING_PARENT)
    assert parent < SIZE_MB / 2, parent
    assert tree > parent + 0.9 * SIZE_MB, (tree, parent)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS is reported on Linux")
def test_pages_shared_with_a_child_are_counted_once():
    tree, parent = _peaks_of(FORKING_PARENT)
    assert parent > 0.9 * SIZE_MB, parent
    # Summing resident sets would give about 2 x SIZE_MB: the same pages twice.
    assert tree < parent + 0.2 * SIZE_MB, (tree, parent)


def test_without_children_the_tree_is_the_kernel():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tree, alone = _watch(proc.pid, 0.3)
    finally:
        proc.kill()
        proc.wait()
    assert alone > 0
    assert tree == alone
