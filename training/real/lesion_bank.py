"""A bank of real lesions cut from expert-masked photographs, and pasting them into other fundus images.

Each connected region of a lesion mask becomes one bank entry: a patch around it (the lesion plus a margin) holding
the lesion's *contrast*, the photograph divided by its lesion-free version (`inpaint.py`), per colour channel, and
its feathered mask. Pasting multiplies the target's pixels by that contrast, so a lesion takes the colour and
brightness of the retina it lands on (a dark fundus gets a darker exudate, as in life) and blends without a seam.
Only the training photographs go into a bank; the testing ones stay unseen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ran_desktop.engine.imaging.preprocess import detect_fov
from training.datasets.idrid_segmentation import LESIONS, CaseImages
from training.real.inpaint import HALO_PX_PER_DD

_MARGIN_DD = 0.05
_MAX_DIAMETER_DD = 1.2  # larger regions are merged groups of lesions, not one lesion: left out
_RATIO_RANGE = (0.2, 3.0)
# Contrast is (photograph + OFFSET) / (lesion-free + OFFSET), in 0..255 units: the offset keeps a dark channel's
# ratio (blue in a fundus) from turning sensor noise into a large factor. Pasting applies the same offset.
OFFSET = 12.0


@dataclass(frozen=True)
class BankLesion:
    kind: str  # one of LESIONS
    contrast: np.ndarray  # float32 (h, w, 3): photograph / lesion-free photograph; 1 where nothing changed
    alpha: np.ndarray  # float32 (h, w): where the contrast applies, feathered, 1 on the lesion
    mask: np.ndarray  # bool (h, w): the lesion's own pixels
    center: tuple[float, float]  # the lesion's centroid within the patch (x, y) px
    radius_px: float  # half the larger side of its bounding box
    dd_px: float  # the source photograph's disc diameter, px, at the bank's scale
    source: str  # the photograph it came from

    @property
    def radius_dd(self) -> float:
        return self.radius_px / self.dd_px


def cut_lesions(images: CaseImages, clean: np.ndarray, dd_px: float) -> list[BankLesion]:
    """Every connected lesion of one photograph, with `clean` its lesion-free version at the same size."""
    orig = images.rgb.astype(np.float32) + OFFSET
    contrast_full = np.clip(orig / (clean.astype(np.float32) + OFFSET), *_RATIO_RANGE)
    h, w = images.rgb.shape[:2]
    # A lesion cut across the aperture's rim would carry the black surround's edge along with it.
    inside = cv2.erode(detect_fov(images.rgb).mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    halo = max(int(round(HALO_PX_PER_DD * dd_px)), 1)
    margin = max(int(round(_MARGIN_DD * dd_px)), 2) + halo
    out = []
    for kind in LESIONS:
        mask = images.masks[kind]
        count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        for i in range(1, count):
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            radius = max(bw, bh) / 2.0
            if 2 * radius / dd_px > _MAX_DIAMETER_DD:
                continue
            x0, y0 = max(x - margin, 0), max(y - margin, 0)
            x1, y1 = min(x + bw + margin, w), min(y + bh + margin, h)
            own = labels[y0:y1, x0:x1] == i
            # The contrast applies on the lesion and a rim in proportion to it (an exudate's glow, a haemorrhage's
            # soft edge), not over the whole filled halo, whose contrast is mostly the fill's own noise.
            rim = max(int(round(0.3 * radius)), 1)
            grown = cv2.dilate(own.astype(np.uint8), cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (2 * rim + 1, 2 * rim + 1))).astype(np.float32)
            alpha = np.maximum(cv2.GaussianBlur(grown, (0, 0), max(rim / 2.0, 0.6)), own.astype(np.float32))
            # Other lesions inside the patch must not travel along: their pixels keep contrast 1.
            contrast = contrast_full[y0:y1, x0:x1].copy()
            others = np.zeros(own.shape, np.uint8)
            for other in LESIONS:
                others |= images.masks[other][y0:y1, x0:x1]
            others[own] = 0
            others = cv2.dilate(others, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * halo + 1, 2 * halo + 1)))
            contrast[others.astype(bool) & ~own] = 1.0
            # Trim the margin to what the rim needs: a smaller patch to scale and store.
            keep = np.argwhere(alpha > 0.01)
            (ty0, tx0), (ty1, tx1) = keep.min(axis=0), keep.max(axis=0) + 1
            ty0, tx0 = max(ty0 - 2, 0), max(tx0 - 2, 0)
            ty1, tx1 = min(ty1 + 2, own.shape[0]), min(tx1 + 2, own.shape[1])
            own, alpha, contrast = own[ty0:ty1, tx0:tx1], alpha[ty0:ty1, tx0:tx1], contrast[ty0:ty1, tx0:tx1]
            x0, y0 = x0 + tx0, y0 + ty0
            if not inside[y0:y0 + own.shape[0], x0:x0 + own.shape[1]].all():
                continue
            cx, cy = centroids[i]
            out.append(BankLesion(kind, contrast, alpha.astype(np.float32), own, (float(cx - x0), float(cy - y0)),
                                  radius, dd_px, images.case.id))
    return out


def paste(target: np.ndarray, lesion: BankLesion, center: tuple[float, float], radius_px: float,
          angle_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """Paste `lesion` into float32 RGB `target` (0..1, changed in place) with its centroid at `center`, scaled so
    its radius is `radius_px` and turned by `angle_deg`; returns the pasted lesion's own mask at target size."""
    h, w = target.shape[:2]
    scale = radius_px / max(lesion.radius_px, 0.5)
    contrast, alpha, mask = lesion.contrast, lesion.alpha, lesion.mask.astype(np.float32)
    cx, cy = lesion.center
    if flip:
        contrast, alpha, mask = contrast[:, ::-1], alpha[:, ::-1], mask[:, ::-1]
        cx = contrast.shape[1] - 1 - cx
    m = cv2.getRotationMatrix2D((cx, cy), angle_deg, scale)
    m[0, 2] += center[0] - cx
    m[1, 2] += center[1] - cy
    # Warp only the box the lesion lands in.
    ph, pw = contrast.shape[:2]
    corners = np.array([[0, 0, 1], [pw, 0, 1], [0, ph, 1], [pw, ph, 1]], np.float64) @ m.T
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out_mask = np.zeros((h, w), bool)
    if x1 <= x0 or y1 <= y0:
        return out_mask
    m[0, 2] -= x0
    m[1, 2] -= y0
    size = (x1 - x0, y1 - y0)
    c = cv2.warpAffine(np.ascontiguousarray(contrast), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=(1.0, 1.0, 1.0))
    a = cv2.warpAffine(np.ascontiguousarray(alpha), m, size, flags=cv2.INTER_LINEAR)[..., None]
    k = cv2.warpAffine(np.ascontiguousarray(mask), m, size, flags=cv2.INTER_LINEAR)
    region = target[y0:y1, x0:x1]
    offset = OFFSET / 255.0
    region[:] = (region + offset) * (1.0 + (c - 1.0) * a) - offset
    np.clip(region, 0.0, 1.0, out=region)
    out_mask[y0:y1, x0:x1] = k >= 0.5
    return out_mask


