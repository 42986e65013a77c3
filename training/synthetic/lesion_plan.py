"""Diabetic retinopathy lesions, planned: placed so that the ICDR and DME rules (`rules.py`) give the requested
grades, each with its colour and shape. `lesion_paint` paints a plan; keeping the two apart lets the labels (and the
lesion masks) be read off the plan without painting.

Placement happens in the retina frame and the field-of-view quadrants of `FieldGeometry`; every lesion is
annotated with its pixel centre, radius and quadrant. Painting is split by depth, because the order decides what
hides what: deep lesions (microaneurysms, dot/blot haemorrhages, hard exudates) lie under the retinal vessels;
flame haemorrhages, cotton-wool spots, IRMA, venous beading and new vessels lie in or on the nerve-fibre layer;
pre-retinal and vitreous blood lies in front of everything.

Sizes are in disc diameters (DD; 1 DD ~ 1.8 mm): microaneurysms < 125 um across (radius 0.012-0.028 DD),
dot haemorrhages a little larger, blots up to ~0.3 DD across, cotton-wool spots ~1/4-1/2 DD.

Long because each lesion kind's placement (where, how many, how large) is one method of a single planner, which
keeps track of what is already placed so lesions do not land on each other or on the disc.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from training.fundus import rules as R
from training.fundus.geometry import QUADRANTS, FieldGeometry
from training.fundus.vessels import Vessel


@dataclass
class Shape:
    """How to paint one lesion (or part of one); positions in px, sizes in px."""

    kind: str
    center: tuple[float, float]
    size: tuple[float, float] = (0.0, 0.0)  # ellipse semi-axes
    angle: float = 0.0  # degrees
    value: float = 1.0
    paths: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (retina pts DD, widths DD)
    extra: dict = field(default_factory=dict)


@dataclass
class LesionPlan:
    """Annotations plus what the painter needs."""

    lesions: list[R.Lesion] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)


class _Planner:
    def __init__(
        self,
        rng: np.random.Generator,
        geom: FieldGeometry,
        occupancy: np.ndarray,
        vessels: list[Vessel],
    ) -> None:
        self.rng = rng
        self.g = geom
        self.dd = geom.dd_px
        # Lesions under a big vessel would be hidden: sample positions off the (dilated) vessel map.
        self.occ = cv2.dilate(occupancy, np.ones((3, 3), np.uint8))
        self.vessels = vessels
        self.plan = LesionPlan()
        self.taken = np.zeros((0, 3))  # (x, y, radius) of placed blood lesions, to keep them countable
        self.disc_ret = np.array(geom.disc_offset)

    # ---- placement -------------------------------------------------------------------------------------------
    def positions(
        self,
        n: int,
        *,
        quadrant: int | None = None,
        dmin: float = 0.0,
        dmax: float = 99.0,
        sep_dd: float = 0.1,
        margin_dd: float = 0.05,
        disc_clear: float = 0.8,
        avoid_vessels: bool = True,
        central_bias: float = 0.0,
        axis_clear: float = 0.0,
        avoid_taken: bool = True,
    ) -> np.ndarray:
        """Up to `n` pixel positions meeting every constraint (distances in DD from the fovea / disc)."""
        g, rng = self.g, self.rng
        out = np.zeros((0, 2))
        sep = sep_dd * self.dd
        for attempt in range(60):
            need = n - len(out)
            if need <= 0:
                break
            m = max(6 * need, 64)
            rad = g.fov_radius * 0.92 * np.sqrt(rng.random(m))
            ang = rng.random(m) * 2 * np.pi
            px = np.column_stack([g.fov_center[0] + rad * np.cos(ang), g.fov_center[1] + rad * np.sin(ang)])
            ok = g.visible(px, margin_dd * self.dd)
            ret = g.to_retina(px)
            d = np.hypot(ret[:, 0], ret[:, 1])
            ok &= (d >= dmin) & (d <= dmax)
            ok &= np.hypot(*(ret - self.disc_ret).T) > disc_clear
            if quadrant is not None:
                ok &= g.quadrant_indices(px) == quadrant
            if axis_clear > 0:
                rel = g.fov_relative(px)
                ok &= np.minimum(np.abs(rel[:, 0]), np.abs(rel[:, 1])) > axis_clear
            if avoid_vessels:
                xi = np.clip(px[:, 0].astype(int), 0, g.width - 1)
                yi = np.clip(px[:, 1].astype(int), 0, g.height - 1)
                ok &= self.occ[yi, xi] < 0.2
            if central_bias > 0:
                # Diabetic lesions crowd the posterior pole: thin out candidates with distance from the fovea.
                ok &= rng.random(m) < (1 - central_bias) + central_bias * np.exp(-0.5 * (d / 2.2) ** 2)
            # Relax spacing late, so a crowded quadrant still gets its count.
            cur_sep = sep if attempt < 40 else sep * 0.5
            for p in px[ok]:
                if len(out) >= n:
                    break
                if len(out) and np.min(np.hypot(*(out - p).T)) < cur_sep:
                    continue
                if avoid_taken and len(self.taken):
                    if np.min(np.hypot(*(self.taken[:, :2] - p).T) - self.taken[:, 2]) < cur_sep * 0.6:
                        continue
                out = np.vstack([out, p])
        return out

    def annotate(self, kind: str, center: np.ndarray, radius: float) -> None:
        c = (float(center[0]), float(center[1]))
        q = self.g.quadrants_of(np.array([c]))[0]
        self.plan.lesions.append(R.Lesion(kind, c, float(radius), q))

    def _take(self, pts: np.ndarray, radius: float) -> None:
        if len(pts):
            self.taken = np.vstack([self.taken, np.column_stack([pts, np.full(len(pts), radius)])])

    # ---- red lesions -----------------------------------------------------------------------------------------
    def microaneurysms(self, n: int) -> None:
        pts = self.positions(n, sep_dd=0.15, central_bias=0.7)
        if n and not len(pts):
            pts = self.positions(1, sep_dd=0.0, avoid_taken=False)  # a grade-1 eye needs at least one
        for p in pts:
            r = max(self.rng.uniform(0.012, 0.028) * self.dd, 0.9)
            self.plan.shapes.append(Shape(R.MICROANEURYSM, tuple(p), (r, r), value=self.rng.uniform(0.8, 1.0)))
            self.annotate(R.MICROANEURYSM, p, r)
        self._take(pts, 0.03 * self.dd)

    def haemorrhages(self, counts: list[int]) -> None:
        """Intraretinal haemorrhages, `counts[i]` in quadrant QUADRANTS[i]."""
        rng = self.rng
        for q, n in enumerate(counts):
            if n <= 0:
                continue
            crowded = n > R.SEVERE_HAEMORRHAGES_PER_QUADRANT
            pts = self.positions(n, quadrant=q, sep_dd=0.16 if crowded else 0.25, central_bias=0.0 if crowded else 0.4)
            if len(pts) < n:
                raise RuntimeError(f"could place only {len(pts)} of {n} haemorrhages in {QUADRANTS[q]}")
            for p in pts:
                ret = self.g.to_retina(p[None])[0]
                near_disc = np.hypot(*(ret - self.disc_ret)) < 3.0
                u = rng.random()
                if u < (0.2 if near_disc else 0.05):
                    self._flame(p, ret)
                elif u < (0.7 if crowded else 0.55):
                    r = rng.uniform(0.03, 0.06) * self.dd
                    r = max(r, 1.4)
                    self.plan.shapes.append(Shape(R.DOT_HAEMORRHAGE, tuple(p), (r, r * rng.uniform(0.8, 1.0)),
                                                   rng.uniform(0, 180), rng.uniform(0.7, 1.0)))
                    self.annotate(R.DOT_HAEMORRHAGE, p, r)
                else:
                    self._blot(p, small=crowded)
            self._take(pts, 0.08 * self.dd)

    def _blot(self, p: np.ndarray, small: bool = False) -> None:
        rng = self.rng
        big = 0.1 if small else (0.14 if rng.random() < 0.8 else 0.2)
        r = rng.uniform(0.055, big) * self.dd
        lobes = []
        for _ in range(int(rng.integers(2, 5))):
            off = rng.normal(0, 0.3 * r, 2)
            a = r * rng.uniform(0.5, 0.8)
            lobes.append((p[0] + off[0], p[1] + off[1], a, a * rng.uniform(0.65, 1.0), rng.uniform(0, 180),
                          rng.uniform(0.6, 1.0)))
        self.plan.shapes.append(Shape(R.BLOT_HAEMORRHAGE, tuple(p), (r, r), extra={"lobes": lobes}))
        self.annotate(R.BLOT_HAEMORRHAGE, p, r * 1.3)

    def _nfl_angle(self, ret: np.ndarray) -> float:
        """Image angle (deg) of the nerve fibres at a retina point: radial from the disc, arching round the fovea."""
        v = ret - self.disc_ret
        v = v / (np.hypot(*v) + 1e-9)
        if ret[0] > self.disc_ret[0] + 0.5 and np.hypot(*ret) < 3.5:
            # Temporal fibres arch above and below the fovea: tangent to circles round it, heading temporally.
            t = np.sign(ret[1] + 1e-9) * np.array([ret[1], -ret[0]])
            v = 0.3 * v + 0.7 * t / (np.hypot(*t) + 1e-9)
        d = self.g.direction_px(v[None])[0]
        return float(np.degrees(np.arctan2(d[1], d[0])))

    def _flame(self, p: np.ndarray, ret: np.ndarray) -> None:
        rng = self.rng
        length = rng.uniform(0.1, 0.25) * self.dd
        width = length * rng.uniform(0.2, 0.35)
        self.plan.shapes.append(Shape(R.FLAME_HAEMORRHAGE, tuple(p), (length, width), self._nfl_angle(ret),
                                       rng.uniform(0.6, 0.85)))
        self.annotate(R.FLAME_HAEMORRHAGE, p, length)

    # ---- hard exudates ---------------------------------------------------------------------------------------
    def exudates(self, dme: int, peripheral: bool) -> None:
        """Hard exudates for DME grade `dme`; with `peripheral` (DME 0 only), a few outside the posterior pole."""
        rng = self.rng
        if dme == 2:
            self._exudate_group(0.0, 0.75, 0.0, R.FOVEA_ZONE_DD - 0.1, need_one_within=0.8)
            for _ in range(int(rng.integers(0, 3))):
                self._exudate_group(0.5, 2.6, 0.0, R.POSTERIOR_POLE_DD - 0.1)
        elif dme == 1:
            placed = 0
            for _ in range(int(rng.integers(1, 4))):
                placed += self._exudate_group(1.6, 2.6, R.FOVEA_ZONE_DD + 0.15, R.POSTERIOR_POLE_DD - 0.1)
            tries = 0
            while placed == 0 and tries < 20:
                placed += self._exudate_group(1.6, 2.6, R.FOVEA_ZONE_DD + 0.15, R.POSTERIOR_POLE_DD - 0.1)
                tries += 1
            if placed == 0:
                raise RuntimeError("no room for posterior-pole exudates")
        elif peripheral:
            for _ in range(int(rng.integers(1, 3))):
                self._exudate_group(R.POSTERIOR_POLE_DD + 0.5, 99.0, R.POSTERIOR_POLE_DD + 0.2, 99.0)

    def _exudate_group(
        self, cmin: float, cmax: float, lo: float, hi: float, need_one_within: float | None = None
    ) -> int:
        """One cluster, ring or plaque of deposits centred cmin..cmax DD from the fovea; deposits whose nearest
        edge falls outside lo..hi DD are dropped so the DME grade stays what was asked. Returns deposits placed."""
        rng = self.rng
        centre = self.positions(1, dmin=cmin, dmax=cmax, sep_dd=0.0, avoid_vessels=False, disc_clear=1.0,
                                avoid_taken=False)
        if not len(centre):
            return 0
        c_ret = self.g.to_retina(centre)[0]
        style = rng.choice(["cluster", "ring", "plaque"], p=[0.5, 0.3, 0.2])
        if style == "ring":
            rho = rng.uniform(0.25, 0.6)
            span = rng.uniform(np.pi, 2 * np.pi)
            start = rng.uniform(0, 2 * np.pi)
            n = int(span * rho / 0.045)
            a = start + np.sort(rng.random(n)) * span
            pts = c_ret + np.column_stack([np.cos(a), np.sin(a)]) * (rho + rng.normal(0, 0.04, n))[:, None]
            radii = rng.uniform(0.012, 0.04, n)
        else:
            n = int(rng.integers(4, 26)) if style == "cluster" else int(rng.integers(2, 6))
            spread = rng.uniform(0.05, 0.2) if style == "cluster" else rng.uniform(0.03, 0.08)
            pts = c_ret + rng.normal(0, spread, (n, 2))
            radii = rng.uniform(0.01, 0.045, n) if style == "cluster" else rng.uniform(0.04, 0.09, n)
        if need_one_within is not None:
            # Anchor the group with one deposit right where the grade needs it.
            pts = np.vstack([c_ret * min(1.0, need_one_within / (np.hypot(*c_ret) + 1e-9)), pts])
            radii = np.concatenate([[rng.uniform(0.025, 0.05)], radii])
        rad_px = np.maximum(radii * self.dd, 0.8)  # what is drawn and annotated, so what the rule will measure
        near = np.hypot(pts[:, 0], pts[:, 1]) - rad_px / self.dd
        px = self.g.to_px(pts)
        ok = (near >= lo) & (near <= hi) & self.g.visible(px, 0.05 * self.dd)
        ok &= np.hypot(*(pts - self.disc_ret).T) > 0.75
        for p, r in zip(px[ok], rad_px[ok], strict=True):
            self.plan.shapes.append(Shape(R.HARD_EXUDATE, tuple(p), (r, r * rng.uniform(0.6, 1.0)),
                                           rng.uniform(0, 180), rng.uniform(0.8, 1.0)))
            self.annotate(R.HARD_EXUDATE, p, r)
        return int(ok.sum())

    # ---- cotton-wool spots -----------------------------------------------------------------------------------
    def cotton_wool(self, n: int) -> None:
        rng = self.rng
        pts = self.positions(n, dmin=1.3, dmax=3.8, sep_dd=0.5, disc_clear=0.9, avoid_vessels=False)
        for p in pts:
            ret = self.g.to_retina(p[None])[0]
            length = rng.uniform(0.1, 0.24) * self.dd
            self.plan.shapes.append(Shape(R.COTTON_WOOL_SPOT, tuple(p), (length, length * rng.uniform(0.5, 0.8)),
                                           self._nfl_angle(ret), rng.uniform(0.55, 0.85)))
            self.annotate(R.COTTON_WOOL_SPOT, p, length)

    # ---- vascular lesions ------------------------------------------------------------------------------------
    def venous_beading(self, quadrants: list[int]) -> list[int]:
        """Beading on a vein in each quadrant that has a suitable one; returns the quadrants done."""
        rng = self.rng
        done = []
        runs_by_q: dict[int, list[tuple[Vessel, int, int]]] = {q: [] for q in range(4)}
        for v in self.vessels:
            if v.kind != "vein" or v.widths.max() < 0.035:
                continue
            px = self.g.to_px(v.points)
            quadrant = self.g.quadrant_indices(px)
            good = self.g.visible(px, 0.15 * self.dd) & (v.widths >= 0.03)
            good &= np.hypot(*(v.points - self.disc_ret).T) > 0.9
            # Runs of consecutive points inside one quadrant.
            key = np.where(good, quadrant, -1)
            edges = np.flatnonzero(np.diff(key) != 0) + 1
            for start, stop in zip(np.concatenate([[0], edges]), np.concatenate([edges, [len(key)]]), strict=True):
                if key[start] >= 0 and stop - start >= 14:
                    runs_by_q[int(key[start])].append((v, int(start), int(stop)))
        for q in quadrants:
            if not runs_by_q[q]:
                continue
            v, a, e = runs_by_q[q][int(rng.integers(len(runs_by_q[q])))]
            n = min(e - a, int(rng.uniform(0.8, 1.6) / 0.05))
            a = int(rng.integers(a, e - n + 1))
            seg, w = v.points[a : a + n], v.widths[a : a + n]
            spacing = rng.uniform(0.15, 0.26)
            s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(seg, axis=0).T))])
            beads = []
            pos = rng.uniform(0.0, spacing)
            while pos < s[-1]:
                i = min(int(np.searchsorted(s, pos)), len(seg) - 1)
                tan = self.g.direction_px((seg[min(i + 1, len(seg) - 1)] - seg[max(i - 1, 0)])[None])[0]
                ang = float(np.degrees(np.arctan2(tan[1], tan[0])))
                wpx = w[i] * self.dd
                axes = (wpx * rng.uniform(0.8, 1.3), wpx * rng.uniform(0.8, 1.1))
                beads.append((self.g.to_px(seg[i][None])[0], axes, ang))
                pos += spacing * rng.uniform(0.7, 1.3)
            mid = self.g.to_px(seg[len(seg) // 2][None])[0]
            self.plan.shapes.append(Shape(R.VENOUS_BEADING, tuple(mid), extra={"beads": beads}))
            self.annotate(R.VENOUS_BEADING, mid, s[-1] * self.dd / 2)
            done.append(q)
        return done

    def irma(self, quadrant: int) -> bool:
        rng = self.rng
        pts = self.positions(1, quadrant=quadrant, dmin=1.0, dmax=4.5, sep_dd=0.6, axis_clear=0.45, disc_clear=1.2)
        if not len(pts):
            return False
        c_ret = self.g.to_retina(pts)[0]
        paths = []
        extent = 0.0
        for _ in range(int(rng.integers(3, 7))):
            n = int(rng.integers(10, 26))
            start = c_ret + rng.normal(0, 0.12, 2)
            ang = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.45, n))
            path = start + np.vstack([[0, 0], np.cumsum(np.column_stack([np.cos(ang), np.sin(ang)]) * 0.028, axis=0)])
            widths = rng.uniform(0.011, 0.02) * (1 + 0.5 * rng.random(len(path)))
            paths.append((path, widths))
            extent = max(extent, float(np.max(np.hypot(*(path - c_ret).T))))
        self.plan.shapes.append(Shape(R.IRMA, tuple(pts[0]), paths=paths))
        self.annotate(R.IRMA, pts[0], extent * self.dd)
        self._take(pts, extent * self.dd)
        return True

    def _loops(self, origin: np.ndarray, heading: float, spread: float, reach: tuple[float, float], n: int) -> list:
        """Fine, tortuous vessel loops fanning out from `origin` (retina DD): the look of new vessels."""
        rng = self.rng
        paths = []
        t = np.linspace(0, 1, 40)
        for _ in range(n):
            phi = heading + rng.uniform(-spread, spread)
            rho = rng.uniform(*reach)
            a = phi + (t - 0.5) * rng.uniform(0.3, 1.2)
            # Irregular, knotted loops: radius and angle wander along the vessel.
            knots = rng.normal(0, 1, (2, 8))
            wander = np.array([np.interp(t * 7, np.arange(8), k) for k in knots])
            r = rho * np.sin(np.pi * t) ** 0.6 * (1 + 0.25 * wander[0])
            a = a + 0.25 * wander[1]
            start = origin + rng.normal(0, 0.06, 2)
            pts = start + np.column_stack([np.cos(a), np.sin(a)]) * r[:, None]
            pts += rng.normal(0, 0.008, pts.shape)
            paths.append((pts, np.full(len(pts), rng.uniform(0.008, 0.015))))
        return paths

    def nvd(self) -> bool:
        """New vessels on the disc; False when the disc is not in view (a cropped real background)."""
        rng = self.rng
        if not self.g.visible(np.array([self.g.disc]), 0.3 * self.dd)[0]:
            return False
        paths = self._loops(self.disc_ret + rng.normal(0, 0.05, 2), 0.0, np.pi, (0.3, 0.95), int(rng.integers(6, 15)))
        extent = max(float(np.max(np.hypot(*(p - self.disc_ret).T))) for p, _ in paths)
        disc_px = np.array(self.g.disc)
        self.plan.shapes.append(Shape(R.NVD, tuple(disc_px), paths=paths,
                                       extra={"fibrous": rng.uniform(0.2, 0.5) if rng.random() < 0.35 else 0.0,
                                              "radius": extent * self.dd}))
        self.annotate(R.NVD, disc_px, extent * self.dd)
        return True

    def nve(self) -> bool:
        rng = self.rng
        cands = []
        for v in self.vessels:
            if v.widths.max() < 0.025:
                continue
            px = self.g.to_px(v.points)
            ok = self.g.visible(px, 0.9 * self.dd)
            ok &= np.hypot(*(v.points - self.disc_ret).T) > 1.3
            ok &= np.hypot(v.points[:, 0], v.points[:, 1]) > 1.2
            for i in np.flatnonzero(ok)[::4]:
                cands.append((v, int(i)))
        if not cands:
            return False
        v, i = cands[int(rng.integers(len(cands)))]
        tan = v.points[min(i + 1, len(v.points) - 1)] - v.points[max(i - 1, 0)]
        heading = np.arctan2(tan[1], tan[0]) + (np.pi / 2 if rng.random() < 0.5 else -np.pi / 2)
        paths = self._loops(v.points[i], heading, 1.1, (0.2, 0.65), int(rng.integers(5, 11)))
        allpts = np.vstack([p for p, _ in paths])
        centre = self.g.to_px(allpts.mean(axis=0)[None])[0]
        extent = float(np.max(np.hypot(*(self.g.to_px(allpts) - centre).T)))
        self.plan.shapes.append(Shape(R.NVE, tuple(centre), paths=paths))
        self.annotate(R.NVE, centre, extent)
        return True

    def preretinal(self) -> None:
        rng = self.rng
        r_dd = rng.uniform(0.3, 0.9)
        pts = self.positions(1, dmin=1.2, dmax=4.0, sep_dd=0.0, margin_dd=r_dd, disc_clear=0.5 + r_dd,
                             avoid_vessels=False, avoid_taken=False)
        if not len(pts):
            r_dd = 0.3
            pts = self.positions(1, sep_dd=0.0, margin_dd=r_dd, disc_clear=0.8, avoid_vessels=False, avoid_taken=False)
        r = r_dd * self.dd
        level = rng.uniform(-0.5, 0.2)  # the fluid level: blood settles, the top is cut flat (boat shape)
        self.plan.shapes.append(Shape(R.PRERETINAL_HAEMORRHAGE, tuple(pts[0]), (r, r * rng.uniform(0.55, 0.9)),
                                       rng.uniform(-10, 10), extra={"level": level}))
        self.annotate(R.PRERETINAL_HAEMORRHAGE, pts[0], r)

    def vitreous(self) -> None:
        rng = self.rng
        pts = self.positions(1, sep_dd=0.0, avoid_vessels=False, disc_clear=0.0, avoid_taken=False)
        r = rng.uniform(0.8, 2.2) * self.dd
        self.plan.shapes.append(Shape(R.VITREOUS_HAEMORRHAGE, tuple(pts[0]), (r, r * rng.uniform(0.5, 1.0)),
                                       rng.uniform(0, 180), rng.uniform(0.45, 0.8)))
        self.annotate(R.VITREOUS_HAEMORRHAGE, pts[0], r)


def _moderate_counts(rng: np.random.Generator, lam_range: tuple[float, float]) -> list[int]:
    """Haemorrhages per quadrant for an eye that must NOT meet the 4-quadrant criterion."""
    lam = rng.uniform(*lam_range)
    counts = [min(int(rng.poisson(lam * rng.uniform(0.3, 1.5))), R.SEVERE_HAEMORRHAGES_PER_QUADRANT) for _ in range(4)]
    if rng.random() < 0.12:
        # Sometimes many haemorrhages, but in fewer than all four quadrants: the rule's boundary.
        for q in rng.choice(4, size=int(rng.integers(1, 4)), replace=False):
            counts[q] = int(rng.integers(21, 30))
    return counts


def plan_lesions(
    rng: np.random.Generator,
    dr: int,
    dme: int,
    geom: FieldGeometry,
    occupancy: np.ndarray,
    vessels: list[Vessel],
    severe_criterion: str | None = None,
) -> LesionPlan:
    """Choose and place lesions so that `rules.derive_icdr_grade` gives `dr` and `rules.derive_dme_grade` `dme`.

    `severe_criterion` (grade 3, and the NPDR part of grade 4) picks which 4-2-1 criterion triggers; None draws one.
    """
    if dr not in range(5) or dme not in range(3):
        raise ValueError(f"grades out of range: dr={dr}, dme={dme}")
    if dme > 0 and dr < 2:
        # Hard exudates are more than "microaneurysms only": any exudate makes the eye at least moderate NPDR.
        raise ValueError(f"DME {dme} needs hard exudates, which ICDR grade {dr} excludes (needs DR >= 2)")
    if severe_criterion is not None and severe_criterion not in R.SEVERE_CRITERIA:
        raise ValueError(f"unknown severe criterion {severe_criterion!r}")
    p = _Planner(rng, geom, occupancy, vessels)
    if dr == 0:
        return p.plan
    if dr == 1:
        p.microaneurysms(1 + min(int(rng.geometric(0.2)) - 1, 14))
        return p.plan
    npdr_level = dr if dr < 4 else (3 if rng.random() < 0.5 else 2)
    criteria: list[str] = []
    if npdr_level == 3:
        criteria = [severe_criterion or str(rng.choice(R.SEVERE_CRITERIA))]
        if rng.random() < 0.25:
            criteria.append(str(rng.choice(R.SEVERE_CRITERIA)))
    # Vascular lesions first: the beading and IRMA chosen decide whether the haemorrhage criterion is needed.
    if R.CRITERION_BEADING in criteria:
        done = p.venous_beading([int(q) for q in rng.permutation(4)][: int(rng.integers(2, 5))])
        if len(done) < 2:
            done += p.venous_beading([q for q in range(4) if q not in done])
        if len(done) < 2:
            criteria.append(R.CRITERION_IRMA)  # too few veins in view: fall back to IRMA
    elif rng.random() < 0.15:
        p.venous_beading([int(rng.integers(4))])  # beading in one quadrant only: not yet severe
    if R.CRITERION_IRMA in criteria:
        placed = 0
        for q in rng.permutation(4)[: int(rng.integers(1, 4))]:
            placed += p.irma(int(q))
        q_try = 0
        while not placed and q_try < 4:
            placed += p.irma(q_try)
            q_try += 1
        if not placed:
            criteria.append(R.CRITERION_HAEMORRHAGES)
    if R.CRITERION_HAEMORRHAGES in criteria:
        counts = [int(rng.integers(21, 36)) for _ in range(4)]
    else:
        counts = _moderate_counts(rng, (4.0, 12.0) if npdr_level == 3 else (0.5, 8.0))
    p.haemorrhages(counts)
    n_ma = int(rng.integers(2, 31)) if npdr_level == 2 else int(rng.integers(5, 41))
    if rng.random() < 0.95:
        p.microaneurysms(n_ma)
    cws_p = 0.4 if npdr_level == 2 else 0.65
    if rng.random() < cws_p:
        p.cotton_wool(int(rng.integers(1, 5 if npdr_level == 2 else 7)))
    p.exudates(dme, peripheral=dme == 0 and rng.random() < 0.2)
    if not {les.kind for les in p.plan.lesions} - {R.MICROANEURYSM}:
        # Moderate NPDR needs more than microaneurysms: add a few haemorrhages.
        extra = [0, 0, 0, 0]
        extra[int(rng.integers(4))] = int(rng.integers(1, 4))
        p.haemorrhages(extra)
    if dr == 4:
        nv_d, nv_e = rng.random() < 0.5, rng.random() < 0.55
        pre, vit = rng.random() < 0.35, rng.random() < 0.2
        if not (nv_d or nv_e or pre or vit):
            choice = int(rng.integers(4))
            nv_d, nv_e, pre, vit = (choice == 0, choice == 1, choice == 2, choice == 3)
        made = 0
        if nv_e:
            made = sum(p.nve() for _ in range(int(rng.integers(1, 4))))
            nv_d = nv_d or not made
        if nv_d:
            made += p.nvd()
        if pre or not (made or vit):
            p.preretinal()  # also the fallback when no new vessels could be placed
        if vit:
            p.vitreous()
    return p.plan


# ---- lesion masks --------------------------------------------------------------------------------------------
# Bit of each painted kind in a lesion mask (training/lesion_masks.py: microaneurysms, haemorrhages, hard exudates,
# soft exudates); the kinds IDRiD has no masks for (beading, IRMA, new vessels, pre-retinal blood) are left out.
MASK_BIT = {
    R.MICROANEURYSM: 0,
    R.DOT_HAEMORRHAGE: 1,
    R.BLOT_HAEMORRHAGE: 1,
    R.FLAME_HAEMORRHAGE: 1,
    R.HARD_EXUDATE: 2,
    R.COTTON_WOOL_SPOT: 3,
}
