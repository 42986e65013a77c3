"""The user's settings, in `settings.ini` next to the session database, so one data folder holds everything."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ran_desktop.engine.imaging.views import HEAT_OPACITY
from ran_desktop.engine.records.patient_names import DEFAULT_PATTERNS
from ran_desktop.engine.records.review import OPEN, REVIEW_MODES
from ran_desktop.engine.records.second_grading import REFERABLE_RULE, QAPolicy

DEVICES = ("auto", "cpu", "cuda")


def _settings_key(name: str) -> str:
    """A grader's name as one settings key (any name, including none, '/' or non-ASCII, maps to a distinct key)."""
    return "grader-" + name.strip().encode("utf-8").hex() if name.strip() else "no-grader"


class AppSettings:
    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / "settings.ini"
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _text(self, key: str, default: str = "") -> str:
        value = self._qs.value(key, default)
        return str(value) if value is not None else default

    def _set(self, key: str, value: object) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()  # written at once: a crash must not forget who the grader is

    @property
    def grader_name(self) -> str:
        return self._text("review/grader_name").strip()

    @grader_name.setter
    def grader_name(self, value: str) -> None:
        self._set("review/grader_name", value.strip())

    @property
    def device(self) -> str:
        value = self._text("model/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        if value not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {value!r}")
        self._set("model/device", value)

    @property
    def device_request(self) -> str | None:
        """What to ask the engine for: None lets RAN_DEVICE or the automatic choice decide."""
        return None if self.device == "auto" else self.device

    @property
    def clinic_name(self) -> str:
        return self._text("reports/clinic_name")

    @clinic_name.setter
    def clinic_name(self, value: str) -> None:
        self._set("reports/clinic_name", value.strip())

    @property
    def second_grading(self) -> QAPolicy:
        """The clinic's second-grading policy (second_grading.py): off until a clinic lead turns it on."""
        try:
            return QAPolicy(self._text("qa/enabled") == "true", float(self._text("qa/share", "0.10")),
                            self._text("qa/rule", REFERABLE_RULE))
        except ValueError:
            return QAPolicy()  # a hand-edited setting that makes no sense: off, rather than a crash at start

    @second_grading.setter
    def second_grading(self, policy: QAPolicy) -> None:
        self._set("qa/enabled", "true" if policy.enabled else "false")
        self._set("qa/share", f"{policy.sample_share:.4f}")
        self._set("qa/rule", policy.rule)

    @property
    def database_url(self) -> str:
        """A PostgreSQL server shared by several workstations; "" for this computer's own database file."""
        return self._text("database/url")

    @database_url.setter
    def database_url(self, value: str) -> None:
        self._set("database/url", value.strip())

    @property
    def clinic_logo(self) -> str:
        return self._text("reports/clinic_logo")

    @clinic_logo.setter
    def clinic_logo(self, value: str) -> None:
        self._set("reports/clinic_logo", value.strip())

    @property
    def export_folder(self) -> str:
        return self._text("export/folder")

    @export_folder.setter
    def export_folder(self, value: str) -> None:
        self._set("export/folder", value.strip())

    @property
    def file_name_patterns(self) -> tuple[str, ...]:
        """Patterns that group a patient's unnamed photographs by file name (engine.patient_names); () for none."""
        text = self._qs.value("patients/file_name_patterns")
        if text is None:
            return DEFAULT_PATTERNS
        return tuple(line.strip() for line in str(text).splitlines() if line.strip())

    @file_name_patterns.setter
    def file_name_patterns(self, patterns: Sequence[str]) -> None:
        self._set("patients/file_name_patterns", "\n".join(p.strip() for p in patterns if p.strip()))

    @property
    def review_mode(self) -> str:
        """The clinic's review mode (engine.records.review.REVIEW_MODES): "open" unless set to "blind" first."""
        value = self._text("review/mode", OPEN)
        return value if value in REVIEW_MODES else OPEN

    @review_mode.setter
    def review_mode(self, value: str) -> None:
        if value not in REVIEW_MODES:
            raise ValueError(f"review mode must be one of {REVIEW_MODES}, not {value!r}")
        self._set("review/mode", value)

    @property
    def list_filters(self) -> dict[str, object]:
        """The worklist's filters as the grader left them."""
        try:
            value = json.loads(self._text("list/filters", "{}"))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @list_filters.setter
    def list_filters(self, state: dict[str, object]) -> None:
        self._set("list/filters", json.dumps(state))

    def last_session(self, grader: str) -> int | None:
        """The session `grader` last worked in on this data folder: where the app reopens for them, rather than the
        newest session, which another window or workstation may have started."""
        value = self._text(f"sessions/{_settings_key(grader)}")
        return int(value) if value.isdigit() else None

    def remember_session(self, grader: str, session_id: int) -> None:
        self._set(f"sessions/{_settings_key(grader)}", str(session_id))

    @property
    def list_current(self) -> str:
        """The image selected when the app was closed ('' for none)."""
        return self._text("list/current")

    @list_current.setter
    def list_current(self, key: str) -> None:
        self._set("list/current", key)

    @property
    def open_folder(self) -> str:
        """The folder photographs were last opened from ('' until the first File > Open)."""
        return self._text("open/last_folder")

    @open_folder.setter
    def open_folder(self, value: str) -> None:
        self._set("open/last_folder", value.strip())

    @property
    def model_bundle(self) -> str:
        """The bundle folder a person chose to screen with; '' for the installation's default."""
        return self._text("model/bundle")

    @model_bundle.setter
    def model_bundle(self, value: str) -> None:
        self._set("model/bundle", value.strip())

    @property
    def report_folder(self) -> str:
        """The folder PDF reports were last written to ('' until the first export)."""
        return self._text("reports/last_folder")

    @report_folder.setter
    def report_folder(self, value: str) -> None:
        self._set("reports/last_folder", value.strip())

    @property
    def report_dicom(self) -> bool:
        """Also write each report as DICOM Encapsulated PDF, for a PACS."""
        return self._text("reports/dicom", "false").lower() == "true"

    @report_dicom.setter
    def report_dicom(self, value: bool) -> None:
        self._set("reports/dicom", "true" if value else "false")

    @property
    def view_mode(self) -> str:
        return self._text("view/mode", "gradcam")

    @view_mode.setter
    def view_mode(self, value: str) -> None:
        self._set("view/mode", value)

    @property
    def heat_opacity(self) -> int:
        try:
            return max(0, min(100, int(self._text("view/heat_opacity", str(round(HEAT_OPACITY * 100))))))
        except ValueError:
            return 45

    @heat_opacity.setter
    def heat_opacity(self, value: int) -> None:
        self._set("view/heat_opacity", int(value))

    def window_state(self, name: str) -> QByteArray | None:
        value = self._qs.value(f"window/{name}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_window_state(self, name: str, value: QByteArray) -> None:
        self._set(f"window/{name}", value)
