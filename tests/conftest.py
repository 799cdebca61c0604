"""Test-wide settings: CPU only, no display, no network."""

import os

# Set before anything imports matplotlib or picks a device.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("COURSEKIT_DEVICE", "cpu")
os.environ.setdefault("COURSEKIT_STATIC_WIDGETS", "1")
