"""5. Memory: peak resident memory while screening many images, and its growth from image 100 to the last.

Runs in a fresh interpreter so the peak belongs to screening alone, not to the benchmarks before it.
"""

from __future__ import annotations

import argparse
import gc
import json
from pathlib import Path

from bench.common import Context, Section, rss_bytes, run_child

TARGET_GROWTH = 0.05
SIZE = (1024, 1024)  # smaller than a camera's frame to keep 1,000 images short; per-image memory is bounded anyway


def run(ctx: Context, section: Section) -> dict:
    count = ctx.n(1000, 12)
    early = ctx.n(100, 4)
    folder = ctx.fundus_folder(count, SIZE, seed=5)
    r = run_child(["-m", "bench.memory", "--child", str(folder), str(ctx.model_dir), str(early)])
    if r["count"] < early:
        raise RuntimeError(f"only {r['count']} results for {count} images: nothing to compare at image {early}")
    mib = 1 << 20
    growth = (r["rss_last"] - r["rss_early"]) / r["rss_early"]
    section.add("resident memory with the model loaded, before screening", r["rss_ready"] / mib, "MiB")
    section.add(f"resident memory at image {early}", r["rss_early"] / mib, "MiB")
    section.add(f"resident memory at image {r['count']}", r["rss_last"] / mib, "MiB")
    section.add(f"peak resident memory while screening {r['count']} images", r["peak"] / mib, "MiB",
                baseline=r["rss_ready"] / mib, ratio=r["peak"] / r["rss_ready"])
    section.add(f"growth from image {early} to {r['count']}", growth * 100, "%", target=f"< {TARGET_GROWTH:.0%}",
                passed=growth < TARGET_GROWTH)
    section.notes.append(f"{count} JPEGs of {SIZE[0]}x{SIZE[1]} px (smaller than a camera frame, to keep the run "
                         f"short), screened with default ScreeningOptions in a fresh interpreter; RSS from "
                         f"/proc/self/status (VmRSS, VmHWM). Results are consumed and dropped, as the GUI stores them.")
    section.notes.append("peak ratio = peak / resident memory once the model is loaded (no target)")
    return r


def _child(folder: Path, model_dir: Path, early: int) -> dict:
    from ran_desktop.engine.model.bundle import load_bundle
    from ran_desktop.engine.screening.screener import Screener

    loaded = load_bundle(model_dir)
    gc.collect()
    ready = rss_bytes()[0]
    rss_early = 0
    count = 0
    for count, _result in enumerate(Screener(loaded).screen([folder]), start=1):
        if count == early:
            gc.collect()
            rss_early = rss_bytes()[0]
    gc.collect()
    last, peak = rss_bytes()
    return {"rss_ready": ready, "rss_early": rss_early, "rss_last": last, "peak": peak, "count": count}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--child", nargs=3, required=True, metavar=("FOLDER", "MODEL", "EARLY"))
    a = p.parse_args()
    print(json.dumps(_child(Path(a.child[0]), Path(a.child[1]), int(a.child[2]))))
