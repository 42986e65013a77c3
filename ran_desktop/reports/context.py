"""What a report says besides the patient's data: who made it, where, when, with which software and model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ran_desktop import __version__
from ran_desktop.engine.imaging.views import HEAT_OPACITY
from ran_desktop.engine.records.results import ModelInfo, model_info

if TYPE_CHECKING:
    from ran_desktop.engine.model.bundle import LoadedModel


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class ReportContext:
    """Settings and provenance shared by every report of one export.

    `model` is the model loaded now; every report also names the model that produced each of its grades, which
    may be an older one for a session screened before. `heatmap_model` draws the Grad-CAM overlays: it is only used
    for images that model graded, so a map never explains another model's grade; None leaves the overlays out.
    """

    clinic_name: str = ""
    clinic_logo: Path | None = None
    grader: str = ""  # who exports and signs the reports
    generated_at: datetime = field(default_factory=local_now)
    app_version: str = __version__
    model: ModelInfo | None = None
    heatmap_model: LoadedModel | None = field(default=None, compare=False, repr=False)
    heat_opacity: float = HEAT_OPACITY

    def __post_init__(self) -> None:
        if self.generated_at.tzinfo is None:
            # A timestamp without its offset is ambiguous in a record that outlives daylight-saving changes.
            object.__setattr__(self, "generated_at", self.generated_at.astimezone())
        if self.clinic_logo is not None and not isinstance(self.clinic_logo, Path):
            object.__setattr__(self, "clinic_logo", Path(self.clinic_logo))
        if not 0.0 <= self.heat_opacity <= 1.0:
            raise ValueError(f"heat_opacity must be in [0, 1], got {self.heat_opacity}")

    @classmethod
    def for_model(cls, loaded: LoadedModel | None, **values: object) -> ReportContext:
        """A context whose model information and heat maps come from `loaded`."""
        # **values: the dataclass's own fields by name (clinic_name, grader, ...); it checks them itself.
        if loaded is None:
            return cls(**values)  # type: ignore[arg-type]  # typed fields given as keywords: checked at run time
        return cls(model=model_info(loaded), heatmap_model=loaded, **values)  # type: ignore[arg-type]  # as above

    @property
    def timestamp(self) -> str:
        """The generation time as printed: local time with its UTC offset."""
        stamp = self.generated_at.strftime("%Y-%m-%d %H:%M")
        offset = self.generated_at.strftime("%z")
        return f"{stamp} (UTC{offset[:3]}:{offset[3:]})" if offset else stamp
