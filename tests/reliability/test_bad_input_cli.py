"""The bad-input corpus through `ran-screen`: one row per image, a readable line per refused file, exit status 1."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from corpus import CASES, ERROR, case_of, check_outcome, corpus_paths, expected_results

from ran_desktop.cli.screen import EXIT_SOME_FAILED, main


def test_every_file_gets_a_row_and_every_refused_file_a_line_on_stderr(tiny_bundle, corpus, tmp_path, capsys):
    out = tmp_path / "results.csv"
    code = main([*map(str, corpus_paths(corpus)), "--out", str(out), "--model", str(tiny_bundle), "--device", "cpu",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED, err
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == expected_results()
    seen: Counter[str] = Counter()
    for row in rows:
        case = case_of(Path(row["file"]), corpus)
        seen[case.name] += 1
        check_outcome(case, row["status"], row["error"] or None, row["quality_reasons"] or None)
    assert seen == {c.name: c.results for c in CASES}
    failed_lines = [line for line in err.splitlines() if line.startswith("  failed: ")]
    assert len(failed_lines) == sum(c.expect == ERROR for c in CASES)
    for case in (c for c in CASES if c.expect == ERROR):
        assert any(f"failed: {corpus[case.name]}: " in line and case.words in line for line in failed_lines), case
    assert "Traceback" not in err
