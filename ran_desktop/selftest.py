"""`ran-desktop --self-test`: prove an installation works without opening a window.

Checks the DICOM decoders, loads the bundled model (the one the app would pick), screens the bundled sample
photograph, writes its PDF report and a batch summary into a fresh temporary folder, prints each step and exits 0;
any failure exits 1 with the step and the reason. Everything printed also goes to `self-test.log` in that folder: a
windowed build on Windows has no console to print to (it attaches to the console it was started from, if any).

Used by clinic IT after installing, and by the installer's build check on the frozen program. It touches neither
the session database nor the settings; the model is chosen by RAN_MODELS_DIR and the device by RAN_DEVICE, as in
the app.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

from ran_desktop import __version__
from ran_desktop.paths import install_root, models_dir, resources_dir

LOG_NAME = "self-test.log"
REPORTS_FOLDER = "reports"
PASSED = "SELF-TEST PASSED"
FAILED = "SELF-TEST FAILED"
MIN_PDF_BYTES = 1000  # a report with a header, a table and a picture is tens of kilobytes; less is a broken file

USAGE = """usage: ran-desktop --self-test [--self-test-dir DIR]

Checks the DICOM decoders, loads the bundled model, screens the bundled sample photograph, writes a PDF report
into a new temporary folder (or DIR) and exits 0; exits 1 with the reason when any step fails, 2 for a bad
command line. No window is opened. The output is also written to self-test.log in that folder.
Environment: RAN_MODELS_DIR (models folder), RAN_DEVICE (auto, cpu, cuda).
"""


def _dicom_syntaxes() -> tuple[Any, ...]:
    from pydicom import uid

    return (uid.JPEGBaseline8Bit, uid.JPEGLosslessSV1, uid.JPEGLSLossless, uid.JPEG2000Lossless, uid.RLELossless)


class SelfTestFailure(Exception):
    """A step failed for a reason that is already stated in plain words."""


class Log:
    """Writes every line to the console (when there is one) and to the log file, flushing as it goes."""

    def __init__(self, console: TextIO | None):
        self.console = console
        self.file: IO[str] | None = None

    def open(self, path: Path) -> None:
        self.file = open(path, "w", encoding="utf-8")

    def __call__(self, line: str = "", *, file_only: bool = False) -> None:
        if self.console is not None and not file_only:
            try:
                print(line, file=self.console, flush=True)
            except (OSError, ValueError, UnicodeEncodeError):
                # A console that cannot take the text (closed, or a code page without a character): the file has it.
                pass
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def console_stream() -> TextIO | None:
    """sys.stdout, or on a windowed Windows build (no stdout) the console of the shell that started it, if any."""
    if sys.stdout is not None:
        return sys.stdout
    if os.name == "nt":
        try:
            import ctypes

            attach_parent_process = -1
            if ctypes.windll.kernel32.AttachConsole(attach_parent_process):  # type: ignore[attr-defined]  # Windows only
                return open("CONOUT$", "w", encoding="utf-8", errors="replace")
        except (OSError, AttributeError):
            return None
    return None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ran-desktop", add_help=False)
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--self-test-dir", type=Path)
    known, _ = parser.parse_known_args(list(argv))
    return known


def _output_folder(chosen: Path | None) -> Path:
    if chosen is None:
        return Path(tempfile.mkdtemp(prefix="ran-screening-self-test-"))
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the self-test; 0 when every step passed, 1 when one failed, 2 for a bad command line."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    log = Log(console_stream())
    if "-h" in args_list or "--help" in args_list:
        log(USAGE)
        return 0
    try:
        args = parse_args(args_list)
    except SystemExit:  # argparse's own message went to stderr (absent on a windowed build)
        log(f"{FAILED}: bad command line {' '.join(args_list)!r}\n{USAGE}")
        return 2
    try:
        folder = _output_folder(args.self_test_dir)
        log.open(folder / LOG_NAME)
    except OSError as exc:
        log(f"{FAILED}: cannot create the output folder ({exc})")
        return 1
    try:
        return run_self_test(folder, log)
    finally:
        log.close()


def run_self_test(folder: Path, log: Callable[..., None]) -> int:
    """The steps, each timed; the first failure stops the test and is reported with its reason."""
    log(f"RAN Screening {__version__} self-test")
    log(f"Output folder: {folder}")
    log(f"Log file: {folder / LOG_NAME}")
    state: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[dict[str, Any], Callable[..., None]], str]]] = [
        ("environment", _step_environment),
        ("Qt binding", _step_qt_binding),
        ("DICOM decoders", _step_dicom_decoders),
        ("load model", _step_load_model),
        ("find sample", _step_find_sample),
        ("screen sample", _step_screen),
        ("write report", _step_report),
        ("audit trail", _step_audit_trail),
    ]
    state["folder"] = folder
    total = len(steps)
    started_all = time.perf_counter()
    for number, (name, step) in enumerate(steps, start=1):
        started = time.perf_counter()
        try:
            summary = step(state, log)
        except SelfTestFailure as exc:
            log(f"[{number}/{total}] {name}: FAILED")
            log(f"{FAILED} at step {number} ({name}): {exc}")
            log(f"Details: {folder / LOG_NAME}")
            return 1
        except Exception as exc:  # an unforeseen error is a failed test too, with the traceback in the log file
            log(f"[{number}/{total}] {name}: FAILED")
            log(f"{FAILED} at step {number} ({name}): unexpected {type(exc).__name__}: {exc}")
            log(traceback.format_exc(), file_only=True)
            log(f"Details: {folder / LOG_NAME}")
            return 1
        log(f"[{number}/{total}] {name}: ok ({time.perf_counter() - started:.1f} s) {summary}")
    log(f"{PASSED} in {time.perf_counter() - started_all:.1f} s")
    log(f"Report: {state['report']}")
    log(f"Batch summary: {state['summary']}")
    log(f"Log file: {folder / LOG_NAME}")
    return 0


def _step_environment(state: dict[str, Any], log: Callable[..., None]) -> str:
    frozen = bool(getattr(sys, "frozen", False))
    log(f"    program: {'installed build' if frozen else 'Python source'} at {install_root()}")
    log(f"    Python {platform.python_version()} on {platform.platform()}")
    started = time.perf_counter()
    try:  # the slowest import, timed on its own: a clinic PC with a slow disk shows it here
        torch = importlib.import_module("torch")
    except ImportError:  # the CPU build: the model runs as its ONNX graph
        import onnxruntime

        log(f"    no PyTorch (the CPU build): ONNX Runtime {onnxruntime.__version__}")
        return "installation found"
    cuda = torch.version.cuda
    log(f"    torch {torch.__version__} ({'CUDA ' + cuda + ' build' if cuda else 'CPU build'}), "
        f"imported in {time.perf_counter() - started:.1f} s")
    return "installation found"


def _step_qt_binding(state: dict[str, Any], log: Callable[..., None]) -> str:
    """A binding that loses references to None crashes the window mid-session (gui/binding_check.py)."""
    import PySide6

    from ran_desktop.gui.binding_check import binding_problem

    if problem := binding_problem():
        raise SelfTestFailure(problem.replace("\n\n", " "))
    return f"PySide6 {PySide6.__version__} keeps its reference counts"


def _step_dicom_decoders(state: dict[str, Any], log: Callable[..., None]) -> str:
    """Compressed DICOM needs decoder plug-ins that are found at run time; a build that lost them reads no DICOM."""
    from pydicom.pixels import get_decoder

    missing = []
    syntaxes = _dicom_syntaxes()
    for syntax in syntaxes:
        decoder = get_decoder(syntax)
        if decoder.is_available:
            log(f"    {syntax.name}: {', '.join(decoder.available_plugins) or 'built in'}")
        else:
            missing.append(syntax.name)
    if missing:
        raise SelfTestFailure(f"no decoder for DICOM {'; '.join(missing)}: the installation is incomplete")
    return f"{len(syntaxes)} compressed transfer syntaxes readable"


def _step_load_model(state: dict[str, Any], log: Callable[..., None]) -> str:
    from ran_desktop.engine.errors import BundleError
    from ran_desktop.engine.model.bundle import choose_bundle, load_bundle
    from ran_desktop.paths import installed_models_dir

    folder = models_dir()
    try:
        chosen = choose_bundle(folder, also_known=[installed_models_dir()])
    except BundleError as exc:
        raise SelfTestFailure(f"the model cannot be chosen: {exc}") from exc
    bundles = [chosen] if chosen is not None else []
    if not bundles:
        where = "RAN_MODELS_DIR" if os.environ.get("RAN_MODELS_DIR") else "the installation"
        raise SelfTestFailure(f"no model bundle in {folder} (set by {where}): the model was not installed; "
                              "reinstall the app, or point RAN_MODELS_DIR at a models folder")
    try:
        loaded = load_bundle(bundles[0])
    except BundleError as exc:
        raise SelfTestFailure(f"the model in {bundles[0]} cannot be loaded: {exc.reason}") from exc
    except ValueError as exc:  # an unknown device name in RAN_DEVICE
        raise SelfTestFailure(f"RAN_DEVICE is not usable: {exc}") from exc
    state["loaded"] = loaded
    manifest = loaded.manifest
    log(f"    bundle: {bundles[0]} (weights sha256 {manifest.weights['sha256'][:16]})")
    if loaded.trust_warning:
        log(f"    WARNING: {loaded.trust_warning}")
    log(f"    model: {manifest.name} {manifest.version} ({'trained' if manifest.trained else 'UNTRAINED'}), "
        f"{manifest.architecture['variant']}, {manifest.input_size} px input")
    log(f"    device: {loaded.device_text}")
    if loaded.device.note:
        log(f"    note: {loaded.device.note}")
    if manifest.clinical_warning:
        log(f"    warning: {manifest.clinical_warning}")
    return f"{manifest.name} on {loaded.device_text}"


def _step_find_sample(state: dict[str, Any], log: Callable[..., None]) -> str:
    from ran_desktop.paths import sample_images

    folder = resources_dir() / "samples"
    try:
        samples = sample_images()
    except OSError as exc:
        raise SelfTestFailure(f"the sample folder {folder} cannot be read ({exc}): the installation is incomplete") \
            from exc
    if not samples:
        raise SelfTestFailure(f"no sample photograph in {folder}: the installation is incomplete")
    state["samples"] = samples
    for sample in samples:
        log(f"    sample: {sample} ({sample.stat().st_size // 1024} KB)")
    return f"{len(samples)} photograph(s)"


def _step_screen(state: dict[str, Any], log: Callable[..., None]) -> str:
    from ran_desktop.engine.records.results import Status
    from ran_desktop.engine.screening.screener import Screener, ScreeningOptions

    screener = Screener(state["loaded"], ScreeningOptions(batch_size=1, workers=1, lookahead=2))
    results = list(screener.screen(state["samples"]))
    if not results:
        raise SelfTestFailure("screening returned no result for the sample")
    for result in results:
        name = result.path.name
        if result.status is Status.ERROR:
            raise SelfTestFailure(f"{name} could not be screened: {result.error}")
        if result.status is not Status.SCREENED:
            reasons = "; ".join(result.quality.reasons) if result.quality else "no reason given"
            raise SelfTestFailure(f"the quality check judged the bundled sample {name} ungradable ({reasons}), "
                                  "so the model did not run on it")
        for head, probs in (("DR", result.dr_probs), ("DME", result.dme_probs)):
            if probs is None or not all(math.isfinite(p) for p in probs) or abs(sum(probs) - 1.0) > 1e-3:
                raise SelfTestFailure(f"the model's {head} probabilities for {name} are not valid: {probs}")
        decision = result.decision
        timings = ", ".join(f"{k} {v:.0f} ms" for k, v in result.timings_ms.items())
        log(f"    {name}: {result.status.value}, DR grade {result.dr_grade} ({decision.dr_name if decision else '-'}),"
            f" DME grade {result.dme_grade}, confidence {result.confidence:.2f}; {timings}")
    state["results"] = results
    caveat = "" if state["loaded"].manifest.trained else " (untrained weights: grades are meaningless)"
    return f"{len(results)} image(s) graded{caveat}"


def _step_report(state: dict[str, Any], log: Callable[..., None]) -> str:
    from ran_desktop.engine.records.patient_groups import group_by_patient
    from ran_desktop.engine.records.review import ImageRecord
    from ran_desktop.reports import ReportContext, ReportError, export_batch_summary, export_patient_reports

    records = [ImageRecord(image_id=i, result=r) for i, r in enumerate(state["results"], start=1)]
    groups = group_by_patient(records)
    context = ReportContext.for_model(state["loaded"], clinic_name="Self-test", grader="RAN Screening self-test")
    target = state["folder"] / REPORTS_FOLDER
    try:
        written = export_patient_reports(groups, target, context)
        summary = export_batch_summary(groups, target, context)
    except ReportError as exc:
        raise SelfTestFailure(f"the report could not be written: {exc}") from exc
    if len(written) != len(groups):
        raise SelfTestFailure(f"{len(groups)} patient report(s) expected, {len(written)} written")
    for item in [*written, summary]:
        _check_pdf(item.path)
        log(f"    wrote {item.path} ({item.path.stat().st_size // 1024} KB)")
        for note in item.notes:
            log(f"    note: {note}")
    state["report"] = written[0].path
    state["summary"] = summary.path
    return f"{len(written)} patient report(s) and a batch summary"


def _step_audit_trail(state: dict[str, Any], log: Callable[..., None]) -> str:
    """The user's session database, read only: its audit trail's hash chain must hold (engine/audit_chain.py)."""
    from sqlalchemy import func, inspect, select

    from ran_desktop.engine.records import audit_chain, connect, database
    from ran_desktop.engine.records.data_folder import default_data_dir
    from ran_desktop.engine.records.tables import audit

    target = database.resolve(default_data_dir())
    where = database.describe(target)
    if not database.is_url(target) and not Path(target).is_file():
        return f"no session database yet ({where})"
    engine = connect.create(target, read_only=True)
    try:
        with engine.connect() as db:
            if not inspect(db).has_table("audit"):
                return f"no session database yet ({where})"
            if "entry_hash" not in {c["name"] for c in inspect(db).get_columns("audit")}:
                return f"{where}: made by an earlier version; its trail is chained when the app next opens it"
            problems = audit_chain.verify(db)
            entries = db.execute(select(func.count()).select_from(audit)).scalar_one()
    finally:
        engine.dispose()
    if problems:
        raise SelfTestFailure(f"the audit trail of {where} was altered outside the app: " + "; ".join(problems))
    return f"{entries} audit entries chained and matching the decisions ({where})"


def _check_pdf(path: Path) -> None:
    if not path.is_file():
        raise SelfTestFailure(f"the report {path} was not written")
    data = path.read_bytes()
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-64:] or len(data) < MIN_PDF_BYTES:
        raise SelfTestFailure(f"the report {path} is not a complete PDF ({len(data)} bytes)")
