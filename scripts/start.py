"""Set everything up (first run only) and start RAN Screening."""

import os
import subprocess
import sys
from pathlib import Path

from bootstrap import ROOT, ensure_environment
from qt_libraries import check, uses_x11


def qt_folder(python) -> str:
    return subprocess.run([str(python), "-c", "import os, PySide6; print(os.path.dirname(PySide6.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip() + "/Qt"


if __name__ == "__main__":
    python = ensure_environment()
    windowless = {"--self-test", "--help", "-h", "--version"} & set(sys.argv[1:])
    if not windowless and uses_x11() and (problem := check(Path(qt_folder(python)))):
        sys.exit(problem)
    sys.exit(subprocess.call([str(python), "-m", "ran_desktop", *sys.argv[1:]], cwd=ROOT, env=os.environ.copy()))
