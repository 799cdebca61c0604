"""``python -m coursekit ...`` runs the ``coursekit`` command line."""

import sys

from coursekit.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
