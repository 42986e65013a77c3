"""The manifest that travels with a model's weights (`manifest.json`), and its schema.

Everything the engine needs to use the weights correctly, and everything a person needs to judge them, is here:
architecture, input size, preprocessing, class names, training data, metrics, version, the weights' sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from ran_desktop.engine.grading import DME_GRADE_NAMES, DR_GRADE_NAMES

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "weights.safetensors"
GRAPH_NAME = "model.onnx"
GRAPH_OUTPUTS = ("dr", "dme", "features")  # both heads' logits and the map they were pooled from
# A bundle with a lesion head: the graph also gives the encoder's stride-4 map, and a small second graph turns it and
# the features into the lesion logits, run only when the lesion layer is asked for (screening never pays for it).
FINE_OUTPUT = "fine"
LESION_GRAPH_NAME = "lesions.onnx"
LESION_GRAPH_INPUTS, LESION_GRAPH_OUTPUTS = (FINE_OUTPUT, "features"), ("lesions",)
VARIANT_NAMES = ("ran18", "ran34", "ran50")  # what model.ran.VARIANTS builds (not imported: that needs torch)

MAX_INPUT_SIZE = 1024

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "format_version", "name", "version", "architecture", "input_size", "preprocessing", "heads",
        "training_data", "trained", "metrics", "intended_use", "weights", "created",
    ],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "name": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "maxLength": 100},
        "version": {"type": "string", "minLength": 1, "maxLength": 40},
        "architecture": {
            "type": "object",
            "required": ["family", "variant", "kwargs"],
            "additionalProperties": False,
            "properties": {
                "family": {"const": "RAN"},
                "variant": {"enum": list(VARIANT_NAMES)},
                # Bounded, and only RAN's own arguments: a manifest is read before its weights are checked against
                # the network it describes, and must not be able to make the app build one too big for memory.
                "kwargs": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "base_width": {"type": "integer", "minimum": 1, "maximum": 256},
                        "attention_modules": {
                            "type": "array", "minItems": 3, "maxItems": 3,
                            "items": {"type": "integer", "minimum": 0, "maximum": 4},
                        },
                        "reduction": {"type": "integer", "minimum": 1, "maximum": 1024},
                        "dropout": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                        "nominal_input_size": {"type": "integer", "minimum": 32, "maximum": 2048},
                        "mask_min_size": {"type": "integer", "minimum": 1, "maximum": 512},
                        "zero_init_residual": {"type": "boolean"},
                        "lesion_head": {"type": "boolean"},
                    },
                },
            },
        },
        # Bounded: the app decodes at twice the input size, so an edited 3008 once took 4.9 GB for one image.
        "input_size": {"type": "integer", "minimum": 32, "maximum": MAX_INPUT_SIZE, "multipleOf": 16},
        "preprocessing": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "input_size": {"type": "integer", "minimum": 32, "maximum": MAX_INPUT_SIZE, "multipleOf": 16},
                "clahe": {"type": "boolean"},
                "clahe_clip_limit": {"type": "number", "exclusiveMinimum": 0, "maximum": 40},
                "clahe_tile_grid": {"type": "integer", "minimum": 1, "maximum": 64},
                "fov_threshold": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "fov_min_contrast": {"type": "number", "minimum": 0, "maximum": 255},
                "fov_margin": {"type": "number", "minimum": 0, "maximum": 0.5},
            },
        },
        "heads": {
            "type": "object",
            "required": ["dr", "dme"],
            "additionalProperties": False,
            "properties": {
                "dr": {"type": "array", "items": {"type": "string"}, "minItems": 5, "maxItems": 5},
                "dme": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
                # Channel names of the lesion head's output, where the network has one.
                "lesions": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 8},
            },
        },
        "training_data": {
            "type": "object",
            "required": ["description", "synthetic"],
            "properties": {
                "description": {"type": "string", "minLength": 1},
                "synthetic": {"type": "boolean"},  # some (or all) of it generated
                "real": {"type": "boolean"},  # some of it real photographs
                "datasets": {"type": "array", "items": {"type": "string"}},
                "credits": {"type": "array", "items": {"type": "string"}},
            },
        },
        "trained": {"type": "boolean"},
        "metrics": {"type": "object"},
        "intended_use": {"type": "string", "minLength": 1},
        "weights": {
            "type": "object",
            "required": ["file", "sha256", "dtype", "bytes"],
            "additionalProperties": False,
            "properties": {
                "file": {"const": WEIGHTS_NAME},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "dtype": {"enum": ["float16", "float32", "bfloat16"]},
                "bytes": {"type": "integer", "minimum": 1},
            },
        },
        "created": {"type": "string"},
        # Bounded to what a quality gate can mean; the seal (bundle_writer.write_manifest) stops edits within them.
        "quality_thresholds": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_fov_diameter_px": {"type": "number", "minimum": 64, "maximum": 4000},
                "min_fov_fraction": {"type": "number", "minimum": 0.01, "maximum": 1},
                "min_brightness": {"type": "number", "minimum": 1, "maximum": 128},
                "max_brightness": {"type": "number", "minimum": 128, "maximum": 254},
                "max_overexposed_fraction": {"type": "number", "minimum": 0, "maximum": 0.5},
                "min_contrast": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                "min_sharpness": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
                "min_vessel_contrast": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            },
        },
        # Referable = the model's probability of referable disease (grading.referable_probability) reaching the
        # threshold; where and how it was chosen, and what it gave there, travel with it.
        # The network as an ONNX graph beside the weights (training/inference_graph.py), where the bundle has one:
        # logits of both heads and the dilated module's map, checked against PyTorch when it was written.
        "inference_graph": {
            "type": "object",
            "required": ["file", "sha256", "bytes", "format", "opset", "outputs"],
            "additionalProperties": False,
            "properties": {
                "file": {"const": GRAPH_NAME},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "bytes": {"type": "integer", "minimum": 1},
                "format": {"const": "onnx"},
                "opset": {"type": "integer", "minimum": 13, "maximum": 30},
                "outputs": {"enum": [list(GRAPH_OUTPUTS), [*GRAPH_OUTPUTS, FINE_OUTPUT]]},
                "checked": {"type": "object"},
                "lesion_graph": {
                    "type": "object",
                    "required": ["file", "sha256", "bytes", "inputs", "outputs"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {"const": LESION_GRAPH_NAME},
                        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "bytes": {"type": "integer", "minimum": 1},
                        "inputs": {"const": list(LESION_GRAPH_INPUTS)},
                        "outputs": {"const": list(LESION_GRAPH_OUTPUTS)},
                        "checked": {"type": "object"},
                    },
                },
            },
        },
        "operating_point": {
            "type": "object",
            "required": ["referable_threshold"],
            "properties": {
                "referable_threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                "target_sensitivity": {"type": "number", "minimum": 0, "maximum": 1},
                "chosen_on": {"type": "string"},
                # The probabilities are the mean of the photograph's and its mirror image's (test-time flip):
                # the threshold was chosen on those, so the app must compute them the same way.
                "flip_average": {"type": "boolean"},
            },
        },
    },
}


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    architecture: dict[str, Any]
    input_size: int
    preprocessing: dict[str, Any]
    heads: dict[str, list[str]]
    training_data: dict[str, Any]
    trained: bool
    metrics: dict[str, Any]
    intended_use: str
    weights: dict[str, Any]
    created: str
    quality_thresholds: dict[str, Any] = field(default_factory=dict)
    operating_point: dict[str, Any] = field(default_factory=dict)
    inference_graph: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def referable_threshold(self) -> float | None:
        """See SCHEMA's operating_point; None: the most probable grades decide (bundles made before it)."""
        value = self.operating_point.get("referable_threshold")
        return None if value is None else float(value)

    @property
    def flip_average(self) -> bool:
        """Whether probabilities are averaged over the photograph and its mirror image (see SCHEMA)."""
        return bool(self.operating_point.get("flip_average"))

    @property
    def synthetic(self) -> bool:
        return bool(self.training_data.get("synthetic"))

    @property
    def title(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def clinical_warning(self) -> str:
        """What every screen and report must say about these weights ('' for validated, real-data weights)."""
        if not self.trained:
            return (
                "UNTRAINED MODEL: randomly initialised weights. Its grades are meaningless and must not be used "
                "for any clinical decision."
            )
        if self.synthetic and self.training_data.get("real"):
            return (
                "Trained on synthetic fundus images and a few real photographs: not validated for clinical use. "
                "Grades must be confirmed by a qualified grader."
            )
        if self.synthetic:
            return (
                "Trained on synthetic fundus images only: not validated for clinical use. "
                "Grades must be confirmed by a qualified grader."
            )
        return ""

    @property
    def credits(self) -> list[str]:
        """Attributions the training data's licences require wherever the weights go (model card, About, reports)."""
        return [str(c) for c in self.training_data.get("credits", [])]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for optional in ("quality_thresholds", "operating_point", "inference_graph"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Validate against SCHEMA and the app's own contract; raises jsonschema.ValidationError with the offending
        field."""
        jsonschema.validate(data, SCHEMA)
        _check_contract(data)
        return cls(**data)

    def content_sha256(self) -> str:
        """sha256 of everything the manifest says except its `weights` block (which fingerprints the weights file,
        where this hash is sealed in turn: bundle_writer.write_manifest). Any edit of a field changes it."""
        data = self.to_dict()
        del data["weights"]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def write(self, folder: Path) -> Path:
        """The JSON alone; a bundle's manifest is written by bundle_writer.write_manifest, which seals it."""
        path = Path(folder) / MANIFEST_NAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def _check_contract(data: dict[str, Any]) -> None:
    """What the schema cannot say: one input size (the network's and preprocessing's agree), and heads whose classes
    are the grading rules' grades, in their order (the app reads class i as the rules' grade i)."""
    for head, names in (("dr", DR_GRADE_NAMES), ("dme", DME_GRADE_NAMES)):
        if list(data["heads"][head]) != list(names):
            raise jsonschema.ValidationError(
                f"{data['heads'][head]} are not the grading rules' grades {list(names)}",
                path=deque(["heads", head]))
    size = data["preprocessing"].get("input_size")
    if size is not None and size != data["input_size"]:
        raise jsonschema.ValidationError(
            f"{size} differs from the network's input_size {data['input_size']}: the model would see photographs at "
            "a size it was not trained on", path=deque(["preprocessing", "input_size"]))
