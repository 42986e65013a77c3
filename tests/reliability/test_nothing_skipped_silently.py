"""Everything in a dropped folder that might hold a photograph is either screened or reported with its reason,
and counted in the exit status (red-team issue, item 9)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from ran_desktop.cli.screen import main as screen_main


def _deep_folder(root: Path) -> Path:
    """A folder whose full path is longer than PATH_MAX (made one level at a time, relative to its parent)."""
    name = "d" * 200
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    depth = 0
    try:
        while len(str(root)) + depth * (len(name) + 1) < 4200:
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
            depth += 1
    finally:
        os.close(fd)
    return root.joinpath(*[name] * depth)


@pytest.mark.skipif(os.name != "posix", reason="pipes and PATH_MAX are POSIX")
def test_special_files_dangling_links_and_overlong_paths_are_rows(tiny_bundle, sample_path, tmp_path, capsys):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "good_OD.jpg").write_bytes(sample_path.read_bytes())
    os.mkfifo(drop / "pipe_OS.jpg")  # reading it would block forever
    (drop / "gone_OD.jpg").symlink_to(drop / "deleted.jpg")
    deep = _deep_folder(drop / "deep")
    out = tmp_path / "r.csv"
    code = screen_main([str(drop), "--out", str(out), "--model", str(tiny_bundle), "--device", "cpu", "--quiet"])
    rows = {Path(r["file"]).name: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["good_OD.jpg"]["status"] == "screened"
    assert rows["pipe_OS.jpg"]["status"] == "error" and "not a regular file" in rows["pipe_OS.jpg"]["error"]
    assert rows["gone_OD.jpg"]["status"] == "error" and rows["gone_OD.jpg"]["error"] == "file not found"
    long_rows = [r for name, r in rows.items() if name.startswith("ddd")]
    assert len(long_rows) == 1 and "longer than this system allows" in long_rows[0]["error"]
    assert len(str(deep)) > 4096
    assert code == 1  # failures counted in the exit status
    err = capsys.readouterr().err
    assert "3 failed" in err and "pipe_OS.jpg: not a regular file" in err


def test_the_app_counts_them_in_the_batch_summary(start_window, qtbot, sample_path, tmp_path):
    from gui_helpers import drop as drop_on
    from gui_helpers import wait_idle

    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "good_OD.jpg").write_bytes(sample_path.read_bytes())
    os.mkfifo(folder / "pipe_OS.jpg")
    window = start_window()
    drop_on(window, [folder])
    wait_idle(qtbot, window, 2)
    assert "1 file(s) in the list could not be read" in window.status.currentMessage()
