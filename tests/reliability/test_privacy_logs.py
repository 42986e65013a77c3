"""No patient data in logs or on stderr, and none outside the user's data folder and the files the user exports.

The policy (docs/privacy.md): the app's log holds message templates, numbers and values the code marks Public,
and errors as types and code locations only; images are referred to by database row id. `ran-screen` names the
files it could not read on stderr (the user must know which ones), never what is inside them.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from recorded_runs import EVERYTHING, IDENTIFIERS, PATIENT_ID, PATIENT_NAME
from sandbox import ROOT, files_containing

from ran_desktop.logsafe import WITHHELD, PrivacyFilter, Public


def _logs(data: Path) -> dict[str, str]:
    return {str(p): p.read_text(encoding="utf-8") for p in sorted((data / "logs").glob("*.log*"))}


def test_the_app_log_and_its_output_hold_no_patient_data(app_run):
    assert app_run.code == 0, app_run.stderr
    result = app_run.json("result")
    assert result["crash_dialog"], "the unforeseen error (which quotes the patient) did not reach the crash reporter"
    logs = _logs(app_run.extra["data"])
    text = "\n".join(logs.values())
    # the log did record the run: the batch, and the unforeseen error with its type and where it happened
    files = len(app_run.inputs)
    assert f"batch done: {files} image(s) stored of {files} file(s)" in text
    assert "builtins.RuntimeError (message withheld)" in text and "app_driver.py" in text
    for name, content in {**logs, "stderr": app_run.stderr, "stdout": app_run.stdout}.items():
        leaked = [needle for needle in EVERYTHING if needle in content]
        assert not leaked, f"{name} holds {leaked}"


def test_the_cli_prints_no_patient_identifiers_only_the_names_of_files_it_could_not_read(cli_run):
    assert cli_run.code == 1, cli_run.stderr
    for name, content in {"stderr": cli_run.stderr, "stdout": cli_run.stdout}.items():
        leaked = [needle for needle in IDENTIFIERS if needle in content]
        assert not leaked, f"{name} holds {leaked}"
    assert f"  failed: {cli_run.inputs['cut']}: " in cli_run.stderr  # the policy: the user is told which file


def test_patient_data_is_written_only_to_the_data_folder_and_the_exports(app_run, cli_run):
    for run in (app_run, cli_run):
        assert run.written_elsewhere(EVERYTHING) == {}, "patient data outside the data folder and the exports"
        assert not any((run.scratch / "home" / "torch").iterdir()), "something used torch's hub folder"
    # where it is meant to be, it is found (so the search above can find it)
    assert files_containing(app_run.extra["data"], [PATIENT_ID])
    assert PATIENT_ID in app_run.extra["export"].read_text(encoding="utf-8")
    assert PATIENT_ID in cli_run.extra["out"].read_text(encoding="utf-8")


def test_the_privacy_filter_withholds_data_and_keeps_what_the_code_marks_public(tmp_path):
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.addFilter(PrivacyFilter())
    logger = logging.getLogger("ran_desktop.test_privacy_filter")
    logger.propagate = False
    logger.addHandler(handler)
    photo = "/clinic/Patients/Privacy Patricia/PID-7734-XQ_OD.jpg"
    try:
        logger.warning("could not open %s (%d bytes) with %s", photo, 1234, Public("model ran18 1.0"))
        logger.warning("patient %(name)s", {"name": PATIENT_NAME})
        logger.warning(Path(photo))  # type: ignore[arg-type]  (an object as the message is data too)
        try:
            raise ValueError(f"bad value in {photo} for {PATIENT_NAME}") from KeyError(PATIENT_ID)
        except ValueError:
            logger.exception("decoding failed for %s", photo)
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = path.read_text(encoding="utf-8")
    assert not [n for n in (*EVERYTHING, "Patients", photo) if n in text], text
    assert f"could not open {WITHHELD} (1234 bytes) with model ran18 1.0" in text
    assert f"patient {WITHHELD}" in text
    assert "builtins.ValueError (message withheld)" in text and "builtins.KeyError (message withheld)" in text
    assert "test_privacy_logs.py" in text  # where it happened is kept


def _logging_calls(tree: ast.AST) -> list[ast.Call]:
    methods = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if name in {"log", "logger", "logging", "_log", "LOG"}:
                calls.append(node)
    return calls


def test_every_logging_call_in_the_app_has_a_literal_message_so_data_can_only_be_an_argument():
    """PrivacyFilter withholds arguments; a message built with an f-string or % around data would slip past it."""
    offenders, count = [], 0
    for source in sorted((ROOT / "ran_desktop").rglob("*.py")):
        for call in _logging_calls(ast.parse(source.read_text(encoding="utf-8"))):
            count += 1
            message = call.args[1] if call.func.attr == "log" and len(call.args) > 1 else (call.args or [None])[0]
            if not (isinstance(message, ast.Constant) and isinstance(message.value, str)):
                offenders.append(f"{source.relative_to(ROOT)}:{call.lineno}")
    assert count >= 5, "the scan found no logging calls: it is looking in the wrong place"
    assert offenders == []
