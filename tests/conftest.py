"""Test-wide settings: no display is needed (tests never need a GPU or the network)."""

import os

# Before anything imports matplotlib.
os.environ.setdefault("MPLBACKEND", "Agg")
