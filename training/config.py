"""A training run's configuration (`config.json` in its folder), and the network's arguments it implies: training and
export build the same net from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    data: list[str]
    out: Path
    variant: str = "ran18"
    base_width: int = 64
    input_size: int = 224
    epochs: int = 60
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"  # the paper keeps Adam's rate; "cosine" anneals it to 0
    gamma: float = 2.0  # focal loss; 0 is cross entropy
    dme_weight: float = 1.0
    lesion_weight: float = 0.0  # > 0 adds the lesion head, trained on the records' lesion masks
    dropout: float = 0.2
    augment: bool = True
    select: str = "combined"  # kappa, auc, combined or loss
    seed: int = 0
    split_file: Path | None = None
    fractions: tuple[float, float, float] = (0.60, 0.15, 0.25)
    use_predefined_split: bool = False
    finetune: Path | None = None
    device: str | None = None
    workers: int | None = None  # data-loading processes; None: chosen from the cores and the device
    # Augmentation, CLAHE and standardisation as batched operations on the device (training/augment_on_device.py),
    # the loaders only handing over cached squares; None: on a GPU, whose loaders could not keep up otherwise.
    augment_on_device: bool | None = None
    cache_dir: Path | None = None
    checkpoint_minutes: float = 10.0
    max_batches_per_epoch: int | None = None  # for smoke tests and quick looks
    stop_after_epoch: int | None = None  # end this invocation early; the schedule still plans `epochs`
    resume: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def architecture_kwargs(self) -> dict[str, Any]:
        return architecture_kwargs(self.to_json())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


def architecture_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """RAN's keyword arguments for a run's configuration (config.json): training and export build the same net."""
    kwargs: dict[str, Any] = {"dropout": config["dropout"]}
    if config["base_width"] != 64:
        kwargs["base_width"] = config["base_width"]
    if config.get("lesion_weight", 0.0) > 0:
        kwargs["lesion_head"] = True
    return kwargs
