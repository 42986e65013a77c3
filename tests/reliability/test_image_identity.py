"""An image is its content, not its path: a decision never moves to another photograph put under the same name
(red-team issue, items 1 and 3)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from dicom_factory import write_dicom

from ran_desktop.engine.errors import ImageChangedError
from ran_desktop.engine.imaging.loading import load_images, load_screened_frame
from ran_desktop.engine.imaging.preview import make_preview
from ran_desktop.engine.records.review import CONFIRMED, GraderDecision
from ran_desktop.engine.records.session_export import write_session
from ran_desktop.engine.records.storage import Storage, open_storage
from ran_desktop.engine.screening.batch import BatchRun
from ran_desktop.reports.pictures import record_pictures


def _photo(sample_path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(sample_path)), cv2.COLOR_BGR2RGB)


def _screen(loaded, db, session, paths) -> tuple[list, list[str]]:
    records, changed = [], []
    BatchRun(loaded, db, session, paths).run(lambda n: None, lambda r, d, t: records.append(r), changed.append)
    return records, changed


def test_a_replaced_dicom_is_a_new_image_and_the_decision_stays_with_the_first(loaded, sample_path, tmp_path):
    """The attack: screen IMG_0001.dcm (patient A), confirm DR 0, put patient B's too-dark photograph at the same
    path and drop it again. Before the fix the row showed B with A's 'DR 0, confirmed' and no new audit entry."""
    rgb = _photo(sample_path)
    path = tmp_path / "IMG_0001.dcm"
    write_dicom(path, rgb, patient_id="A-1", patient_name="Alpha^Ann")
    with open_storage(tmp_path / "data") as store:
        db, session = store.path, store.current_session()
    (first,), changed = _screen(loaded, db, session, [path])
    assert changed == []
    with Storage(db) as store:
        store.save_decision(first.image_id, GraderDecision(dr_grade=0, dme_grade=0, kind=CONFIRMED, grader="Dr A"))

    write_dicom(path, (rgb * 0.05).astype(np.uint8), patient_id="B-2", patient_name="Beta^Bob")  # too dark
    (second,), changed = _screen(loaded, db, session, [path])
    assert second.key != first.key and second.image_id != first.image_id
    assert second.decision is None  # the new photograph is not reviewed: nothing carried over
    assert len(changed) == 1 and "IMG_0001.dcm now holds another photograph" in changed[0]
    assert "keeps its decision" in changed[0]
    with Storage(db) as store:
        rows = {r.image_id: r for r in store.load_session(session)}
        assert set(rows) == {first.image_id, second.image_id}
        old, new = rows[first.image_id], rows[second.image_id]
        assert old.decision is not None and old.decision.dr_grade == 0 and old.superseded
        assert old.result.metadata.patient_id == "A-1" and new.result.metadata.patient_id == "B-2"
        assert new.decision is None and not new.superseded
        assert [e.action for e in store.audit_trail(first.image_id)] == ["decision"]
        assert store.audit_trail(second.image_id) == []
    # Nothing shows the new photograph under the old decision: the preview and the report refuse it.
    with pytest.raises(ImageChangedError, match="changed since it was screened"):
        make_preview(old.key, path, None, loaded.preprocess_settings, old.result.metadata.content_sha256)
    pictures = record_pictures(old, loaded)
    assert "changed since it was screened" in pictures.photo_note and pictures.photo == old.thumbnail
    # The export keeps both, each with its own patient and decision.
    out = write_session([old, new], tmp_path / "export.csv")
    text = out.read_text()
    assert "A-1" in text and "B-2" in text


