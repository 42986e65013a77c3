"""8. Choosing the shipped variant: screening throughput of candidate RAN variants and input sizes on this machine,
as a ratio to the shipped bundle's. Accuracy for the same candidates comes from training runs (models/*/MODEL_CARD.md,
training/README.md); this is the speed half of that trade-off."""

from __future__ import annotations

import torch

from bench.common import Context, Section
from bench.flops import count_flops

# (variant, base width, input px): the encoder's width and the input size are the two knobs that trade speed for
# the small lesions (microaneurysms are a few pixels wide at 224).
CANDIDATES = [
    ("ran18", 16, 320),
    ("ran18", 32, 224),
    ("ran18", 32, 320),
    ("ran18", 32, 448),
    ("ran18", 64, 224),
    ("ran18", 64, 320),
    ("ran34", 32, 320),
    ("ran50", 32, 320),
]


def _images_per_second(model: torch.nn.Module, size: int, batch: int, repeats: int, device: torch.device) -> float:
    from bench.common import median_time

    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)

    def step():
        with torch.inference_mode():
            model(x)
        if x.is_cuda:
            torch.cuda.synchronize()

    return batch / median_time(step, warmup=1, repeats=repeats)


def run(ctx: Context, section: Section) -> dict:
    from ran_desktop.engine.model import build_ran
    from ran_desktop.engine.screening.screener import ScreeningOptions

    loaded = ctx.load_model()
    m = loaded.manifest
    device = loaded.device.device
    batch = ScreeningOptions().batch_size
    repeats = ctx.n(5, 1)
    candidates = CANDIDATES if not ctx.quick else [("ran18", 8, 64)]
    shipped = _images_per_second(loaded.model, m.input_size, batch, repeats, device)
    kwargs = m.architecture.get("kwargs") or {}
    section.add(f"shipped bundle {m.title} ({m.architecture['variant']}, width {kwargs.get('base_width', 64)}, "
                f"{m.input_size} px)", shipped, "img/s")
    for variant, width, size in candidates:
        torch.manual_seed(0)
        model = build_ran(variant, base_width=width).eval().to(device).to(memory_format=torch.channels_last)
        gflops = count_flops(model.cpu(), size) / 1e9
        model.to(device)
        speed = _images_per_second(model, size, batch, repeats, device)
        section.add(f"{variant}, width {width}, {size} px ({gflops:.1f} GFLOP/img)", speed, "img/s",
                    baseline=shipped, ratio=speed / shipped)
        del model
    section.notes.append(f"forward passes at the screener's batch size ({batch}), median of {repeats} after a "
                         f"warm-up, channels-last as the app runs them; ratio = candidate / shipped bundle")
    return {"shipped": shipped}
