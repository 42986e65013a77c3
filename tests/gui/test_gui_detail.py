"""The detail view: the picture in five views, Grad-CAM on demand, probabilities, quality and file facts."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import write_dicom
from gui_helpers import TIMEOUT_MS, drop, key_of_file, wait_idle
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from ran_desktop.app import launch
from ran_desktop.engine.imaging.views import CLAHE, FIELD_OF_VIEW, MACULA, MODEL_VIEW, NORMALISED, ORIGINAL, RED_FREE
from ran_desktop.engine.model.untrained import create_untrained_bundle
from ran_desktop.gui.detail_panel import GRADCAM
from ran_desktop.gui.display import percent
from ran_desktop.gui.pixel_arrays import array_from_qimage
from ran_desktop.gui.settings import AppSettings
from ran_desktop.gui.view_modes import LESION_LAYER


@pytest.fixture
def screened(open_window, qtbot, sample_path, black_photo):
    window = open_window()
    drop(window, [sample_path, black_photo])
    wait_idle(qtbot, window, 2)
    return window


def select(window, name):
    window.select_key(next(r.key for r in window.results.records() if r.result.path.name == name))


def overlay(window) -> np.ndarray:
    return array_from_qimage(window.workspace.detail.view.overlay.pixmap().toImage())


def test_selecting_a_row_shows_its_heat_map(screened, qtbot):
    window = screened
    select(window, "black_OD.png")
    qtbot.waitUntil(lambda: "ungradable" in window.workspace.detail.caption.text(), timeout=TIMEOUT_MS)
    assert not window.workspace.detail.view.showing_overlay  # no map for an image the gate rejected

    select(window, "normal_fundus_OS.jpg")
    assert window.workspace.detail.mode == GRADCAM
    qtbot.waitUntil(lambda: window.workspace.detail.view.showing_overlay, timeout=TIMEOUT_MS)
    record = window.current_record()
    assert window.workspace.detail.record.key == record.key
    heat = overlay(window)
    assert heat.std() > 0  # a real map, not a flat layer
    caption = window.workspace.detail.caption.text()
    assert f"evidence for {record.result.dr_grade} –" in caption and "the model's grade" in caption
    assert "UNTRAINED MODEL" not in caption  # the warning is said once, in the banner
    assert "UNTRAINED MODEL" in window.banner.text.text()
    # The map lies over the crop the model saw.
    assert window.workspace.detail.view.base.pixmap().size() == window.workspace.detail.images[MODEL_VIEW].size()


def test_heat_maps_for_the_other_head_and_any_grade_are_computed_on_demand(screened, qtbot):
    window = screened
    select(window, "normal_fundus_OS.jpg")
    qtbot.waitUntil(lambda: window.workspace.detail.view.showing_overlay, timeout=TIMEOUT_MS)
    jobs = window.details.heat_jobs
    dr_map = overlay(window)

    window.workspace.detail.head_box.setCurrentIndex(window.workspace.detail.head_box.findData("dme"))
    qtbot.waitUntil(lambda: window.details.heat_jobs == jobs + 1, timeout=TIMEOUT_MS)
    assert "DME head" in window.workspace.detail.caption.text()
    assert window.workspace.detail.grade_box.count() == 4  # predicted + DME grades 0-2

    window.workspace.detail.grade_box.setCurrentIndex(window.workspace.detail.grade_box.findData(2))
    qtbot.waitUntil(lambda: window.details.heat_jobs == jobs + 2, timeout=TIMEOUT_MS)
    assert "evidence for 2 – DME at or near the fovea" in window.workspace.detail.caption.text()
    assert "the model's grade is" in window.workspace.detail.caption.text()
    assert not np.array_equal(overlay(window), dr_map)


def test_opacity_slider_blends_without_recomputing(screened, qtbot):
    window = screened
    select(window, "normal_fundus_OS.jpg")
    qtbot.waitUntil(lambda: window.workspace.detail.view.showing_overlay, timeout=TIMEOUT_MS)
    jobs = window.details.heat_jobs
    window.workspace.detail.opacity.setValue(80)
    assert window.workspace.detail.view.overlay.opacity() == pytest.approx(0.8)
    assert window.details.heat_jobs == jobs
    assert window.settings.heat_opacity == 80


def test_view_modes_switch_between_the_preprocessing_stages(screened, qtbot):
    window = screened
    select(window, "normal_fundus_OS.jpg")
    qtbot.waitUntil(lambda: bool(window.workspace.detail.images), timeout=TIMEOUT_MS)
    sizes = {}
    for mode in (ORIGINAL, FIELD_OF_VIEW, CLAHE, NORMALISED):
        window.workspace.detail.mode_buttons[mode].click()
        assert window.workspace.detail.mode == mode and not window.workspace.detail.view.showing_overlay
        sizes[mode] = window.workspace.detail.view.base.pixmap().size().toTuple()
    input_size = window.controller.loaded.manifest.input_size
    assert sizes[CLAHE] == sizes[NORMALISED] == (input_size, input_size)
    assert sizes[ORIGINAL] == sizes[FIELD_OF_VIEW] and sizes[ORIGINAL][0] > 1000
    original = array_from_qimage(window.workspace.detail.images[ORIGINAL])
    outlined = array_from_qimage(window.workspace.detail.images[FIELD_OF_VIEW])
    assert (original != outlined).any()  # the disc is drawn on the field-of-view view
    assert window.settings.view_mode == NORMALISED
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.workspace.detail.mode == GRADCAM
    qtbot.waitUntil(lambda: window.workspace.detail.view.showing_overlay, timeout=TIMEOUT_MS)


def test_the_grading_views_red_free_and_the_macular_grid(screened, qtbot):
    """Red-free shows the photograph's green channel in grey; the macular grid view is the photograph with the grid
    around the fovea the engine found (a left eye: temporal to the disc, on the viewer's right), which the grader
    can drag."""
    window = screened
    select(window, "normal_fundus_OS.jpg")
    detail = window.workspace.detail
    qtbot.waitUntil(lambda: bool(detail.images), timeout=TIMEOUT_MS)
    qtbot.keyClick(window, Qt.Key.Key_6, Qt.KeyboardModifier.ControlModifier)
    assert detail.mode == RED_FREE and not detail.view.showing_overlay
    original = array_from_qimage(detail.images[ORIGINAL])
    free = array_from_qimage(detail.images[RED_FREE])
    assert (free[..., 0] == free[..., 1]).all() and (free[..., 1] == free[..., 2]).all()
    assert np.abs(free[..., 1].astype(int) - original[..., 1]).max() <= 1  # the green channel, through Qt's copy
    qtbot.keyClick(window, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert detail.mode == MACULA
    assert detail.view.base.pixmap().size() == detail.images[ORIGINAL].size()  # the photograph itself
    item = detail.view.grid_item
    assert item is not None and item.isVisible() and (item.pos().x(), item.pos().y()) == detail.grid.fovea
    centre_x = item.pos().x()
    assert centre_x > original.shape[1] / 2  # around a fovea right of the middle: this left eye's disc is left
    item.setPos(item.pos().x() - 40, item.pos().y() + 25)  # the grader drags it where the fovea really is
    assert detail.grid.fovea == (centre_x - 40, item.pos().y())
    assert detail.grid.radii == item.grid.radii
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert detail.view.grid_item is None  # only in the macular grid view


def test_zoom_and_fit(screened, qtbot):
    window = screened
    select(window, "normal_fundus_OS.jpg")
    qtbot.waitUntil(lambda: window.workspace.detail.view.has_image, timeout=TIMEOUT_MS)
    fitted = window.workspace.detail.view.zoom
    window.workspace.detail.zoom_in_button.click()
    assert window.workspace.detail.view.zoom == pytest.approx(fitted * 1.25)
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.workspace.detail.view.zoom == pytest.approx(fitted)


def test_probabilities_quality_and_file_facts(screened):
    window = screened
    select(window, "normal_fundus_OS.jpg")
    record = window.current_record()
    assert window.workspace.detail.dr_bars.values() == pytest.approx(record.result.dr_probs, abs=1e-3)
    assert window.workspace.detail.dme_bars.values() == pytest.approx(record.result.dme_probs, abs=1e-3)
    bars = window.workspace.detail.dr_bars  # each value beside its bar, never drawn across the bar's fill
    assert [label.text() for label in bars.percents] == [percent(p) for p in record.result.dr_probs]
    assert not any(bar.isTextVisible() for bar in bars.bars)
    chosen = record.result.dr_grade  # the model's grade, bold
    assert [label.font().bold() for label in bars.percents] == [i == chosen for i in range(5)]
    assert all(bars.percents[i].geometry().left() >= bars.bars[i].geometry().right() for i in range(5))
    caveat = window.workspace.detail.prob_caveat
    assert caveat.text() == "The model's probabilities (untrained model); not calibrated."
    assert caveat.isVisibleTo(window)
    # The weights' warning appears once on the screen: in the banner, not again in every panel.
    shown = [w for w in window.findChildren(QLabel) if w.isVisibleTo(window) and "UNTRAINED MODEL" in w.text()]
    assert shown == [window.banner.text]
    assert window.workspace.detail.quality_verdict.text() == "<b>Gradable</b>"
    quality = table_dict(window.workspace.detail.quality_table)
    assert quality["Brightness (0-255)"] == f"{record.result.quality.scores['brightness']:.1f}"
    facts = table_dict(window.workspace.detail.file_table)
    assert facts["Format"] == "JPEG, 8-bit RGB" and facts["Size"] == "1411 × 1411 px"

    select(window, "black_OD.png")
    assert window.workspace.detail.quality_verdict.text().startswith("<b>Ungradable</b>: ")
    assert window.workspace.detail.dr_bars.values() == [0.0] * 5 and not window.workspace.detail.dr_bars.isEnabled()


def test_dicom_metadata_is_shown(open_window, qtbot, sample_path, tmp_path):
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)
    path = write_dicom(tmp_path / "visit.dcm", [rgb, rgb[:, ::-1].copy()], patient_id="P-99",
                       patient_name="Doe^Jane", birth_date="19600131", study_date="20240115", image_laterality="L")
    window = open_window()
    drop(window, [path])
    wait_idle(qtbot, window, 2)  # one row per frame
    window.select_key(next(r.key for r in window.results.records() if r.result.metadata.frame_index == 1))
    facts = table_dict(window.workspace.detail.file_table)
    assert facts["Patient ID"] == "P-99" and facts["Birth date"] == "1960-01-31"
    assert facts["Frame"] == "2 of 2" and facts["Format"].startswith("DICOM")
    qtbot.waitUntil(lambda: window.workspace.detail.view.showing_overlay, timeout=TIMEOUT_MS)


def table_dict(table) -> dict[str, str]:
    return {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}


def test_a_photograph_moved_away_since_screening_is_explained(open_window, qtbot, sample_path, tmp_path):
    moved = tmp_path / "moved_OS.jpg"
    moved.write_bytes(sample_path.read_bytes())
    window = open_window()
    drop(window, [moved])
    wait_idle(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.workspace.detail.view.has_image, timeout=TIMEOUT_MS)
    moved.unlink()
    window.workspace.table.setCurrentIndex(window.proxy.index(-1, -1))  # away and back: the picture is read again
    window.select_key(key_of_file(window, moved))
    qtbot.waitUntil(lambda: "file not found" in window.workspace.detail.caption.text(), timeout=TIMEOUT_MS)
    assert window.workspace.detail.view.message.text() == "The picture cannot be shown"
    assert window.workspace.detail.dr_bars.isEnabled()  # the stored result is still shown


def test_the_models_lesion_layer_is_offered_only_where_the_bundle_has_a_lesion_head(screened, qtbot, sample_path,
                                                                                   tmp_path, monkeypatch):
    assert screened.workspace.detail.head_box.findData(LESION_LAYER) == -1  # the tiny bundle has no lesion head
    screened.close()
    folder = tmp_path / "lesion-models" / "tiny-lesions"
    create_untrained_bundle(folder, seed=7, input_size=64, base_width=8, dtype="float32", lesion_head=True)
    monkeypatch.setenv("RAN_MODELS_DIR", str(folder.parent))
    data = tmp_path / "other-clinic"
    monkeypatch.setenv("RAN_DATA_DIR", str(data))
    AppSettings(data).grader_name = "Dr Test"
    window = launch([], data, folder.parent)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=TIMEOUT_MS)
    drop(window, [sample_path])
    wait_idle(qtbot, window, 1)
    window.select_key(key_of_file(window, sample_path))
    detail = window.workspace.detail
    qtbot.waitUntil(lambda: detail.view.showing_overlay, timeout=TIMEOUT_MS)
    cam_map = overlay(window)
    jobs = window.details.heat_jobs
    detail.head_box.setCurrentIndex(detail.head_box.findData(LESION_LAYER))
    qtbot.waitUntil(lambda: window.details.heat_jobs == jobs + 1, timeout=TIMEOUT_MS)
    caption = detail.caption.text()
    assert caption.startswith("The model's lesion layer (its lesion head; your own marks are a separate layer)")
    assert "pink microaneurysms" in caption and "has not been measured" in caption  # untrained: no AUPR
    assert not detail.grade_box.isEnabled()  # it explains no grade
    assert not np.array_equal(overlay(window), cam_map)
