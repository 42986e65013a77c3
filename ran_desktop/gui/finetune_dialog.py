"""Review > Fine-tune on this clinic's images: `ran-finetune` in its own process, with progress, time left and cancel.

The fine-tune runs as a separate process (training/local_bundle.py with --json-progress), so it never competes with
the window for the interpreter, a crash in it cannot take the window down, and Cancel simply ends it (nothing is
half-written: the bundle appears in the data folder's models/ only when complete). The window learns of every step
from the JSON lines the process prints. The new bundle is not used until a person chooses it.
"""

from __future__ import annotations

import html
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QProcessEnvironment, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ran_desktop.engine.model.catalogue import local_models_dir
from ran_desktop.engine.records.database import DATABASE_URL_ENV, Target, is_url
from ran_desktop.engine.records.storage import Storage
from ran_desktop.engine.validation.finetune_policy import MIN_IMAGES, clear_unfinished
from ran_desktop.gui.progress_text import duration_text, seconds_left

_STAGES = {"checking": "Checking the reviewed images", "preparing": "Preparing the images",
           "exporting": "Writing the local model", "comparing": "Comparing it with the model in use"}


def training_available() -> str:
    """'' where this installation can fine-tune; else why not, in words."""
    if getattr(sys, "frozen", False):
        return ("This installation was built without the training tools. Fine-tune with `ran-finetune` from a "
                "Python installation of RAN Screening (pip install 'ran-screening[training]').")
    for module in ("torch", "training", "sklearn"):
        if not _installed(module):
            return ("The training tools are not installed here: pip install 'ran-screening[training]' adds them.")
    return ""


