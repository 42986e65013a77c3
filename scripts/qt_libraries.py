"""Which system libraries Qt's X11 platform plugin lacks, named as the packages that provide them.

Without them Qt stops with 'Could not load the Qt platform plugin "xcb"', which names no library. Standard library
only: scripts/start.py runs this before the app starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Library -> (Debian/Ubuntu package, Fedora/RHEL package).
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}


def xcb_plugin_files(qt_dir: Path) -> list[Path]:
    """The X11 platform plugin and the library behind it, inside PySide6's Qt folder."""
    candidates = [qt_dir / "plugins" / "platforms" / "libqxcb.so", *sorted((qt_dir / "lib").glob("libQt6XcbQpa.so*"))]
    return [p for p in candidates if p.is_file()]


def missing_libraries(files: list[Path]) -> list[str]:
    """Shared libraries these files need that the dynamic linker cannot find (ldd's 'not found'), in order."""
    if not shutil.which("ldd"):
        return []
    missing: list[str] = []
    for path in files:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            name, _, where = line.strip().partition(" => ")
            if where.strip() == "not found" and name not in missing:
                missing.append(name)
    return missing


def explain(missing: list[str]) -> str:
    """What to tell the user: the libraries, and the commands that install them."""
    debian = sorted({PACKAGES[m][0] for m in missing if m in PACKAGES})
    fedora = sorted({PACKAGES[m][1] for m in missing if m in PACKAGES})
    unknown = [m for m in missing if m not in PACKAGES]
    lines = [
        "RAN Screening cannot open a window: Qt's X11 support needs system libraries that are not installed:",
        *(f"  {m}" for m in missing),
        "",
    ]
    if debian:
        lines += [
            "Install them (Debian, Ubuntu):",
            f"  sudo apt install {' '.join(debian)}",
            "or (Fedora, RHEL):",
            f"  sudo dnf install {' '.join(fedora)}",
        ]
    if unknown:
        lines.append(f"Find the package that provides {', '.join(unknown)} in your distribution.")
    lines.append("Then start the app again.")
    return "\n".join(lines)


def uses_x11(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether Qt will try its X11 plugin here: Linux, not asked for another platform, not in a Wayland session."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def check(qt_dir: Path) -> str | None:
    """The message for the user when Qt's X11 plugin lacks libraries, else None."""
    missing = missing_libraries(xcb_plugin_files(qt_dir))
    return explain(missing) if missing else None
