"""Set everything up (first run only) and run the test suite; extra arguments go to pytest."""

import os
import subprocess
import sys

from bootstrap import ROOT, TEST_EXTRAS, ensure_environment

if __name__ == "__main__":
    python = ensure_environment(TEST_EXTRAS)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    sys.exit(subprocess.call([str(python), "-m", "pytest", *sys.argv[1:]], cwd=ROOT, env=env))
