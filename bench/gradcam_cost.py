"""3. Heat maps: the extra cost of every image's map, as a multiple of the forward pass it comes with.

The screener takes its maps from the forward pass (engine/model/forward_cam.py: the class activation maps, equal
to Grad-CAM on the RAN) inside batched inference; the autograd Grad-CAM, one image at a time with a backward pass,
is what it did before and what a model of another shape still gets: both are measured, in the same process.
"""

from __future__ import annotations

import torch

from bench.common import Context, Section, median_time
from bench.model_only import forward_seconds, preprocessed_batch

TARGET = 0.05  # issue 22: a map costs at most 5 % of the forward pass


def run(ctx: Context, section: Section) -> dict:
    from ran_desktop.engine.model.forward_cam import chosen, forward_cams, scale
    from ran_desktop.engine.model.gradcam import GradCAM
    from ran_desktop.engine.screening.screener import ScreeningOptions

    loaded = ctx.load_model()
    repeats = ctx.n(9, 2)
    bs = ScreeningOptions().batch_size
    xb = preprocessed_batch(loaded, bs, seed=2).contiguous(memory_format=torch.channels_last)
    fwdb = forward_seconds(loaded, xb, repeats)

    def maps_step() -> None:  # as the screener runs it with heat maps on
        with torch.inference_mode():
            cams = forward_cams(loaded.model, xb)
            scale(chosen(cams.dr, cams.output.dr.argmax(dim=1)))
        if xb.is_cuda:
            torch.cuda.synchronize()

    mapsb = median_time(maps_step, warmup=2, repeats=repeats)
    ratio = (mapsb - fwdb) / fwdb
    section.add(f"forward pass, batch {bs}", fwdb * 1000 / bs, "ms/img")
    section.add(f"forward pass with every image's map (forward_cam), batch {bs}", mapsb * 1000 / bs, "ms/img")
    section.add("extra cost of the maps", (mapsb - fwdb) * 1000 / bs, "ms/img", baseline=fwdb * 1000 / bs,
                ratio=ratio, target=f"<= {TARGET}x forward", passed=ratio <= TARGET)

    x1 = preprocessed_batch(loaded, 1, seed=1)
    with GradCAM(loaded.model) as cam:  # the autograd path: one image, forward + backward to the target layer
        cam1 = median_time(lambda: cam(x1, head="dr"), warmup=2, repeats=repeats)
    section.add("autograd Grad-CAM per image (before; models of another shape)", cam1 * 1000, "ms/img",
                baseline=fwdb * 1000 / bs, ratio=(cam1 - fwdb / bs) / (fwdb / bs))
    section.notes.append("extra cost = the batch with maps minus the plain batch, per image; ratio = extra / "
                         "forward. The last row is the cost per image of the autograd Grad-CAM the screener used "
                         "before (it also lost batching), against the batched forward pass (no target).")
    return {"ratio": ratio}
