"""Render screenshots of the app's main states to docs/screenshots/*.png (offscreen, or in the X server that
QT_QPA_PLATFORM=xcb and DISPLAY name, e.g. under xvfb-run).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--scale 1.0] [--size 1600x1000 --size 1280x800]

The first size is written as NAME.png, every further one as NAME-WxH.png.

Uses the model in models/ (or RAN_MODELS_DIR); without one, a seeded untrained bundle is created in a temporary
folder. The demo photographs are made from the bundled sample: a patient with both eyes in DICOM, an ungradable
(too dark) photograph and a file that is not an image. Nothing is written to the user's own data folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio, e.g. 2 for a 4K screen")
    parser.add_argument("--size", action="append", help="window size in logical pixels (repeatable; default "
                        "1600x1000 and 1280x800)")
    parser.add_argument("--fine-tune", action="store_true", help="also run a small real fine-tune through the app and "
                        "shoot its window and the models window (minutes; at the first size only)")
    return parser.parse_args()


def make_demo_images(folder: Path) -> dict[str, Path]:
    import cv2
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from dicom_factory import write_dicom

    from ran_desktop.paths import sample_images

    sample = sample_images()[0]
    rgb = cv2.cvtColor(cv2.imread(str(sample)), cv2.COLOR_BGR2RGB)
    folder.mkdir(parents=True)
    patient = dict(patient_id="P-0042", patient_name="DOE^JANE", birth_date="19580314", sex="F",
                   study_date="20250611")
    write_dicom(folder / "P-0042_left.dcm", rgb, image_laterality="L", **patient)
    write_dicom(folder / "P-0042_right.dcm", np.ascontiguousarray(rgb[:, ::-1]), image_laterality="R", **patient)
    dark = (rgb.astype(np.float32) * 0.08).astype(np.uint8)
    cv2.imwrite(str(folder / "clinic2_OD_underexposed.jpg"), cv2.cvtColor(dark, cv2.COLOR_RGB2BGR))
    shutil.copy(sample, folder / "clinic2_OS.jpg")
    (folder / "referral_letter.jpg").write_text("Dear colleague, ...", encoding="utf-8")
    many = folder.parent / "batch"
    many.mkdir()
    for i in range(400):
        shutil.copy(sample, many / f"screening_{i:04d}_OS.jpg")
    return {"demo": folder, "batch": many}


def blurred_diseased_photo(folder: Path) -> Path | None:
    """IDRiD's first photograph (diabetic retinopathy), out of focus, where ../shared/data holds it; else None."""
    import cv2

    found = sorted((ROOT.parent / "shared" / "data" / "idrid-segmentation").rglob("IDRiD_01.jpg"))
    if not found:
        return None
    sys.path.insert(0, str(ROOT))
    from training.quality_eval import defocus, load

    folder.mkdir(parents=True)
    path = folder / "clinic3_OD_blurred.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(defocus(load(found[0]), 6.0), cv2.COLOR_RGB2BGR))
    return path


