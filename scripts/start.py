"""Set everything up (first run only) and start RAN Screening."""

import os
import subprocess
import sys

from bootstrap import ROOT, ensure_environment

if __name__ == "__main__":
    python = ensure_environment()
    sys.exit(subprocess.call([str(python), "-m", "ran_desktop", *sys.argv[1:]], cwd=ROOT, env=os.environ.copy()))