def _installed(module: str) -> bool:
    """Whether `module` can be found, without importing it (torch takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: marked not importable (None in sys.modules)
        return False


def count_reviewed(database: Target) -> int:
    with Storage(database) as storage:
        return storage.count_graded()


class FinetuneDialog(QDialog):
    useRequested = Signal(str)  # the new bundle's folder, when a person chooses to screen with it
    finishedRun = Signal(object)  # the result (dict) or the failure text (str)

    def __init__(self, data_dir: Path, parent_bundle: Path | None, database: Target, parent: QWidget | None = None, *,
                 extra_args: tuple[str, ...] = ()):
        super().__init__(parent)
        self.setObjectName("finetuneDialog")
        self.setWindowTitle("Fine-tune on this clinic's images")
        self.data_dir, self.parent_bundle, self.extra_args = data_dir, parent_bundle, extra_args
        self.outcome_data: dict[str, Any] | None = None
        self.process: QProcess | None = None
        self._buffer = b""
        self._training_started: float | None = None  # the time-left estimate counts from the first batch
        self.database = database
        self.reviewed = count_reviewed(database)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.stage = QLabel("")
        self.stage.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.outcome = QLabel("")
        self.outcome.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel the fine-tune")
        self.use_button = QPushButton("Use the new model")
        for button in (self.start_button, self.cancel_button, self.use_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button.setEnabled(False)
        self.use_button.setVisible(False)
        buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(self._use)
        layout = QVBoxLayout(self)
        for widget in (self.intro, self.stage, self.progress, self.outcome):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(buttons)
        lines, chars = self.fontMetrics().height(), self.fontMetrics().averageCharWidth()
        self.resize(chars * 110, lines * 24)
        self._explain()

    def _explain(self) -> None:
        why_not = training_available()
        if self.parent_bundle is None:
            why_not = why_not or "No model is loaded: the fine-tune starts from the model in use."
        elif self.reviewed < MIN_IMAGES:
            why_not = why_not or (f"{self.reviewed} reviewed, gradable image(s) so far; a fine-tune needs at least "
                                  f"{MIN_IMAGES} (fewer would fit noise and could only make the model worse here). "
                                  f"Review {MIN_IMAGES - self.reviewed} more first.")
        start = f"from {html.escape(self.parent_bundle.name)}" if self.parent_bundle else ""
        self.intro.setText(
            f"Makes a local model {start} with the {self.reviewed} image(s) this clinic's graders reviewed, their "
            "grades as the labels, and compares it with the model in use on reviewed images held out from its "
            "training. It runs on this computer (tens of minutes); nothing leaves it. The model in use does not "
            "change unless you choose the new one." + (f"<br><br><b>{html.escape(why_not)}</b>" if why_not else ""))
        self.start_button.setEnabled(not why_not)

    # --- the process --------------------------------------------------------------------------------------------

    def arguments(self) -> list[str]:
        assert self.parent_bundle is not None
        return ["-m", "training.local_bundle", "--data-dir", str(self.data_dir), "--parent", str(self.parent_bundle),
                "--json-progress", *self.extra_args]

    def start(self) -> None:
        if self.process is not None or self.parent_bundle is None:
            return
        process = QProcess(self)
        process.setProgram(sys.executable)
        process.setArguments(self.arguments())
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        if is_url(self.database):  # the shared server this window uses, whichever way it was chosen
            environment = QProcessEnvironment.systemEnvironment()
            environment.insert(DATABASE_URL_ENV, str(self.database))
            process.setProcessEnvironment(environment)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        self.process = process
        self._training_started = None
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.outcome.setText("")
        self.stage.setText("Starting…")
        process.start()

    def cancel(self) -> None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.stage.setText("Cancelling… nothing is kept of an unfinished fine-tune")
            self.process.terminate()
            QTimer.singleShot(3000, self._kill)

    def _kill(self) -> None:
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()

    def _read(self) -> None:
        assert self.process is not None
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.show_event(event)

    def show_event(self, event: dict[str, Any]) -> None:
        stage = event.get("stage", "")
        if stage == "training":
            epoch, epochs, batch, batches = event["epoch"], event["epochs"], event["batch"], event["batches"]
            done, total = (epoch - 1) * batches + batch, epochs * batches
            self.progress.setValue(int(1000 * done / max(total, 1)))
            if self._training_started is None:
                self._training_started = time.monotonic()
            left = seconds_left(done, total, time.monotonic() - self._training_started)
            self.stage.setText(f"Training: epoch {epoch} of {epochs}, batch {batch} of {batches}"
                               + ("" if left is None else ", a few seconds left" if left < 5
                                  else f", about {duration_text(left)} left"))
        elif stage == "done":
            self.outcome_data = event["result"]
        elif stage == "failed":
            self.outcome.setText(f"<b>{html.escape(event.get('text', 'The fine-tune failed.'))}</b>")
        elif stage in _STAGES:
            self.stage.setText(_STAGES[stage] + "…")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        assert self.process is not None
        errors = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        self._read()
        self.process = None
        self.cancel_button.setEnabled(False)
        if self.outcome_data is not None:
            self.progress.setValue(1000)
            self.stage.setText("Done.")
            self._show_result(self.outcome_data)
            self.finishedRun.emit(self.outcome_data)
            return
        self.start_button.setEnabled(True)
        # Stopped, failed or killed before it could tidy up: what it left (decoded photographs, file names, a
        # half-written bundle) goes now.
        clear_unfinished(self.data_dir, local_models_dir(self.data_dir))
        if status == QProcess.ExitStatus.CrashExit or code != 0 and not self.outcome.text():
            last = errors.strip().splitlines()[-1:] or ["the process ended early"]
            self.outcome.setText(f"<b>The fine-tune did not finish:</b> {html.escape(last[0])}")
        self.stage.setText("Stopped.")
        self.finishedRun.emit(self.outcome.text())

    def _show_result(self, result: dict[str, Any]) -> None:
        held = result["held_out"]

        def figures(who: str) -> str:
            r = held[who].get("referable", {})
            return ", ".join(f"{k} {r[k]:.2f}" for k in ("sensitivity", "specificity", "auc")
                             if isinstance(r.get(k), float) and r[k] == r[k])

        counts = result["clinic_images"]
        text = (f"<b>{html.escape(result['title'])}</b> is in {html.escape(result['bundle'])}.<br>"
                f"On the {counts.get('test', 0)} held-out reviewed images: the model in use {figures('parent')}; "
                f"the new one {figures('local')}.")
        if result["worse_than_parent"]:
            text += ("<br><b style='color:#a00000'>It is worse than the model in use there (fewer referable eyes "
                     "found, ranked worse, or no more found with more healthy eyes sent on): it is not offered as "
                     "the model to use.</b>")
        else:
            self.use_button.setVisible(True)
        self.outcome.setText(text)

    def _use(self) -> None:
        if self.outcome_data is not None and not self.outcome_data["worse_than_parent"]:
            self.useRequested.emit(self.outcome_data["bundle"])
            self.accept()

    def reject(self) -> None:
        self.cancel()
        super().reject()
