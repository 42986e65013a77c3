"""Running a model over a data loader: probabilities, targets and the mean loss. Shared by training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ran_desktop.engine.imaging.finish_on_device import finish_batch
from ran_desktop.engine.imaging.preprocess_settings import PreprocessSettings
from training.losses import TwoHeadLoss


@dataclass
class Predictions:
    dr_probs: np.ndarray  # (N, 5)
    dme_probs: np.ndarray  # (N, 3)
    dr_true: np.ndarray  # (N,), MISSING where unlabelled
    dme_true: np.ndarray
    loss: float


@torch.inference_mode()
def predict(model: nn.Module, loader: DataLoader, device: torch.device,
            criterion: TwoHeadLoss | None = None, flip_average: bool = False,
            settings: PreprocessSettings | None = None) -> Predictions:
    """`flip_average`: probabilities averaged over each image and its mirror image, as the app computes them for a
    bundle whose operating point says so (Manifest.flip_average). `settings`: how to finish a loader's uint8 squares
    on the device (FundusDataset with on_device)."""
    model.eval()
    dr_probs, dme_probs, dr_true, dme_true = [], [], [], []
    total, count = 0.0, 0
    for x, dr, dme in loader:
        x = x.to(device, non_blocking=True)
        if x.dtype == torch.uint8:
            if settings is None:
                raise ValueError("the loader gives squares to finish on the device, but no preprocessing settings")
            x = finish_batch(x, settings)[1]
        x = x.contiguous(memory_format=torch.channels_last)
        dr, dme = dr.to(device), dme.to(device)
        out = model(x)
        if criterion is not None:
            total += float(criterion(out, dr, dme)) * len(x)
            count += len(x)
        dr_p, dme_p = torch.softmax(out.dr.float(), 1), torch.softmax(out.dme.float(), 1)
        if flip_average:
            mirrored = model(torch.flip(x, dims=[3]))
            dr_p = (dr_p + torch.softmax(mirrored.dr.float(), 1)) / 2
            dme_p = (dme_p + torch.softmax(mirrored.dme.float(), 1)) / 2
        dr_probs.append(dr_p.cpu().numpy())
        dme_probs.append(dme_p.cpu().numpy())
        dr_true.append(dr.cpu().numpy())
        dme_true.append(dme.cpu().numpy())
    if not dr_probs:
        raise ValueError("no images to evaluate")
    return Predictions(
        np.concatenate(dr_probs), np.concatenate(dme_probs), np.concatenate(dr_true), np.concatenate(dme_true),
        total / count if count else float("nan"),
    )
