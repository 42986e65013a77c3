"""The app and the CLI, each run once in its own process the way a clinic runs them, with everything recorded.

Each run screens the same inputs: a DICOM photograph carrying known patient identifiers (its file name carries the
patient's name too, as real exports often do), a cut-off copy of it, a photograph no one may read (mode 000, and
root's power to read anyway removed), and a plain good photograph. The run happens under a Python audit hook
(audited.py), under strace where it exists, in an environment whose home, caches and temporary folder are scratch
folders, and its stdout, stderr, log files and audit events are kept for the tests to search.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from corpus import fundus
from dicom_factory import write_dicom
from sandbox import (
    HERE,
    PYTHON,
    ROOT,
    clean_env,
    files_containing,
    locked_copy,
    network_syscalls,
    strace_available,
    strace_prefix,
)

PATIENT_NAME = "Privacy^Patricia"
PATIENT_ID = "PID-7734-XQ"
BIRTH_DATE = "19470823"
FILE_STEM = "Privacy_Patricia"  # the patient's name in the file name
# what must never appear in a log: the identifiers in every form the app may write them
IDENTIFIERS = [PATIENT_NAME, "Privacy, Patricia", "Patricia Privacy", PATIENT_ID, BIRTH_DATE, "1947-08-23"]
EVERYTHING = [*IDENTIFIERS, FILE_STEM]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    scratch: Path  # its working folder, holding its home, caches and temporary folder
    events: list[dict[str, str]]
    inet_syscalls: list[str] | None  # None where strace is not available
    unreadable_checked: bool  # False where the locked file could not be made unreadable (it is then left out)
    inputs: dict[str, Path]
    extra: dict[str, Path] = field(default_factory=dict)

    def json(self, name: str) -> dict:
        return json.loads(self.extra[name].read_text(encoding="utf-8"))

    def written_elsewhere(self, needles: list[str]) -> dict[str, list[str]]:
        """Files holding a needle anywhere but the inputs, the data folder, the exports and the test's records."""
        return files_containing(self.scratch, needles, skip=_EXPECTED_PLACES)


_EXPECTED_PLACES = {"photos", "user-data", "exports", "harness"}


def make_inputs(folder: Path, good_photo: Path, unreadable: bool) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rgb = fundus()
    identified = write_dicom(folder / f"{FILE_STEM}_OD.dcm", rgb, patient_name=PATIENT_NAME,
                             patient_id=PATIENT_ID, birth_date=BIRTH_DATE)
    cut = folder / f"{FILE_STEM}_OS.dcm"
    cut.write_bytes(identified.read_bytes()[: identified.stat().st_size // 2])
    inputs = {"identified": identified, "cut": cut, "good": Path(shutil.copy(good_photo, folder / "good_OD.jpg"))}
    if unreadable:
        inputs["locked"] = locked_copy(good_photo, folder / "locked_OS.jpg")
    return inputs


def run_traced(command: list[str], scratch: Path, env: dict[str, str], timeout: int,
               prefix: list[str]) -> tuple[subprocess.CompletedProcess, list[dict[str, str]], list[str] | None]:
    """`command` (a python script and its arguments) under audited.py, the given prefix and strace if available."""
    (scratch / "harness").mkdir(exist_ok=True)
    events_file = scratch / "harness" / "audit-events.json"
    trace_file = scratch / "harness" / "strace.txt"
    traced = strace_prefix(str(trace_file)) if strace_available() else []
    done = subprocess.run([*traced, *prefix, PYTHON, str(HERE / "audited.py"), str(events_file), *command],
                          cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
    events = json.loads(events_file.read_text(encoding="utf-8")) if events_file.exists() else []
    return done, events, network_syscalls(trace_file) if traced else None


def run_app(scratch: Path, models: Path, good_photo: Path, prefix: list[str] | None) -> Run:
    """The desktop app: drop the inputs, review one image, export the session, then hit an unforeseen error."""
    inputs = make_inputs(scratch / "photos", good_photo, unreadable=prefix is not None)
    data = scratch / "user-data"
    result = scratch / "harness" / "app-result.json"
    result.parent.mkdir(exist_ok=True)
    export = scratch / "exports" / "session.csv"
    export.parent.mkdir(parents=True)
    env = clean_env(scratch, RAN_DATA_DIR=str(data), RAN_MODELS_DIR=str(models), RAN_DRIVER_EXPORT=str(export),
                    RAN_DRIVER_FAULT=f"bug while showing {PATIENT_NAME} ({PATIENT_ID}, born {BIRTH_DATE}) from "
                                     f"{inputs['identified']}")
    done, events, inet = run_traced([str(HERE / "app_driver.py"), str(result), *map(str, inputs.values())],
                                    scratch, env, 240, prefix or [])
    return Run(done.returncode, done.stdout, done.stderr, scratch, events, inet, prefix is not None,
               inputs, {"result": result, "data": data, "export": export})


def run_cli(scratch: Path, bundle: Path, good_photo: Path, prefix: list[str] | None, report: bool) -> Run:
    """`ran-screen` with results, Grad-CAM overlays and (where the CLI has it) PDF reports."""
    inputs = make_inputs(scratch / "photos", good_photo, unreadable=prefix is not None)
    out = scratch / "exports" / "results.csv"
    out.parent.mkdir(parents=True)
    args = [*map(str, inputs.values()), "--out", str(out), "--model", str(bundle), "--device", "cpu",
            "--heatmaps", str(scratch / "exports" / "heatmaps")]
    if report:
        args += ["--report", str(scratch / "exports" / "reports")]
    done, events, inet = run_traced(["-m", "ran_desktop.cli.screen", *args], scratch, clean_env(scratch), 240,
                                    prefix or [])
    return Run(done.returncode, done.stdout, done.stderr, scratch, events, inet, prefix is not None,
               inputs, {"out": out, "exports": out.parent})


def cli_has_reports() -> bool:
    from ran_desktop.cli.screen import build_parser

    return "--report" in build_parser().format_help()


__all__ = ["EVERYTHING", "IDENTIFIERS", "ROOT", "Run", "cli_has_reports", "run_app", "run_cli"]
