"""The CPU build ships without torch (installer/README.md): the engine runs the bundle's ONNX graph with ONNX Runtime
and gives the grades, probabilities and heat maps PyTorch gives, on the sample, generated photographs of every
grade and a DICOM file; what needs PyTorch says so. The engine runs in a fresh interpreter where torch cannot be
imported, as where it is not installed."""

from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest
from dicom_factory import write_dicom
from left_out import run_without

from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.explanation import explain, lesion_maps
from ran_desktop.engine.model.untrained import create_untrained_bundle
from ran_desktop.engine.screening.preparation import Prepared, prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions
from training.export import main as ran_export
from training.synthetic import generate_fundus

NO_TORCH = ("torch", "torchvision")
CLASSES = (("dr", 5), ("dme", 3))

SCREEN_WITHOUT_TORCH = f"""
import json, sys
from pathlib import Path
import numpy as np
from ran_desktop.engine.errors import BundleError
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.model.explanation import explain, has_lesion_head, lesion_maps
from ran_desktop.engine.screening.preparation import Prepared, prepare_file
from ran_desktop.engine.screening.screener import Screener, ScreeningOptions

bundle, out, photos = Path(sys.argv[1]), Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
loaded = load_bundle(bundle)
screener = Screener(loaded, ScreeningOptions(batch_size=4, heatmaps=True))
results = list(screener.screen_files(photos))
prepared = next(e for e in prepare_file(photos[0], screener._plan) if isinstance(e, Prepared))
explained = [explain(loaded, prepared.tensor, head, c) for head, n in {CLASSES!r} for c in range(n)]
refusals = {{}}
attempts = (("network", lambda: loaded.network), ("torch runtime", lambda: load_bundle(bundle, runtime="torch")),
            ("no graph", lambda: load_bundle(bundle.parent / "no-graph")))
for what, attempt in attempts:
    try:
        attempt()
    except BundleError as exc:
        refusals[what] = exc.reason
from ran_desktop.cli.screen import main as ran_screen
cli_out = out.parent / "cli"
cli_out.mkdir()
cli_code = ran_screen([*map(str, photos), "--out", str(cli_out / "results.csv"), "--model", str(bundle), "--quiet",
                       "--heatmaps", str(cli_out / "maps"), "--report", str(cli_out / "reports")])
np.savez(out, heat=np.stack([r.heatmap for r in results if r.heatmap is not None]),
         explained=np.stack([e.heatmap for e in explained]), lesions=lesion_maps(loaded, prepared.tensor))
print(json.dumps({{
    "rows": [[r.key, r.status.value, r.dr_probs, r.dme_probs] for r in results],
    "device": results[0].model.device, "no network": loaded.model is None, "lesion head": has_lesion_head(loaded),
    "explained probs": [e.probs for e in explained], "refusals": refusals, "torch imported": "torch" in sys.modules,
    "cli": cli_code, "cli csv": (cli_out / "results.csv").read_text(encoding="utf-8"),
    "cli maps": len(list((cli_out / "maps").glob("*.png"))),
    "cli reports": len(list((cli_out / "reports").glob("*.pdf"))),
}}))
"""


@pytest.fixture(scope="module")
def with_graph(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    create_untrained_bundle(root / "no-graph", seed=5, input_size=64, base_width=8, dtype="float32")
    folder = root / "tiny-graph"
    create_untrained_bundle(folder, seed=11, input_size=64, base_width=8, dtype="float16", lesion_head=True)
    assert ran_export(["--add-graph", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def photographs(sample_path, tmp_path_factory):
    """The sample, a generated photograph of every DR grade, the sample as DICOM, and a file that is no photograph."""
    folder = tmp_path_factory.mktemp("photos")
    paths = [sample_path]
    for grade in range(5):
        path = folder / f"generated_grade{grade}_OD.png"
        cv2.imwrite(str(path), cv2.cvtColor(generate_fundus(300 + grade, dr=grade, size=512).image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    paths.append(write_dicom(folder / "sample.dcm", rgb, transfer_syntax="jpeg", image_laterality="L"))
    letter = folder / "letter.jpg"
    letter.write_text("not a photograph", encoding="utf-8")
    return [*paths, letter]


@pytest.fixture(scope="module")
def without_torch(with_graph, photographs, tmp_path_factory):
    arrays = tmp_path_factory.mktemp("out") / "maps.npz"
    done = run_without(NO_TORCH, SCREEN_WITHOUT_TORCH, [str(with_graph), str(arrays), *map(str, photographs)],
                       env={"RAN_DEVICE": "", "RAN_RUNTIME": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(arrays)


def test_the_engine_without_torch_grades_and_explains_as_pytorch_does(with_graph, photographs, without_torch):
    found, maps = without_torch
    assert not found["torch imported"] and found["no network"] and found["lesion head"]  # the lesion graph
    assert found["device"].endswith("threads), ONNX Runtime")  # results and reports say what ran the model

    # The same photographs through PyTorch, in this process.
    loaded = load_bundle(with_graph, device="cpu", runtime="torch")
    screener = Screener(loaded, ScreeningOptions(batch_size=4, heatmaps=True))
    expected = list(screener.screen_files(photographs))
    assert [row[:2] for row in found["rows"]] == [[r.key, r.status.value] for r in expected]
    assert sum(r.dr_probs is not None for r in expected) == 7 and expected[-1].status.value == "error"
    for row, result in zip(found["rows"], expected, strict=True):
        if result.dr_probs is not None:
            assert np.argmax(row[2]) == result.dr_grade and np.argmax(row[3]) == result.dme_grade
            np.testing.assert_allclose(row[2], result.dr_probs, atol=1e-4)
            np.testing.assert_allclose(row[3], result.dme_probs, atol=1e-4)
        else:
            assert row[2] is None
    np.testing.assert_allclose(maps["heat"], np.stack([r.heatmap for r in expected if r.heatmap is not None]),
                               atol=1e-3)
    # The detail view's maps of every DR and DME class, with their probabilities.
    prepared = next(e for e in prepare_file(photographs[0], screener._plan) if isinstance(e, Prepared))
    wanted = [explain(loaded, prepared.tensor, head, c) for head, n in CLASSES for c in range(n)]
    np.testing.assert_allclose(maps["explained"], np.stack([e.heatmap for e in wanted]), atol=1e-3)
    np.testing.assert_allclose(np.concatenate(found["explained probs"]), np.concatenate([e.probs for e in wanted]),
                               atol=1e-4)
    # The model's lesion layer, through the bundle's lesion graph.
    np.testing.assert_allclose(maps["lesions"], lesion_maps(loaded, prepared.tensor), atol=1e-4)


def test_the_command_line_without_torch_writes_results_heat_maps_and_reports(without_torch):
    found = without_torch[0]
    assert found["cli"] == 1  # 1: one file is not a photograph; the others are screened
    rows = list(csv.DictReader(io.StringIO(found["cli csv"])))
    assert len(rows) == 8 and {row["device"].split(", ")[-1] for row in rows} == {"ONNX Runtime"}
    assert found["cli maps"] == 7 and found["cli reports"] >= 2  # a report per patient and the batch summary


def test_what_needs_pytorch_says_so_without_it(without_torch):
    refusals = without_torch[0]["refusals"]
    assert "needs PyTorch" in refusals["network"]
    assert "CPU build (no PyTorch)" in refusals["torch runtime"] and "RAN_RUNTIME=onnx" in refusals["torch runtime"]
    assert "no inference graph" in refusals["no graph"] and "no PyTorch to run it" in refusals["no graph"]
