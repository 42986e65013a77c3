"""A photograph nobody may read (mode 000), through the engine, the CLI and a drop on the app.

Tests run as root here, and root reads any file whatever its mode; so each path runs in a child process from which
root's power to bypass file permissions has been removed (sandbox.unreadable_prefix: setpriv drops
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH). Where that cannot be done the tests skip and say why.
"""

from __future__ import annotations

import csv
import json
import subprocess

import pytest
from sandbox import PYTHON, ROOT, locked_copy, unreadable_prefix

_LOAD = """
import json, sys
from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import load_images
try:
    load_images(sys.argv[1])
    print(json.dumps({"loaded": True}))
except ImageLoadError as exc:
    print(json.dumps({"type": type(exc).__name__, "path": str(exc.path), "reason": exc.reason}))
"""


def test_the_engine_refuses_it_with_a_typed_error_naming_the_file(sample_path, tmp_path):
    prefix = unreadable_prefix()
    locked = locked_copy(sample_path, tmp_path / "locked_OD.jpg")
    done = subprocess.run([*prefix, PYTHON, "-c", _LOAD, str(locked)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"type": "ImageLoadError", "path": str(locked),
                                       "reason": "permission denied: the file cannot be read"}


_WALK = """
import sys
from ran_desktop.engine.errors import ImageLoadError
from ran_desktop.engine.imaging.loading import iter_image_files, load_images
for path in iter_image_files([sys.argv[1]]):
    try:
        load_images(path)
        print(path, "loaded")
    except ImageLoadError as exc:
        print(path, exc.reason)
"""


def test_a_folder_nobody_may_read_is_reported_and_the_rest_is_found(sample_path, tmp_path):
    """Red-team item 9: an unreadable subfolder was passed over without a word; now it is a row with its reason."""
    prefix = unreadable_prefix()
    ok = tmp_path / "visit1" / "ok_OD.jpg"
    ok.parent.mkdir()
    ok.write_bytes(sample_path.read_bytes())
    locked = tmp_path / "visit2"
    locked.mkdir()
    (locked / "secret_OS.jpg").write_bytes(sample_path.read_bytes())
    locked.chmod(0)
    try:
        done = subprocess.run([*prefix, PYTHON, "-c", _WALK, str(tmp_path)], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{ok} loaded",
        f"{locked} this folder cannot be read (Permission denied): nothing in it was screened",
    ]


def test_the_cli_lists_it_and_screens_the_rest(cli_run):
    if not cli_run.unreadable_checked:
        pytest.skip("no file can be made unreadable here (see sandbox.unreadable_prefix)")
    assert cli_run.code == 1, cli_run.stderr
    locked = cli_run.inputs["locked"]
    assert f"  failed: {locked}: permission denied: the file cannot be read" in cli_run.stderr.splitlines()
    with open(cli_run.extra["out"], encoding="utf-8", newline="") as fh:
        status = {row["file"]: row["status"] for row in csv.DictReader(fh)}
    assert status[str(locked)] == "error"
    assert status[str(cli_run.inputs["good"])] == status[str(cli_run.inputs["identified"])] == "screened"


def test_the_app_shows_it_as_an_error_row_and_screens_the_rest(app_run):
    if not app_run.unreadable_checked:
        pytest.skip("no file can be made unreadable here (see sandbox.unreadable_prefix)")
    assert app_run.code == 0, app_run.stderr
    rows = {r["path"]: r for r in app_run.json("result")["records"]}
    locked = rows[str(app_run.inputs["locked"])]
    assert (locked["status"], locked["error"]) == ("error", "permission denied: the file cannot be read")
    assert rows[str(app_run.inputs["good"])]["status"] == "screened"
    assert rows[str(app_run.inputs["identified"])]["status"] == "screened"
