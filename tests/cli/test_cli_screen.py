import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from locations import REPO_ROOT

from ran_desktop.cli.screen import main
from ran_desktop.engine.records.results import CSV_COLUMNS

ROOT = REPO_ROOT
SAMPLES = ROOT / "resources" / "samples"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_samples_give_one_row_each_with_every_column(tiny_bundle, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main([str(SAMPLES), "--out", str(out), "--model", str(tiny_bundle), "--quiet"]) == 0
    rows = read_csv(out)
    samples = [p for p in SAMPLES.iterdir() if p.suffix.lower() in {".jpg", ".png", ".dcm", ".tif"}]
    assert len(rows) == len(samples)
    assert list(rows[0].keys()) == CSV_COLUMNS
    row = rows[0]
    assert row["status"] == "screened" and row["gradable"] == "True" and row["eye"] == "OS"
    assert row["dr_grade"] in "01234" and row["dme_grade"] in "012"
    assert row["outcome"] and row["guideline"].startswith("ICO")
    assert row["model"] == "ran18-untrained" and "UNTRAINED" in row["model_warning"]
    err = capsys.readouterr().err
    assert "WARNING: UNTRAINED" in err and "1 image(s): 1 screened" in err


def test_json_output_and_heatmaps(tiny_bundle, tmp_path, sample_path):
    out, heat = tmp_path / "r.json", tmp_path / "heat"
    assert main([str(sample_path), "--out", str(out), "--model", str(tiny_bundle), "--heatmaps", str(heat),
                 "--quiet"]) == 0
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 1 and rows[0]["referable"] in (True, False)
    assert abs(sum(rows[0][f"p_dr{i}"] for i in range(5)) - 1) < 1e-3
    pngs = list(heat.glob("*.png"))
    assert len(pngs) == 1 and pngs[0].name.startswith("normal_fundus_OS")
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_files_give_exit_1_and_are_listed(tiny_bundle, tmp_path, sample_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out = tmp_path / "r.csv"
    assert main([str(bad), str(sample_path), "--out", str(out), "--model", str(tiny_bundle), "--quiet"]) == 1
    rows = read_csv(out)
    assert [r["status"] for r in rows] == ["error", "screened"]
    assert rows[0]["error"]
    assert f"failed: {bad}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--out", "r.txt"],
        ["--out", "r.csv", "--batch-size", "0"],
        [],
    ],
)
def test_usage_errors_exit_2(tiny_bundle, sample_path, tmp_path, args):
    with pytest.raises(SystemExit) as exc:
        main([str(sample_path), "--model", str(tiny_bundle), *[a if a != "r.csv" else str(tmp_path / a) for a in args]])
    assert exc.value.code == 2


def test_unusable_model_exits_2(tmp_path, sample_path, capsys):
    assert main([str(sample_path), "--out", str(tmp_path / "r.csv"), "--model", str(tmp_path)]) == 2
    assert "cannot use the model" in capsys.readouterr().err


def test_console_script_runs(tiny_bundle, tmp_path, sample_path):
    script = Path(sys.executable).parent / "ran-screen"
    if not script.exists():
        pytest.skip("package not installed with its console scripts")
    out = tmp_path / "r.csv"
    proc = subprocess.run([str(script), str(sample_path), "--out", str(out), "--model", str(tiny_bundle)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(read_csv(out)) == 1
    assert "Screening" in proc.stderr  # the progress bar goes to stderr
