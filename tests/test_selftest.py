"""`ran-desktop --self-test` from source: the real model bundle, screener and report writer, no window."""

import re
import sys
import tempfile
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from ran_desktop import paths, selftest
from ran_desktop.app import main

STEPS = ["environment", "Qt binding", "DICOM decoders", "load model", "find sample", "screen sample", "write report",
         "audit trail"]


@pytest.fixture
def models_env(tiny_bundle, monkeypatch):
    """The tiny bundle's folder as the models folder, on the CPU, as a clinic PC without a GPU would run it; a data
    folder of the test's own (the audit trail step reads the user's session database)."""
    monkeypatch.setenv("RAN_MODELS_DIR", str(tiny_bundle.parent))
    monkeypatch.setenv("RAN_DATA_DIR", str(tiny_bundle.parent.parent / "no-data-yet"))
    monkeypatch.setenv("RAN_DEVICE", "cpu")
    return tiny_bundle


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """Where tempfile makes folders during the test (the self-test's default output goes there)."""
    root = tmp_path / "temp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def printed_path(text: str, label: str) -> Path:
    match = re.search(rf"^{label}: (.+)$", text, re.MULTILINE)
    assert match, f"no '{label}:' line in:\n{text}"
    return Path(match.group(1))


def test_self_test_passes_prints_each_step_and_writes_the_report(models_env, temp_root, capsys):
    app_before = QApplication.instance()
    assert main(["--self-test"]) == 0
    out = capsys.readouterr().out
    for number, step in enumerate(STEPS, start=1):
        assert re.search(rf"^\[{number}/{len(STEPS)}\] {step}: ok \(", out, re.MULTILINE), out
    assert "SELF-TEST PASSED" in out and "FAILED" not in out
    # The bundle from RAN_MODELS_DIR was used, on the CPU asked for, and the sample was graded.
    assert f"bundle: {models_env}" in out and "64 px input" in out and "device: CPU" in out
    assert re.search(r"normal_fundus_OS\.jpg: screened, DR grade [0-4] \(", out)
    # Output goes to a new folder in the temporary directory; the report and the log file are there.
    folder = printed_path(out, "Output folder")
    assert folder.parent == temp_root and folder.name.startswith("ran-screening-self-test-")
    report = printed_path(out, "Report")
    summary = printed_path(out, "Batch summary")
    for pdf in (report, summary):
        assert pdf.parent == folder / "reports"
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-") and len(data) > 10_000
    log = printed_path(out, "Log file")
    assert log == folder / "self-test.log"
    assert log.read_text(encoding="utf-8").splitlines() == out.splitlines()
    # No window: the self-test never made a QApplication.
    assert QApplication.instance() is app_before


def test_output_folder_can_be_chosen(models_env, tmp_path, capsys):
    target = tmp_path / "chosen" / "folder"
    assert main(["--self-test", "--self-test-dir", str(target)]) == 0
    out = capsys.readouterr().out
    assert printed_path(out, "Output folder") == target
    assert len(list((target / "reports").glob("DR-report_*.pdf"))) == 1
    assert (target / "self-test.log").is_file()


def test_without_a_model_it_fails_with_the_reason(tmp_path, temp_root, monkeypatch, capsys):
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("RAN_MODELS_DIR", str(empty))
    assert main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "[4/8] load model: FAILED" in out
    assert f"SELF-TEST FAILED at step 4 (load model): no model bundle in {empty} (set by RAN_MODELS_DIR)" in out
    assert "PASSED" not in out and "screen sample" not in out
    folder = printed_path(out, "Output folder")
    assert not (folder / "reports").exists()
    assert "SELF-TEST FAILED" in (folder / "self-test.log").read_text(encoding="utf-8")


def test_damaged_weights_fail_with_the_bundles_reason(bundle_copy, temp_root, monkeypatch, capsys):
    weights = bundle_copy / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.setenv("RAN_MODELS_DIR", str(bundle_copy.parent))
    assert main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "SELF-TEST FAILED at step 4 (load model): the model in" in out
    assert "sha256" in out


def test_missing_sample_fails_with_the_reason(models_env, tmp_path, temp_root, monkeypatch, capsys):
    install = tmp_path / "install"
    (install / "resources" / "samples").mkdir(parents=True)
    monkeypatch.setattr(paths, "install_root", lambda: install)
    assert main(["--self-test"]) == 1
    out = capsys.readouterr().out
    samples = install / "resources" / "samples"
    assert f"SELF-TEST FAILED at step 5 (find sample): no sample photograph in {samples}" in out


def test_an_unexpected_error_is_reported_with_its_traceback_in_the_log(models_env, temp_root, monkeypatch, capsys):
    from ran_desktop.engine.screening import screener

    def broken_screen(self, paths_):
        raise RuntimeError("simulated inference crash")

    monkeypatch.setattr(screener.Screener, "screen", broken_screen)
    assert main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "SELF-TEST FAILED at step 6 (screen sample): unexpected RuntimeError: simulated inference crash" in out
    assert "Traceback" not in out  # the console gets the reason, the log file the details
    log = printed_path(out, "Details").read_text(encoding="utf-8")
    assert "Traceback" in log and "broken_screen" in log


def test_without_a_console_the_log_file_has_everything(models_env, temp_root, monkeypatch):
    """A windowed Windows build has no sys.stdout; the output must still reach the log file."""
    monkeypatch.setattr(sys, "stdout", None)
    assert selftest.main(["--self-test"]) == 0
    folders = list(temp_root.glob("ran-screening-self-test-*"))
    assert len(folders) == 1
    log = (folders[0] / "self-test.log").read_text(encoding="utf-8")
    assert "SELF-TEST PASSED" in log and "[7/8] write report: ok" in log


def test_an_unusable_output_folder_is_reported(models_env, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["--self-test", "--self-test-dir", str(blocker / "sub")]) == 1
    assert "SELF-TEST FAILED: cannot create the output folder" in capsys.readouterr().out


def test_help_describes_the_self_test(capsys):
    assert main(["--self-test", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: ran-desktop --self-test" in out and "self-test.log" in out


def test_a_bad_command_line_exits_2_with_the_usage(capsys):
    assert main(["--self-test", "--self-test-dir"]) == 2
    out = capsys.readouterr().out
    assert "SELF-TEST FAILED: bad command line" in out and "usage: ran-desktop --self-test" in out
