"""The worklist read as rows are shown (record_list.py): every row's list entry from the narrow columns agrees with
its full record, records are built a page at a time, and rows stored before the list columns existed are filled."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from ran_desktop.engine.imaging.loading import Eye
from ran_desktop.engine.model.bundle import load_bundle
from ran_desktop.engine.records import record_list
from ran_desktop.engine.records.record_list import PAGE_ROWS, RecordList, entry_of
from ran_desktop.engine.records.results import Status
from ran_desktop.engine.records.review import OVERRIDDEN, GraderDecision
from ran_desktop.engine.records.storage import Storage
from ran_desktop.engine.screening.screener import Screener

_SAME = ("status", "reviewed", "grades", "ungradable", "eye_decision", "referable", "suspected", "eye", "patient_id",
         "patient_name", "taken")


@pytest.fixture(scope="module")
def screened(tiny_bundle, sample_path, tmp_path_factory):
    """Real results: a gradable photograph, one frame of a multi-frame file with a patient's name, an ungradable
    black frame and a file that is not an image."""
    folder = tmp_path_factory.mktemp("images")
    black = folder / "black_OD.png"
    cv2.imwrite(str(black), np.zeros((600, 600, 3), np.uint8))
    bad = folder / "notes.jpg"
    bad.write_text("not a photograph", encoding="utf-8")
    photo, dark, unreadable = Screener(load_bundle(tiny_bundle, device="cpu")).screen([sample_path, black, bad])
    assert [r.status for r in (photo, dark, unreadable)] == [Status.SCREENED, Status.UNGRADABLE, Status.ERROR]
    framed = replace(photo, key=photo.key + "#frame2", metadata=replace(
        photo.metadata, frame_index=1, frame_count=3, patient_id="P-3", patient_name="Ann Example",
        study_date="2026-03-04"))
    return [photo, framed, dark, unreadable]


def test_every_rows_entry_is_what_its_record_says(target, screened):
    with Storage(target) as store:
        session = store.current_session()
        stored = [store.save_result(session, r, thumbnail=b"jpeg") for r in screened]
        store.save_decision(stored[0].image_id, GraderDecision(3, 1, eye=Eye.LEFT, patient_id="P-7",
                                                                patient_name="Bo Example", grader="Dr A",
                                                                kind=OVERRIDDEN))
        store.save_decision(stored[2].image_id, GraderDecision(None, None, grader="Dr A"))
        full = store.load_session(session, thumbnails=False)
        listed = store.list_session(session)
        assert len(listed) == len(full) == 4
        assert listed.entries() == [entry_of(r) for r in full]
        for row, record in enumerate(full):
            entry = listed.entry(row)
            assert {name: getattr(entry, name) for name in _SAME} == {name: getattr(record, name) for name in _SAME}
        assert listed.entry(1).file_label == f"{screened[0].path.name} (frame 2 of 3)"
        assert listed.entry(0).grades == (3, 1) and listed.entry(0).patient_name == "Bo Example"
        assert listed.entry(2).ungradable and listed.entry(3).status is Status.ERROR
        assert listed.entry(1).taken == "2026-03-04"  # the file's study date; without one, the day screened
        assert listed.entry(0).taken == full[0].screened_at[:10] and len(listed.entry(0).taken) == 10
        assert list(listed) == full  # the records the list builds are the ones load_session reads
        assert store.thumbnails([r.image_id for r in stored]) == {r.image_id: b"jpeg" for r in stored}


def test_records_are_built_a_page_at_a_time_around_the_row_asked_for(screened):
    records = [replace(record_list.stand_in(i, f"k{i}", f"/eyes/{i}.jpg", "x")) for i in range(1, 1001)]
    asked: list[list[int]] = []

    def fetch(image_ids):
        asked.append(list(image_ids))
        return {i: records[i - 1] for i in image_ids}

    listed = RecordList([entry_of(r) for r in records], fetch)
    assert listed[500] is records[500]
    assert len(asked) == 1 and len(asked[0]) == PAGE_ROWS and 501 in asked[0]
    assert sum(listed.built(row) for row in range(1000)) == PAGE_ROWS
    assert listed[510] is records[510] and len(asked) == 1  # on the same page: nothing read again
    listed[3] = replace(records[3], decision=GraderDecision(2, 0, grader="Dr A"))
    assert listed.entry(3).grades == (2, 0) and listed[3].decision is not None  # replaced whole, not re-read
    assert [r.image_id for r in listed] == list(range(1, 1001))


def test_rows_stored_before_the_list_columns_get_them_when_the_database_is_upgraded(screened, tmp_path):
    """Schema 10 copies each row's list columns out of its JSON cells and moves thumbnails to their own table (the
    file is taken back to schema 9 by hand, SQLite's way; the values are the same on either backend)."""
    target = tmp_path / "ran-screening.sqlite3"
    with Storage(target) as store:
        session = store.current_session()
        stored = [store.save_result(session, r, thumbnail=bytes([n]) * 10) for n, r in enumerate(screened)]
        expected = [entry_of(r) for r in store.load_session(session, thumbnails=False)]
    raw = sqlite3.connect(target)
    raw.execute("ALTER TABLE images ADD COLUMN thumbnail BLOB")
    raw.execute("UPDATE images SET thumbnail = (SELECT jpeg FROM thumbnails WHERE image_id = images.id)")
    raw.execute("DROP TABLE thumbnails")
    for column in ("file_label", "eye", "patient_name", "model_dr", "model_dme", "model_suspects", "study_date"):
        raw.execute(f"ALTER TABLE images DROP COLUMN {column}")
    raw.execute("UPDATE alembic_version SET version_num = '0009'")
    raw.commit()
    raw.close()
    with Storage(target) as store:
        listed = store.list_session(session)
        assert listed.entries() == expected
        assert store.thumbnails([r.image_id for r in stored]) == {r.image_id: bytes([n]) * 10
                                                                  for n, r in enumerate(stored)}


def test_rows_stored_before_the_study_date_column_get_it_when_the_database_is_upgraded(screened, target):
    """Schema 11 copies each row's study date out of its metadata cell; a damaged cell leaves it empty and the rest of
    the session is upgraded (the database is taken back to schema 10 by hand, on each backend)."""
    with Storage(target) as store:
        session = store.current_session()
        for result in screened:
            store.save_result(session, result)
        expected = [entry_of(r) for r in store.load_session(session, thumbnails=False)]
    assert [e.study_date for e in expected] == [None, "2026-03-04", None, None]
    engine = create_engine(f"sqlite:///{target}" if isinstance(target, Path) else target)
    with engine.begin() as db:
        db.execute(text("ALTER TABLE images DROP COLUMN study_date"))
        db.execute(text("UPDATE alembic_version SET version_num = '0010'"))
        damaged = db.execute(text("SELECT id, key FROM images ORDER BY id")).all()[3]  # the unreadable file's row
        db.execute(text("UPDATE images SET metadata = '{not json' WHERE id = :id"), {"id": damaged.id})
    engine.dispose()
    with Storage(target) as store:
        listed = store.list_session(session)
        assert [e.study_date for e in listed.entries()] == [None, "2026-03-04", None, None]
        assert listed.entries()[:3] == expected[:3] and listed.entry(3).key == damaged.key
