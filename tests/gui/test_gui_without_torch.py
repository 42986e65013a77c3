"""The window of the CPU build, which has no torch: it loads the shipped model as its ONNX graph, screens the sample,
shows the heat map of the model's grade and says which runtime made it, and draws the model's lesion layer from the
bundle's lesion graph. In a fresh interpreter where torch cannot be imported, as where it is not installed."""

from __future__ import annotations

import json

from left_out import ROOT, run_without

WINDOW_WITHOUT_TORCH = """
import json, sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
from ran_desktop.app import launch
from ran_desktop.gui.view_modes import GRADCAM, LESION_LAYER

app = QApplication([sys.argv[0]])
data, models, sample, shot = (Path(p) for p in sys.argv[1:5])

def wait_for(condition, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.005)

window = launch([sample], data, models)
window.resize(1280, 800)
wait_for(lambda: window.controller.model_state == "ready", "the model")
wait_for(lambda: not window.controller.running and window.results.rowCount() == 1, "the sample")
record = window.results.records()[0]
window.select_key(record.key)
detail = window.workspace.detail
detail.set_mode(GRADCAM)
wait_for(lambda: detail.view.showing_overlay, "the heat map")
wait_for(lambda: detail.caption.text().startswith("Grad-CAM"), "the heat map's caption")
caption = detail.caption.text()
offered = detail.head_box.findData(LESION_LAYER)
if offered >= 0:
    detail.head_box.setCurrentIndex(offered)
    wait_for(lambda: detail.caption.text().startswith("The model's lesion layer"), "the lesion layer")
for _ in range(30):
    app.processEvents()
    time.sleep(0.01)
window.grab().save(str(shot))
print(json.dumps({
    "status": record.result.status.value, "dr": record.result.dr_probs, "device": record.result.model.device,
    "status bar": window.status.device_label.text(), "caption": caption, "lesion caption": detail.caption.text(),
    "lesion layer offered": offered >= 0, "torch imported": "torch" in sys.modules,
}))
window.close()
"""


def test_the_window_without_torch_screens_and_explains_with_onnx_runtime(tmp_path, sample_path):
    shot = tmp_path / "cpu-build-window.png"
    done = run_without(("torch", "torchvision"), WINDOW_WITHOUT_TORCH,
                       [str(tmp_path / "data"), str(ROOT / "models"), str(sample_path), str(shot)],
                       env={"RAN_DEVICE": "", "RAN_RUNTIME": "", "RAN_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert not seen["torch imported"] and seen["status"] == "screened" and abs(sum(seen["dr"]) - 1) < 1e-6
    assert seen["device"].endswith("threads), ONNX Runtime") and seen["status bar"].endswith(", ONNX Runtime")
    assert "DR head: evidence for" in seen["caption"]
    assert seen["lesion layer offered"] and "microaneurysms" in seen["lesion caption"]  # from the lesion graph
    assert shot.stat().st_size > 10_000
