"""The `ran-desktop` entry point.

The desktop window is not built yet, so for now starting the app screens the given paths, or the bundled sample
photographs, with the command-line screener, and says where the results and heat maps were written.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .cli.screen import main as screen_main
from .paths import sample_images


def main(argv: list[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv) or [str(p) for p in sample_images()]
    out_dir = Path(tempfile.mkdtemp(prefix="ran-screening-"))
    out = out_dir / "results.csv"
    status = screen_main([*paths, "--out", str(out), "--heatmaps", str(out_dir / "heatmaps")])
    if out.exists():
        print(out.read_text(encoding="utf-8"))
        print(f"Results: {out}\nGrad-CAM heat maps: {out_dir / 'heatmaps'}")
    return status
