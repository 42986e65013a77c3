"""A real X server (Xvfb) for the tests of what a person does, and xdotool to do it: real pointer, wheel and key
events that pass through the X server to the app's window, as a grader's would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class XDisplay:
    name: str  # ":99"
    width: int
    height: int

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a child that opens windows on this display (Qt's X11 plugin)."""
        env = dict(os.environ, DISPLAY=self.name, QT_QPA_PLATFORM="xcb", **extra)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def xdotool(self, *args: object, check: bool = True) -> str:
        run = subprocess.run(["xdotool", *map(str, args)], env=self.env(), capture_output=True, text=True,
                             timeout=30, check=False)
        if check and run.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(map(str, args))}: {run.stderr.strip()}")
        return run.stdout

    def click(self, x: float, y: float, button: int = 1) -> None:
        self.xdotool("mousemove", int(x), int(y), "click", button)

    def wheel(self, x: float, y: float, notches: int) -> None:
        """Mouse-wheel notches over (x, y): positive scrolls down."""
        self.xdotool("mousemove", int(x), int(y), "click", "--repeat", abs(notches), "--delay", 15,
                     5 if notches > 0 else 4)

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--delay", 30, *keys)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", 30, text)

    def screenshot(self, path: os.PathLike[str] | str) -> None:
        """The whole screen as the X server shows it, as PNG (read back through Qt's X11 plugin)."""
        grab = ("import sys; from PySide6.QtGui import QGuiApplication; app = QGuiApplication(sys.argv[:1]); "
                "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)")
        subprocess.run([sys.executable, "-c", grab, str(path)], env=self.env(), check=True, timeout=60)


def require_x_tools() -> None:
    missing = [tool for tool in ("Xvfb", "xdotool") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (Debian packages xvfb, xdotool; .ci/run installs them)")


@contextmanager
def xvfb(width: int = 1600, height: int = 1000) -> Iterator[XDisplay]:
    """A fresh Xvfb on a free display number, stopped afterwards."""
    require_x_tools()
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    os.close(write)
    try:
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        if not number.strip():
            said = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise RuntimeError(f"Xvfb did not start: {said}")
        yield XDisplay(f":{int(number)}", width, height)
    finally:
        os.close(read)
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
