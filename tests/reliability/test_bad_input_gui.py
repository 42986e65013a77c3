"""The bad-input corpus dropped on the real window: a row per image with its message or verdict, the app stays up."""

from __future__ import annotations

from collections import Counter

from corpus import CASES, ERROR, case_of, check_outcome, corpus_paths, expected_results
from gui_helpers import drop, wait_idle

from ran_desktop.engine.records.results import Status


def test_dropping_the_whole_corpus_gives_a_row_per_image_and_no_crash(start_window, qtbot, corpus):
    window = start_window()
    drop(window, corpus_paths(corpus))
    wait_idle(qtbot, window, expected_results())

    seen: Counter[str] = Counter()
    for record in window.results.records():
        result = record.result
        case = case_of(result.path, corpus)
        seen[case.name] += 1
        reasons = "; ".join(result.quality.reasons) if result.quality else None
        check_outcome(case, result.status.value, result.error, reasons)
    assert seen == {c.name: c.results for c in CASES}
    assert window.reporter.dialog is None, "an unexpected-error dialog was shown"
    errors = sum(c.expect == ERROR for c in CASES)
    assert f"{errors} file(s) in the list could not be read" in window.status.currentMessage()
    # everything shown is stored: a restart would find the same rows
    assert window.storage.count_images(window.session_id) == expected_results()
    # and the app still works: an error row can be opened, and a good photograph screened after all this
    bad = next(r for r in window.results.records() if r.result.status is Status.ERROR)
    assert window.select_key(bad.key)
    drop(window, [corpus["good_OD.jpg"].with_name("good_OS.png")])
    wait_idle(qtbot, window)
    assert window.isVisible()