class LesionBank:
    """The bank, by kind, with lookup by size."""

    def __init__(self, lesions: list[BankLesion]):
        self.by_kind: dict[str, list[BankLesion]] = {k: [] for k in LESIONS}
        for lesion in lesions:
            self.by_kind[lesion.kind].append(lesion)
        self._radii = {k: np.array([les.radius_dd for les in v]) for k, v in self.by_kind.items()}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_kind.values())

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.by_kind.items()}

    def pick(self, kind: str, radius_dd: float, rng: np.random.Generator) -> BankLesion | None:
        """A lesion of `kind` whose own size is close to `radius_dd` (within a factor 1.6 where any is), so that
        scaling it to that size keeps its look."""
        radii = self._radii.get(kind)
        if radii is None or not len(radii):
            return None
        ratio = np.abs(np.log(np.maximum(radii, 1e-6) / max(radius_dd, 1e-6)))
        close = np.flatnonzero(ratio <= np.log(1.6))
        if not len(close):
            close = np.argsort(ratio)[: max(1, min(20, len(ratio)))]
        return self.by_kind[kind][int(rng.choice(close))]

    # --- storage: one .npz of flat arrays plus a JSON index; nothing pickled ---------------------------------

    def save(self, path: Path) -> None:
        lesions = [les for k in LESIONS for les in self.by_kind[k]]
        index = []
        contrast, alpha, mask = [], [], []
        for les in lesions:
            index.append({"kind": les.kind, "shape": list(les.mask.shape), "center": list(les.center),
                          "radius_px": les.radius_px, "dd_px": les.dd_px, "source": les.source})
            contrast.append(les.contrast.reshape(-1))
            alpha.append(les.alpha.reshape(-1))
            mask.append(les.mask.reshape(-1))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, contrast=np.concatenate(contrast).astype(np.float16),
                            alpha=np.concatenate(alpha).astype(np.float16), mask=np.concatenate(mask),
                            index=np.frombuffer(json.dumps(index).encode(), np.uint8))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LesionBank:
        with np.load(path, allow_pickle=False) as data:
            index = json.loads(data["index"].tobytes().decode())
            contrast, alpha, mask = data["contrast"], data["alpha"], data["mask"]
        lesions, at = [], 0
        for item in index:
            h, w = item["shape"]
            n = h * w
            lesions.append(BankLesion(
                item["kind"], contrast[3 * at: 3 * (at + n)].astype(np.float32).reshape(h, w, 3),
                alpha[at: at + n].astype(np.float32).reshape(h, w), mask[at: at + n].reshape(h, w),
                tuple(item["center"]), item["radius_px"], item["dd_px"], item["source"]))
            at += n
        return cls(lesions)
