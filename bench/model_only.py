"""1. Model only: the forward pass on preprocessed tensors, the ceiling for end-to-end screening."""

from __future__ import annotations

import time

import cv2
import numpy as np
import torch

from bench.common import SAMPLE, Context, Section, median_time


def preprocessed_batch(loaded, n: int, seed: int = 0) -> torch.Tensor:
    """n distinct model inputs made the way the screener makes them, from the sample photograph."""
    from ran_desktop.engine.imaging.preprocess import preprocess

    rgb = cv2.cvtColor(cv2.imread(str(SAMPLE)), cv2.COLOR_BGR2RGB)
    base = preprocess(rgb, loaded.preprocess_settings).tensor
    rng = np.random.default_rng(seed)
    x = np.stack([base + rng.normal(0, 0.05, base.shape).astype(np.float32) for _ in range(n)])
    return torch.from_numpy(x).to(loaded.device.device)


def forward_seconds(loaded, x: torch.Tensor, repeats: int) -> float:
    """Median seconds for one forward pass of batch `x`, as the screener runs it (inference mode)."""
    model = loaded.model
    x = x.contiguous(memory_format=torch.channels_last)  # as the screener batches

    def step():
        with torch.inference_mode():
            model(x)
        if x.is_cuda:
            torch.cuda.synchronize()

    return median_time(step, warmup=2, repeats=repeats)


def throughput(loaded, batch_size: int, repeats: int) -> float:
    """Images per second at `batch_size`."""
    return batch_size / forward_seconds(loaded, preprocessed_batch(loaded, batch_size), repeats)


def as_screened(loaded, x: torch.Tensor) -> torch.Tensor:
    """The forward pass's batch as the screener makes it for these images: with their mirror images where the
    bundle's operating point flip-averages (runtime.predict), two passes per image."""
    return torch.cat([x, x.flip(-1)]) if loaded.manifest.flip_average else x


def throughput_as_screened(loaded, batch_size: int, repeats: int) -> float:
    """Images graded per second by the model alone at `batch_size`, as the screener runs it (`as_screened`)."""
    return batch_size / forward_seconds(loaded, as_screened(loaded, preprocessed_batch(loaded, batch_size)), repeats)


def run(ctx: Context, section: Section) -> dict:
    from ran_desktop.engine.screening.screener import ScreeningOptions

    loaded = ctx.load_model()
    screener_batch = ScreeningOptions().batch_size
    repeats = ctx.n(7, 2)
    t0 = time.perf_counter()
    ips1 = throughput(loaded, 1, ctx.n(15, 2))
    ipsb = throughput(loaded, screener_batch, repeats)
    section.add("images/s, batch 1", ips1, "img/s")
    section.add(f"images/s, batch {screener_batch} (screener's batch size)", ipsb, "img/s", baseline=ips1,
                ratio=ipsb / ips1)
    section.notes.append(f"model: {loaded.manifest.title}; input {loaded.preprocess_settings.input_size} px; "
                         f"median of {repeats} timed batches after 2 warm-up batches; measured in "
                         f"{time.perf_counter() - t0:.0f} s")
    section.notes.append("ratio = batch-8 throughput / batch-1 throughput (what batching buys); no target")
    return {"ips_batch1": ips1, "ips_batch": ipsb, "batch_size": screener_batch}
