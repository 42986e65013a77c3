"""scripts/start.py names the system packages Qt's X11 plugin lacks, instead of Qt's bare "xcb" message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from qt_libraries import check, explain, missing_libraries, uses_x11

MISSING = "libran-test-absent.so.4"  # a name no system has, whatever is installed here


@pytest.fixture
def plugin_needing_a_missing_library(tmp_path) -> Path:
    """A real shared library that needs MISSING, linked against a stand-in that is then removed."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the test library")
    stub_dir = tmp_path / "stub"
    stub_dir.mkdir()
    (tmp_path / "stub.c").write_text("int icccm_stub(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int icccm_stub(void);\nint plugin(void) { return icccm_stub(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(stub_dir / MISSING), f"-Wl,-soname,{MISSING}",
                    str(tmp_path / "stub.c")], check=True)
    platforms = tmp_path / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    plugin = platforms / "libqxcb.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(plugin), str(tmp_path / "plugin.c"),
                    f"-L{stub_dir}", f"-l:{MISSING}"], check=True)
    shutil.rmtree(stub_dir)
    return plugin


def test_a_missing_library_is_found_and_named(plugin_needing_a_missing_library):
    assert missing_libraries([plugin_needing_a_missing_library]) == [MISSING]
    message = check(plugin_needing_a_missing_library.parents[2])
    assert message is not None and MISSING in message


def test_qts_x11_libraries_are_named_with_their_packages():
    message = explain(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "libxcb-icccm.so.4" in message
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in message
    assert "sudo dnf install xcb-util-keysyms xcb-util-wm" in message


def test_nothing_is_reported_when_everything_is_there(tmp_path):
    (tmp_path / "Qt" / "plugins" / "platforms").mkdir(parents=True)
    shutil.copy("/bin/ls", tmp_path / "Qt" / "plugins" / "platforms" / "libqxcb.so")
    assert check(tmp_path / "Qt") is None


def test_an_unknown_library_is_still_named():
    message = explain(["libxcb-icccm.so.4", "libweird.so.9"])
    assert "libweird.so.9" in message and "libxcb-icccm4" in message


def test_only_x11_starts_are_checked(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert uses_x11({})
    assert uses_x11({"QT_QPA_PLATFORM": "xcb"})
    assert not uses_x11({"QT_QPA_PLATFORM": "offscreen"})
    assert not uses_x11({"WAYLAND_DISPLAY": "wayland-0"})
    monkeypatch.setattr(sys, "platform", "win32")
    assert not uses_x11({})
