"""Starts RAN Screening exactly as `main` does, and once its worklist shows `expected` rows writes where its parts
are on screen (global X coordinates) to a JSON file, so a test can point, click, scroll and type at them through
the X server with xdotool. Written again whenever the layout moves (the model's banner appears after a moment).

usage: python app_with_geometry.py GEOMETRY_JSON EXPECTED_ROWS [PHOTOS_OR_FOLDERS...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from ran_desktop.app import main  # first, as main.py does
from ran_desktop.gui.main_window import MainWindow
from ran_desktop.gui.results_model import Column

out, expected = Path(sys.argv[1]), int(sys.argv[2])
app = QApplication([sys.argv[0], *sys.argv[3:]])  # main() takes the photographs from the app's arguments


def rect(widget: QWidget) -> list[int]:
    top_left = widget.mapToGlobal(QPoint(0, 0))
    return [top_left.x(), top_left.y(), widget.width(), widget.height()]


last = ""


def report() -> None:
    global last
    QTimer.singleShot(250, report)
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if not windows or windows[0].results.rowCount() < expected or not windows[0].controller.model_state == "ready":
        return
    window = windows[0]
    if not window.workspace.table.isVisible():
        return
    header = window.workspace.table.horizontalHeader()
    sections = {}
    for column in (Column.FILE, Column.PATIENT, Column.QUALITY, Column.DR, Column.DME, Column.REFERABLE):
        x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
        if 0 < x < header.viewport().width():  # only headers one can click without scrolling sideways
            point = header.mapToGlobal(QPoint(x, header.height() // 2))
            sections[column.name] = [point.x(), point.y()]
    panel = window.workspace.list_panel
    bar = window.workspace.list_tabs.tabBar()
    tabs = [[bar.mapToGlobal(bar.tabRect(i).center()).x(), bar.mapToGlobal(bar.tabRect(i).center()).y()]
            for i in range(bar.count())]
    geometry = {
        "window": rect(window),
        "rows": window.results.rowCount(),
        "viewport": rect(window.workspace.table.viewport()),
        "headers": sections,
        "search": rect(panel.search),
        "tabs": tabs,  # Images, Patients
        "filters": {name: rect(getattr(panel, f"filter_{name}")) for name in ("referable", "ungradable", "unreviewed")},
    }
    text = json.dumps(geometry)
    if text != last:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(out)
        last = text


QTimer.singleShot(0, report)
sys.exit(main(sys.argv[3:]))
