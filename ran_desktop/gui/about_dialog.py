"""About: versions of the app and what it runs on, and the model card of the loaded model."""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

import ran_desktop

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel

MODEL_CARD_NAME = "MODEL_CARD.md"


def _installed(name: str) -> str:
    try:
        return version(name)  # reads metadata only: asking torch's version must not import torch
    except PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    return [
        ("RAN Screening", ran_desktop.__version__),
        ("Python", f"{platform.python_version()} ({sys.platform})"),
        ("Qt", qVersion()),
        ("PySide6", pyside_version),
        ("PyTorch", _installed("torch")),
        ("NumPy", _installed("numpy")),
        ("OpenCV", _installed("opencv-python-headless")),
        ("pydicom", _installed("pydicom")),
    ]


def model_card_markdown(loaded: LoadedModel | None, error: str = "") -> str:
    if loaded is None:
        return f"**No model loaded.** {error}" if error else "The model is still loading."
    m = loaded.manifest
    parts = [f"# {m.title}"]
    if m.clinical_warning:
        parts.append(f"> **{m.clinical_warning}**")
    parts += [
        f"**Trained:** {'yes' if m.trained else 'no'}  ",
        f"**Training data:** {m.training_data['description']}  ",
        *(f"**Data credit:** {credit}  " for credit in m.credits),
        (f"**Referable when:** the probability of referable disease is at least {m.referable_threshold * 100:.0f} % "
         f"(chosen on {m.operating_point.get('chosen_on', 'validation data')})  " if m.referable_threshold is not None
         else "**Referable when:** the most probable grades say so (no operating point in this bundle)  "),
        f"**Intended use:** {m.intended_use}  ",
        f"**Input size:** {m.input_size} px  ",
        f"**Device:** {loaded.device_text}  ",
        f"**Folder:** `{loaded.folder}`  ",
        f"**Weights sha256:** `{m.weights['sha256']}`",
    ]
    if loaded.trust_warning:
        parts.insert(1, f"> **{loaded.trust_warning}**")
    card = loaded.folder / MODEL_CARD_NAME
    if card.is_file():
        try:
            parts.append(card.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            parts.append(f"*{MODEL_CARD_NAME} cannot be read: {exc}*")
    parts.append("## Manifest\n\n```json\n" + json.dumps(m.to_dict(), indent=2, ensure_ascii=False) + "\n```")
    return "\n\n".join(parts)


class AboutDialog(QDialog):
    def __init__(self, loaded: LoadedModel | None, model_error: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About RAN Screening")
        intro = QLabel(
            "<h2>RAN Screening</h2><p>Diabetic retinopathy screening from colour fundus photographs with the "
            "Residual Attention Network. Everything runs on this computer; nothing is sent anywhere.</p>"
            "<p>Open source under the Apache License 2.0.</p>"
        )
        intro.setWordWrap(True)
        self.versions = QTextBrowser()
        self.versions.setMarkdown("\n".join(f"- **{name}**: {value}" for name, value in versions()))
        self.model_card = QTextBrowser()
        self.model_card.setObjectName("modelCard")
        self.model_card.setOpenExternalLinks(False)
        self.model_card.setMarkdown(model_card_markdown(loaded, model_error))
        tabs = QTabWidget()
        tabs.addTab(self.model_card, "Model card")
        tabs.addTab(self.versions, "Versions")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(tabs, 1)
        layout.addWidget(buttons)
        fm = self.fontMetrics()
        self.resize(fm.averageCharWidth() * 90, fm.height() * 34)
