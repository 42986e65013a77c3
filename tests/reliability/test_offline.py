"""The app and the CLI keep pydicom from importing `requests` (and urllib3 from probing with a socket) where another
tool installed them: DICOM files still read, and neither library can be imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from dicom_factory import write_dicom

SCRIPT = """
import sys
from ran_desktop.offline import forbid_network_libraries
forbid_network_libraries()
from ran_desktop.engine.imaging.loading import load_images
image, = load_images(sys.argv[1])
print(image.pixels.shape)
for name in ("requests", "urllib3"):
    try:
        __import__(name)
    except ImportError:
        print(name, "blocked")
"""


def test_dicom_reads_and_the_network_libraries_cannot_be_imported(tmp_path):
    path = tmp_path / "eye.dcm"
    write_dicom(path, np.full((64, 80, 3), 120, np.uint8))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["(64, 80, 3)", "requests blocked", "urllib3 blocked"]
