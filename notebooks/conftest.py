"""nbval settings for the course notebooks: start a kernel again when its start fails.

`make nbval` runs two pytest-xdist workers, each starting a kernel per
notebook. jupyter_client gives each kernel five ports found by binding port 0
and letting it go, so two kernels started at the same moment on a busy 2-core
machine can race for a port or miss nbval's 60 s wait for the first reply. It
happened once in CI ("Kernel didn't respond in 60 seconds"), and nbval then
fails every cell of that notebook. The cure is what a person would do: start a
fresh kernel, with fresh ports. A notebook that is really broken still fails,
in its cells, where nbval reports it.
"""

from __future__ import annotations

import warnings

import nbval.plugin
from nbval.kernel import RunningKernel

ATTEMPTS = 3


class RetryingKernel(RunningKernel):
    """nbval's RunningKernel, started up to ATTEMPTS times before the error is raised."""

    def __init__(self, *args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                super().__init__(*args, **kwargs)
                return
            except RuntimeError as err:
                # start_new_kernel shuts a kernel that never answered down itself;
                # one that answered but never opened IOPub is still running.
                if getattr(self, "km", None) is not None:
                    self.stop()
                if attempt == ATTEMPTS:
                    raise
                warnings.warn(
                    f"kernel start failed ({err}); starting a fresh kernel "
                    f"(attempt {attempt + 1} of {ATTEMPTS})",
                    stacklevel=2,
                )


# nbval's IPyNbFile.setup looks the class up in its module when a notebook starts.
nbval.plugin.RunningKernel = RetryingKernel
