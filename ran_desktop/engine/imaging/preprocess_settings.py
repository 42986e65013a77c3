"""Every setting of the preprocessing pipeline, as a bundle's manifest stores it (training and the clinic read the
same values). Imports neither numpy nor OpenCV."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class PreprocessSettings:
    """Every knob of the pipeline. Stored in the model's manifest.json so inference matches training.

    input_size: side of the square model input, in pixels (RAN: 224).
    clahe: apply CLAHE before standardisation (RAN: yes, "to make lesions visible").
    clahe_clip_limit: CLAHE contrast limit (OpenCV `clipLimit`); 2.0, the usual choice for fundus
        photographs, lifts vessels and lesions while capping how much noise flat regions gain.
    clahe_tile_grid: CLAHE tiles per side (OpenCV `tileGridSize`); 8 tiles at 224 px = 28 px tiles,
        about the size of the optic disc.
    fov_threshold: where, between the dark surround's level and the disc's level (0 = surround,
        1 = disc; each the median of its side of Otsu's split of the brightest channel), that channel is
        cut to separate the disc from the surround. 0.15 (about 30 of 255 on the sample) sits well above
        JPEG noise in the surround yet below the darker rim of strongly vignetted photos; a cut halfway
        (Otsu's own) would shave the rim off them and shrink the disc.
    fov_min_contrast: least difference, in grey levels (0-255), between the disc's and the surround's
        typical brightness for a disc to be detected at all. The sample photo has 206; darkened to 3 %
        it still has 6 and is found (so the quality gate can say "too dark"), at 2 % it has 4: that
        faint, a near-black frame's noise could pass for structure.
    fov_margin: margin kept around the disc when cropping, as a fraction of its radius; 0.02 keeps the
        disc's edge off the crop's border without wasting model input on black.
    """

    input_size: int = 224
    clahe: bool = True
    clahe_clip_limit: float = 2.0
    clahe_tile_grid: int = 8
    fov_threshold: float = 0.15
    fov_min_contrast: float = 5.0
    fov_margin: float = 0.02

    def __post_init__(self) -> None:
        if self.input_size < 8:
            raise ValueError(f"input_size must be at least 8, not {self.input_size}")
        if self.clahe_clip_limit <= 0:
            raise ValueError(f"clahe_clip_limit must be positive, not {self.clahe_clip_limit}")
        if self.clahe_tile_grid < 1:
            raise ValueError(f"clahe_tile_grid must be at least 1, not {self.clahe_tile_grid}")
        if not 0.0 < self.fov_threshold < 1.0:
            raise ValueError(f"fov_threshold must lie strictly between 0 and 1, not {self.fov_threshold}")
        if self.fov_min_contrast < 0:
            raise ValueError(f"fov_min_contrast must not be negative, not {self.fov_min_contrast}")
        if not 0.0 <= self.fov_margin <= 1.0:
            raise ValueError(f"fov_margin must lie between 0 and 1, not {self.fov_margin}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessSettings:
        """Build settings from a manifest's dict; missing keys take defaults, unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown preprocessing setting(s): {', '.join(unknown)}")
        defaults = cls()
        values = {}
        for name, value in d.items():
            kind = type(getattr(defaults, name))
            # bool is an int in Python; JSON true must not pass as a size, nor 1 as a switch.
            if kind is bool and not isinstance(value, bool):
                raise ValueError(f"preprocessing setting {name} must be true or false, not {value!r}")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"preprocessing setting {name} must be an integer, not {value!r}")
            if kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"preprocessing setting {name} must be a number, not {value!r}")
                value = float(value)
            values[name] = value
        return cls(**values)


DEFAULT_SETTINGS = PreprocessSettings()