def seed_review_history(storage, info, images: int = 360) -> None:
    """An earlier session of reviewed images, decided over three months, for the performance view: the model's grades
    agree with the grader's three times in four, and its probabilities are overconfident (so a temperature helps)."""
    import math
    import random

    from ran_desktop.engine.records.results import ScreeningResult, Status
    from ran_desktop.engine.records.review import GraderDecision

    rng = random.Random(7)
    session = storage.new_session()

    def probs(grade: int, classes: int, sure: float) -> tuple[float, ...]:
        rest = (1 - sure) / (classes - 1)
        return tuple(sure if i == grade else rest for i in range(classes))

    for i in range(images):
        dr, dme = rng.choice([0, 0, 0, 0, 1, 1, 2, 2, 3, 4]), rng.choice([0, 0, 0, 1, 2])
        agree = rng.random() < 0.78
        model_dr, model_dme = (dr, dme) if agree else (rng.randrange(5), rng.randrange(3))
        sure = 1 / (1 + math.exp(-rng.uniform(2.0, 5.0)))  # confident, more than its accuracy bears out
        result = ScreeningResult(key=f"history-{i}", path=Path(f"/clinic/2026/eye{i:04d}.jpg"),
                                 status=Status.SCREENED, model=info, dr_probs=probs(model_dr, 5, sure),
                                 dme_probs=probs(model_dme, 3, sure))
        record = storage.save_result(session, result)
        month = ("2026-10", "2026-11", "2026-12")[i * 3 // images]
        storage.save_decision(record.image_id, GraderDecision(dr, dme, grader="Dr A. Grader",
                                                               decided_at=f"{month}-{1 + i % 27:02d}T10:00:00+00:00"))


def shoot_fine_tune(window, tmp: Path, save, wait_for, settle) -> None:
    """A real, small fine-tune through the app's window: 48 generated photographs (grades known) screened and graded,
    ran-finetune run by the fine-tune window (2 epochs; the minimum lowered for the demo), then the models window."""
    import csv

    from ran_desktop.engine.records.review import GraderDecision
    from ran_desktop.gui.finetune_dialog import FinetuneDialog
    from ran_desktop.gui.models_dialog import ModelsDialog
    from training.synthetic import write_dataset

    photos = tmp / "clinic-photos"
    write_dataset(photos, 48, seed=3, size=512, workers=2)
    truth = {Path(row["image"]).name: row for row in csv.DictReader(open(photos / "labels.csv", encoding="utf-8"))}
    window.start_new_session()
    window.add_paths([photos / "images"])
    wait_for(lambda: not window.controller.running and window.results.rowCount() == 48, "the clinic's photographs")
    for record in window.results.records():
        row = truth[record.result.path.name]
        window.review_session.record_decision(
            record, GraderDecision(int(row["dr"]), int(row["dme"]), patient_id=row["patient"]), "Dr A. Grader")
    dialog = FinetuneDialog(window.data_dir, window.controller.loaded.folder, window.storage.path, window,
                            extra_args=("--min-images", "40", "--epochs", "2"))
    dialog.show()
    save(dialog, "finetune")
    dialog.start()
    wait_for(lambda: "Training: epoch 2" in dialog.stage.text(), "the fine-tune's second epoch", timeout=900)
    save(dialog, "finetune-running")
    wait_for(lambda: dialog.process is None, "the fine-tune", timeout=1800)
    save(dialog, "finetune-done")
    dialog.close()
    models = ModelsDialog(window.controller.models_folder, window.data_dir, window.controller.loaded.folder, window)
    models.resize(window.width(), models.height())
    models.show()
    if dialog.outcome_data is not None:
        models.select_folder(Path(dialog.outcome_data["bundle"]))
    save(models, "models")
    models.close()


def shoot_marks(window, save, wait_for) -> None:
    """A grader's marks on the right eye of P-0042: microaneurysms clicked, a haemorrhage outlined, an exudate."""
    from ran_desktop.engine.imaging.views import ORIGINAL
    from ran_desktop.engine.records.lesion_marks import EXUDATE, HAEMORRHAGE, MICROANEURYSM, LesionMark

    record = next(r for r in window.results.records() if r.result.path.name == "P-0042_right.dcm")
    window.select_key(record.key)
    detail = window.workspace.detail
    wait_for(lambda: ORIGINAL in detail.images, "the photograph to mark")
    detail.set_mode(ORIGINAL)
    width, height = record.result.metadata.original_size
    review = window.workspace.review
    for fx, fy in ((0.42, 0.40), (0.58, 0.62), (0.63, 0.35)):
        review.add_mark(LesionMark(MICROANEURYSM, ((width * fx, height * fy),)))
    review.add_mark(LesionMark(HAEMORRHAGE, tuple((width * (0.30 + dx), height * (0.55 + dy))
                                                  for dx, dy in ((0, 0), (0.05, -0.01), (0.06, 0.04), (0.01, 0.05)))))
    review.add_mark(LesionMark(EXUDATE, ((width * 0.70, height * 0.52),)))
    detail.marks_button.kind_actions[MICROANEURYSM].trigger()
    save(window, "lesion-marks")
    detail.marks_button.kind_actions[None].trigger()


def shoot_patient_form(window, width: int, height: int, save, wait_for) -> None:
    """Review > Grade patients on P-0042: both eyes side by side, the right eye graded, the left not yet."""
    from ran_desktop.engine.records.patient_groups import group_by_patient
    from ran_desktop.gui.patient_form import PatientForm

    window.patient_form()
    wait_for(lambda: window.findChild(PatientForm) is not None, "the patient form")
    form = window.findChild(PatientForm)
    form.resize(width, height)
    groups = group_by_patient(window.results.records(), window.settings.file_name_patterns)
    form.show_group(next(g for g in groups if g.patient_id == "P-0042"))
    wait_for(lambda: all(c.view.has_image for c in form.columns), "both eyes")
    form.columns[0].set_grades((2, 0))
    form.columns[1].set_grades((1, 0))
    save(form, "patient-form")
    form.close()


def shoot_second_grading(window, width: int, height: int, save, wait_for) -> None:
    """Three demo images through second grading (one settled by agreement, one by arbitration, one waiting for the
    arbitrator), then the arbitration screen as the lead grader sees it, and the graders' table."""
    from ran_desktop.engine.records.review import GraderDecision
    from ran_desktop.engine.records.second_grading import ARBITRATION, SECOND, QAPolicy
    from ran_desktop.gui.second_grading_dialog import SecondGradingDialog

    policy = QAPolicy(enabled=True, sample_share=1.0)
    window.settings.second_grading = policy
    storage = window.storage
    ids = [r.image_id for r in window.results.records() if r.status.value != "error"][:3]
    plan = [((3, 1), (3, 1), None), ((2, 0), (1, 0), (2, 0)), ((2, 1), (0, 0), None)]
    for image_id, (first, second, arbitration) in zip(ids, plan, strict=False):
        storage.save_decision(image_id, GraderDecision(*first, grader="Dr A. Grader"), qa=policy)
        storage.grade_again(image_id, SECOND, GraderDecision(*second, grader="Dr B. Second"))
        if arbitration is not None:
            storage.grade_again(image_id, ARBITRATION, GraderDecision(*arbitration, grader="Dr C. Lead"))
    window.settings.grader_name = "Dr C. Lead"
    window.second_grading_dialog()
    wait_for(lambda: window.findChild(SecondGradingDialog) is not None, "the second-grading window")
    dialog = window.findChild(SecondGradingDialog)
    wait_for(lambda: dialog.tabs.tabText(1) == "Arbitration (1)", "the arbitration queue")
    dialog.resize(width, height)
    dialog.tabs.setCurrentIndex(1)
    wait_for(lambda: dialog.arbitration_page.view.has_image, "the photograph to arbitrate")
    save(dialog, "arbitration")
    dialog.tabs.setCurrentIndex(2)
    save(dialog, "grader-agreement")
    dialog.close()
    window.settings.grader_name = "Dr A. Grader"
    window.settings.second_grading = QAPolicy()


def models_folder(tmp: Path) -> Path:
    from ran_desktop.engine.model.bundle import find_bundles
    from ran_desktop.paths import models_dir

    if find_bundles(models_dir()):
        return models_dir()
    from ran_desktop.engine.model.untrained import create_untrained_bundle

    folder = tmp / "models"
    create_untrained_bundle(folder / "ran18-untrained", variant="ran18", seed=0)
    return folder


def main() -> int:
    args = parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    sizes = args.size or ["1600x1000", "1280x800"]
    for number, size in enumerate(sizes):
        shoot(args, size, "" if number == 0 else f"-{size}")
    return 0


def shoot(args: argparse.Namespace, size: str, suffix: str) -> None:
    width, height = (int(v) for v in size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="ran-screenshots-"))
    os.environ["RAN_DATA_DIR"] = str(tmp / "data")

    from PySide6.QtWidgets import QApplication

    from ran_desktop.app import launch
    from ran_desktop.engine.records.review import GraderDecision

    app = QApplication.instance() or QApplication([sys.argv[0]])

    def wait_for(condition, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"screenshots: timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.005)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def save(window, name: str) -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        settle()
        target = args.out / f"{name}{suffix}.png"
        window.grab().save(str(target))
        print(target)

    images = make_demo_images(tmp / "demo")
    models = models_folder(tmp)
    window = launch([], tmp / "data", models)
    window.resize(width, height)
    wait_for(lambda: window.controller.model_state != "loading", "the model")
    save(window, "empty-window")

    window.add_paths([images["batch"]])
    wait_for(lambda: window.results.rowCount() >= 12 and window.workspace.detail.view.showing_overlay, "the batch")
    save(window, "batch-running")
    window.cancel_screening()
    wait_for(lambda: not window.controller.running, "the cancel")

    window.start_new_session()
    window.settings.grader_name = "Dr A. Grader"
    window.status.set_grader(window.settings.grader_name)
    window.add_paths([images["demo"]])
    wait_for(lambda: not window.controller.running and window.results.rowCount() == 5, "the demo images")
    record = next(r for r in window.results.records() if r.result.path.name == "P-0042_right.dcm")
    window.storage.save_decision(record.image_id, GraderDecision(2, 0, comment="Dot haemorrhages, two quadrants",
                                                           kind="overridden", grader="Dr A. Grader"))
    window.results.update_record(window.storage.record(record.image_id))
    window.select_key(next(r.key for r in window.results.records() if r.result.path.name == "P-0042_left.dcm"))
    wait_for(lambda: window.workspace.detail.view.showing_overlay, "the heat map")
    save(window, "results-heatmap")
    from ran_desktop.engine.imaging.views import MACULA, RED_FREE
    from ran_desktop.gui.view_modes import GRADCAM

    for mode, name in ((RED_FREE, "red-free"), (MACULA, "macular-grid")):
        window.workspace.detail.set_mode(mode)
        save(window, name)
    view = window.workspace.detail.view  # the loupe over the disc's edge, in red-free
    window.workspace.detail.set_mode(RED_FREE)
    window.commands.magnifier.trigger()
    disc = view.base.boundingRect()
    view.magnify_at(view.mapFromScene(disc.left() + disc.width() * 0.3, disc.top() + disc.height() * 0.45))
    save(window, "magnifier")
    window.commands.magnifier.trigger()
    from ran_desktop.engine.imaging.views import ORIGINAL

    display = window.workspace.detail.display_button  # a dark photograph lifted: brightness and gamma
    window.workspace.detail.set_mode(ORIGINAL)
    display.brightness.setValue(10)
    display.gamma.setValue(160)
    settle(1.0)  # the adjusted picture comes from a worker
    save(window, "display")
    display.reset()
    window.workspace.detail.set_mode(GRADCAM)
    from ran_desktop.gui.view_modes import LESION_LAYER

    heads = window.workspace.detail.head_box  # the model's lesion layer, where the bundle has a lesion head
    if heads.findData(LESION_LAYER) >= 0:
        shown = window.current_record().key
        window.select_key(record.key)  # the eye with retinopathy
        heads.setCurrentIndex(heads.findData(LESION_LAYER))
        wait_for(lambda: window.workspace.detail.caption.text().startswith("The model's lesion layer"),
                 "the lesion layer")
        save(window, "lesion-layer")
        heads.setCurrentIndex(heads.findData("dr"))
        window.select_key(shown)

    shoot_marks(window, save, wait_for)
    window.workspace.list_tabs.setCurrentWidget(window.workspace.patients)
    window.workspace.patients.refresh(window.results.entries(), window.results.record_by_key)
    save(window, "patients")
    shoot_patient_form(window, width, height, save, wait_for)
    shoot_second_grading(window, width, height, save, wait_for)

    from PySide6.QtWidgets import QMessageBox

    from ran_desktop.engine.records.results import model_info
    from ran_desktop.gui.performance_dialog import ADOPT_TITLE, PerformanceDialog

    seed_review_history(window.storage, model_info(window.controller.loaded))
    window.performance_dialog()
    wait_for(lambda: window.findChild(PerformanceDialog) is not None, "the performance view")
    performance = window.findChild(PerformanceDialog)
    wait_for(performance.save.isEnabled, "the performance figures")
    performance.resize(width, height)
    save(performance, "performance")
    question = QMessageBox(QMessageBox.Icon.Question, ADOPT_TITLE, performance.adopt_text(),
                           QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, performance)
    question.show()
    save(question, "calibration")
    question.close()
    performance.close()

    blurred = blurred_diseased_photo(tmp / "poor")
    if blurred is not None:  # a photograph too poor to grade on which the model suspects disease: refer
        window.workspace.list_tabs.setCurrentIndex(0)
        window.add_paths([blurred])
        wait_for(lambda: not window.controller.running and window.results.rowCount() == 6, "the blurred photograph")
        window.select_key(next(r.key for r in window.results.records() if r.result.path == blurred))
        window.workspace.detail.tabs.setCurrentIndex(1)
        save(window, "ungradable-refer")
    if args.fine_tune and not suffix:  # last: it opens a session of its own
        shoot_fine_tune(window, tmp, save, wait_for, settle)
    window.close()
    window.deleteLater()
    settle()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
