"""notebooks/conftest.py: nbval starts a fresh kernel when a kernel's start fails."""

from __future__ import annotations

from pathlib import Path

import nbval.kernel
import nbval.plugin
import pytest
from helpers import load_script

CONFTEST = Path(__file__).resolve().parents[1] / "notebooks" / "conftest.py"


@pytest.fixture
def retry(monkeypatch):
    """The conftest module, loaded with nbval's own RunningKernel put back afterwards."""
    monkeypatch.setattr(nbval.plugin, "RunningKernel", nbval.plugin.RunningKernel)
    return load_script(CONFTEST, "notebooks_conftest")


class FakeClient:
    def stop_channels(self):
        pass


class FakeManager:
    def __init__(self, log):
        self.log = log

    def shutdown_kernel(self, now=False):
        self.log.append("shutdown")


def fake_starts(monkeypatch, outcomes, log):
    """Make nbval's start_new_kernel fail or succeed, in the order of `outcomes`."""
    outcomes = list(outcomes)

    def start_new_kernel(**kwargs):
        log.append("start")
        if outcomes.pop(0) == "fail":
            raise RuntimeError("Kernel didn't respond in 60 seconds")
        return FakeManager(log), FakeClient()

    monkeypatch.setattr(nbval.kernel, "start_new_kernel", start_new_kernel)
    monkeypatch.setattr(nbval.kernel.RunningKernel, "_ensure_iopub_up", lambda self: None)


def test_nbval_uses_the_retrying_kernel(retry):
    assert nbval.plugin.RunningKernel is retry.RetryingKernel


def test_a_failed_start_is_followed_by_a_fresh_kernel(retry, monkeypatch):
    log = []
    fake_starts(monkeypatch, ["fail", "ok"], log)
    with pytest.warns(UserWarning, match=r"didn't respond.*attempt 2 of 3"):
        kernel = retry.RetryingKernel("python3", cwd=".")
    assert log == ["start", "start"]
    assert isinstance(kernel.km, FakeManager)


def test_the_error_is_raised_after_the_last_attempt(retry, monkeypatch):
    log = []
    fake_starts(monkeypatch, ["fail"] * retry.ATTEMPTS, log)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="didn't respond"):
        retry.RetryingKernel("python3", cwd=".")
    assert log == ["start"] * retry.ATTEMPTS


def test_a_kernel_without_iopub_is_shut_down_before_the_next_start(retry, monkeypatch):
    log = []
    fake_starts(monkeypatch, ["ok", "ok"], log)
    calls = iter([RuntimeError("Wasn't able to establish IOPub after 30 seconds."), None])

    def ensure_iopub_up(self):
        error = next(calls)
        if error is not None:
            raise error

    monkeypatch.setattr(nbval.kernel.RunningKernel, "_ensure_iopub_up", ensure_iopub_up)
    with pytest.warns(UserWarning, match="IOPub"):
        retry.RetryingKernel("python3", cwd=".")
    assert log == ["start", "shutdown", "start"]
