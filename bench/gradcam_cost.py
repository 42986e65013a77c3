"""3. Grad-CAM: the extra cost per image of a heat map, as a multiple of one forward pass."""

from __future__ import annotations

from bench.common import Context, Section, median_time
from bench.model_only import forward_seconds, preprocessed_batch

TARGET = 1.5


def run(ctx: Context, section: Section) -> dict:
    from ran_desktop.engine.model.gradcam import GradCAM
    from ran_desktop.engine.screening.screener import ScreeningOptions

    loaded = ctx.load_model()
    repeats = ctx.n(9, 2)
    x1 = preprocessed_batch(loaded, 1, seed=1)
    fwd1 = forward_seconds(loaded, x1, repeats)
    with GradCAM(loaded.model) as cam:
        # As the screener does it with heat maps on: one image at a time, forward + backward to the target layer.
        cam1 = median_time(lambda: cam(x1, head="dr"), warmup=2, repeats=repeats)
    extra = cam1 - fwd1
    ratio = extra / fwd1
    section.add("forward pass, batch 1", fwd1 * 1000, "ms/img")
    section.add("Grad-CAM pass (forward + backward + map), batch 1", cam1 * 1000, "ms/img")
    section.add("extra cost per image (CAM - forward), batch 1", extra * 1000, "ms/img", baseline=fwd1 * 1000,
                ratio=ratio, target=f"<= {TARGET}x forward", passed=ratio <= TARGET)

    # What the screener actually pays: without heat maps it runs batches, with them it runs images one by one.
    bs = ScreeningOptions().batch_size
    fwdb = forward_seconds(loaded, preprocessed_batch(loaded, bs, seed=2), repeats) / bs
    section.add(f"screener path: CAM per image vs batched forward (batch {bs}) per image", cam1 * 1000, "ms/img",
                baseline=fwdb * 1000, ratio=(cam1 - fwdb) / fwdb)
    section.notes.append("extra cost = Grad-CAM call minus plain forward of the same image; ratio = extra / "
                         "forward. The second ratio is the screener's real extra cost with heat maps on, since it "
                         "then loses batching too (no target).")
    return {"ratio": ratio}
