"""Entry point of the built (PyInstaller) program: the same `main` as `ran-desktop`, GUI or `--self-test`."""

import multiprocessing
import sys

from ran_desktop.app import main

if __name__ == "__main__":
    # A frozen program re-runs itself for any multiprocessing child; this sends such a child to its task
    # instead of opening a second window.
    multiprocessing.freeze_support()
    sys.exit(main())