def test_the_same_file_dropped_again_keeps_its_row_and_decision(loaded, sample_path, tmp_path):
    path = tmp_path / "eye_OD.jpg"
    path.write_bytes(sample_path.read_bytes())
    with open_storage(tmp_path / "data") as store:
        db, session = store.path, store.current_session()
    (first,), _ = _screen(loaded, db, session, [path])
    with Storage(db) as store:
        store.save_decision(first.image_id, GraderDecision(dr_grade=1, dme_grade=0, kind=CONFIRMED, grader="Dr A"))
    (again,), changed = _screen(loaded, db, session, [path])
    assert again.image_id == first.image_id and again.decision is not None and changed == []
    # and a file put back as it was after a replacement is the first image again, current once more
    other = tmp_path / "other.jpg"
    cv2.imwrite(str(other), cv2.imread(str(sample_path))[::-1])
    original = path.read_bytes()
    path.write_bytes(other.read_bytes())
    (replaced,), changed = _screen(loaded, db, session, [path])
    path.write_bytes(original)
    (back,), changed_back = _screen(loaded, db, session, [path])
    assert replaced.image_id != first.image_id and back.image_id == first.image_id and changed and changed_back
    with Storage(db) as store:
        rows = {r.image_id: r for r in store.load_session(session)}
        assert not rows[first.image_id].superseded and rows[replaced.image_id].superseded


def test_a_file_named_like_a_frame_never_shares_a_frames_key(loaded, sample_path, tmp_path):
    """Item 3: frame 1 of IMG0001 and a file named 'IMG0001#frame1' once shared a key (3 rows reported, 2 stored)."""
    rgb = _photo(sample_path)
    multi = tmp_path / "IMG0001"
    write_dicom(multi, [rgb, rgb[:, ::-1].copy()])
    lookalike = tmp_path / "IMG0001#frame1"
    lookalike.write_bytes(sample_path.read_bytes())
    keys = [im.key for p in (multi, lookalike) for im in load_images(p)]
    assert len(set(keys)) == 3
    with open_storage(tmp_path / "data") as store:
        db, session = store.path, store.current_session()
    records, _ = _screen(loaded, db, session, [multi, lookalike])
    with Storage(db) as store:
        assert len(records) == 3 and store.count_images(session) == 3


def test_a_stored_frame_is_checked_against_its_file(sample_path, tmp_path):
    rgb = _photo(sample_path)
    path = tmp_path / "two.dcm"
    write_dicom(path, [rgb, rgb[::-1].copy()])
    frames = load_images(path)
    sha = frames[1].metadata.content_sha256
    assert load_screened_frame(path, 1, sha).metadata.frame_index == 1
    assert load_screened_frame(path, 1, None).metadata.frame_index == 1  # results stored before hashing
    write_dicom(path, [rgb, rgb])
    with pytest.raises(ImageChangedError):
        load_screened_frame(path, 1, sha)


def test_the_window_tells_the_grader_and_marks_the_earlier_row(start_window, qtbot, sample_path, tmp_path):
    from gui_helpers import drop, wait_idle
    from PySide6.QtWidgets import QMessageBox

    from ran_desktop.gui.display import REPLACED_MARK, review_text, review_word

    rgb = _photo(sample_path)
    path = tmp_path / "IMG_0001.dcm"
    write_dicom(path, rgb, patient_id="A-1")
    window = start_window()
    drop(window, [path])
    wait_idle(qtbot, window, 1)
    first = window.results.record(0)
    window.storage.save_decision(first.image_id, GraderDecision(dr_grade=0, dme_grade=0, kind=CONFIRMED, grader="Dr A"))
    write_dicom(path, (rgb * 0.05).astype(np.uint8), patient_id="B-2")
    drop(window, [path])
    wait_idle(qtbot, window, 2)
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), timeout=10_000)
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert box.windowTitle() == "Files replaced since they were screened"
    assert "IMG_0001.dcm now holds another photograph" in box.text()
    box.close()
    old = next(r for r in window.results.records() if r.image_id == first.image_id)  # the row shown, updated
    assert review_word(old) == f"{REPLACED_MARK} File replaced" and "replaced since" in review_text(old)
