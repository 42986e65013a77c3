"""7. FLOPs per image of the RAN variants, and the share of the machine's matmul throughput inference reaches."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import Context, Section, median_time
from bench.model_only import throughput


def count_flops(model: torch.nn.Module, size: int) -> int:
    """FLOPs (multiply and add counted separately) of one forward pass on one image."""
    x = torch.zeros(1, 3, size, size)
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    return counter.get_total_flops()


def matmul_flops_per_second(n: int, repeats: int, device: torch.device) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)

    def step():
        torch.matmul(a, b)
        if a.is_cuda:
            torch.cuda.synchronize()

    return 2 * n**3 / median_time(step, warmup=2, repeats=repeats)


def conv_flops_per_second(repeats: int, device: torch.device) -> float:
    """A dense 3x3 convolution like the network's middle stages: the kernels inference actually runs."""
    x = torch.randn(8, 256, 28, 28, device=device)
    w = torch.randn(256, 256, 3, 3, device=device)

    def step():
        torch.nn.functional.conv2d(x, w, padding=1)
        if x.is_cuda:
            torch.cuda.synchronize()

    return 2 * 8 * 256 * 256 * 9 * 28 * 28 / median_time(step, warmup=2, repeats=repeats)


def run(ctx: Context, section: Section) -> dict:
    from ran_desktop.engine.model import build_ran

    loaded = ctx.load_model()
    m = loaded.manifest
    for variant in ("ran18", "ran34", "ran50"):
        section.add(f"{variant} at 224 px, full width", count_flops(build_ran(variant), 224) / 1e9, "GFLOP/img")
    bundle_flops = count_flops(loaded.model.cpu(), m.input_size)
    loaded.model.to(loaded.device.device)
    kwargs = m.architecture.get("kwargs") or {}
    section.add(f"bundle {m.title}: {m.architecture['variant']} {kwargs or 'full width'} at {m.input_size} px",
                bundle_flops / 1e9, "GFLOP/img")

    peak = matmul_flops_per_second(ctx.n(2048, 512), ctx.n(7, 3), loaded.device.device)
    from ran_desktop.engine.screening.screener import ScreeningOptions

    bs = ScreeningOptions().batch_size
    ips = throughput(loaded, bs, ctx.n(5, 2))
    achieved = ips * bundle_flops
    conv = conv_flops_per_second(ctx.n(5, 2), loaded.device.device)
    section.add("torch.matmul float32 throughput", peak / 1e9, "GFLOP/s")
    section.add("3x3 conv2d float32 throughput (256->256 channels, 28x28, batch 8)", conv / 1e9, "GFLOP/s")
    section.add(f"inference, batch {bs}, as a fraction of matmul", achieved / 1e9, "GFLOP/s", baseline=peak / 1e9,
                ratio=achieved / peak)
    section.add(f"inference, batch {bs}, as a fraction of conv2d", achieved / 1e9, "GFLOP/s", baseline=conv / 1e9,
                ratio=achieved / conv)
    section.notes.append("FLOPs from torch.utils.flop_counter.FlopCounterMode (a multiply-add counts 2); matmul of "
                         f"two {ctx.n(2048, 512)}^2 float32 matrices; ratio = fraction of that matmul rate the "
                         "bundle's batched inference reaches (no target). On AMD CPUs MKL's sgemm avoids its AVX-512 "
                         "path while oneDNN's convolutions use it, so inference can exceed the matmul rate "
                         "(ratio > 1); the conv2d row is then the fairer ceiling")
    return {"bundle_gflop": bundle_flops / 1e9, "fraction": achieved / peak}
