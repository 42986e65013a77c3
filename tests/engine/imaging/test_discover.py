"""Expanding dropped files and folders into image files, on real folder trees built here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import write_dicom
from PIL import Image

from ran_desktop.engine.imaging.loading import SUPPORTED_SUFFIXES, iter_image_files


def _touch_jpeg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format="JPEG")
    return path


def _rel(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_supported_suffixes_are_lower_case_and_complete() -> None:
    assert SUPPORTED_SUFFIXES == {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".dcm", ".dicom"}
    assert all(s == s.lower() and s.startswith(".") for s in SUPPORTED_SUFFIXES)


def test_nested_folders_are_walked_in_sorted_order(tmp_path: Path) -> None:
    for rel in ["b/2.jpg", "a/z/9.png", "a/1.JPG", "c.tif", "a/Y.jpeg", "b/10.bmp", "d/deep/er/x.dcm"]:
        _touch_jpeg(tmp_path / rel)
    found = _rel(list(iter_image_files([tmp_path])), tmp_path)
    # depth first, names compared case-insensitively at every level
    assert found == ["a/1.JPG", "a/Y.jpeg", "a/z/9.png", "b/10.bmp", "b/2.jpg", "c.tif", "d/deep/er/x.dcm"]


def test_non_images_and_hidden_entries_are_skipped(tmp_path: Path) -> None:
    _touch_jpeg(tmp_path / "keep.jpg")
    _touch_jpeg(tmp_path / ".hidden.jpg")
    _touch_jpeg(tmp_path / ".cache" / "inside.jpg")
    _touch_jpeg(tmp_path / "__MACOSX" / "._keep.jpg")  # AppleDouble shadow files start with a dot too
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "README").write_text("no suffix and not DICOM")
    assert _rel(list(iter_image_files([tmp_path])), tmp_path) == ["keep.jpg"]


def test_suffixless_and_uid_named_dicom_files_are_found_by_content(tmp_path: Path) -> None:
    pixels = np.zeros((4, 4), np.uint8)
    write_dicom(tmp_path / "IM000001", pixels)
    write_dicom(tmp_path / "1.2.840.113619.2.55.3.7", pixels)  # UID file names end in a numeric "suffix"
    write_dicom(tmp_path / "DICOMDIR", None)  # a media index: DICOM, but never a picture
    (tmp_path / "IM000002").write_bytes(b"\x00" * 200)
    assert _rel(list(iter_image_files([tmp_path])), tmp_path) == ["1.2.840.113619.2.55.3.7", "IM000001"]


def test_files_given_directly_are_yielded_as_given(tmp_path: Path) -> None:
    odd = tmp_path / "scan.xyz"
    odd.write_text("not an image")
    missing = tmp_path / "missing.jpg"
    hidden = _touch_jpeg(tmp_path / ".explicit.jpg")
    # the loader, not discovery, reports what is wrong with a file the user picked
    assert list(iter_image_files([str(odd), missing, hidden])) == [odd, missing, hidden]


def test_duplicates_are_yielded_once(tmp_path: Path) -> None:
    a = _touch_jpeg(tmp_path / "f" / "a.jpg")
    b = _touch_jpeg(tmp_path / "f" / "b.jpg")
    os.symlink(a, tmp_path / "f" / "c_link_to_a.jpg")
    found = list(iter_image_files([a, tmp_path / "f", tmp_path / "f" / ".." / "f" / "b.jpg", tmp_path]))
    assert found == [a, b]


def test_symlink_loop_terminates(tmp_path: Path) -> None:
    image = _touch_jpeg(tmp_path / "root" / "sub" / "img.png")
    os.symlink(tmp_path / "root", tmp_path / "root" / "sub" / "loop")  # sub/loop -> root -> sub -> ...
    os.symlink(tmp_path / "root" / "sub", tmp_path / "root" / "sub" / "self")
    assert list(iter_image_files([tmp_path / "root"])) == [image]


def test_symlinked_folder_outside_the_tree_is_followed(tmp_path: Path) -> None:
    outside = _touch_jpeg(tmp_path / "elsewhere" / "far.jpg")
    (tmp_path / "tree").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "tree" / "linked")
    assert list(iter_image_files([tmp_path / "tree"])) == [tmp_path / "tree" / "linked" / "far.jpg"]
    assert list(iter_image_files([tmp_path / "tree", outside])) == [tmp_path / "tree" / "linked" / "far.jpg"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_is_skipped(tmp_path: Path) -> None:
    ok = _touch_jpeg(tmp_path / "a" / "ok.jpg")
    _touch_jpeg(tmp_path / "b" / "secret.jpg")
    (tmp_path / "b").chmod(0)
    try:
        assert list(iter_image_files([tmp_path])) == [ok]
    finally:
        (tmp_path / "b").chmod(0o755)


def test_is_lazy_and_accepts_any_iterable(tmp_path: Path) -> None:
    first = _touch_jpeg(tmp_path / "1.jpg")
    _touch_jpeg(tmp_path / "2.jpg")
    iterator = iter_image_files(p for p in [tmp_path])
    assert next(iterator) == first
