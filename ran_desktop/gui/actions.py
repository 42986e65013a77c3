"""The window's commands: menu entries with their shortcuts and tooltips, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from PySide6 import QtWidgets
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

from ran_desktop.engine.records.lesion_marks import KINDS
from ran_desktop.gui.view_modes import VIEW_MODES


@dataclass
class WindowActions:
    open_files: QAction
    open_folder: QAction
    try_sample: QAction
    export: QAction
    report_current: QAction
    report_selected: QAction
    report_batch: QAction
    report_dicom: QAction  # checkable: also write DICOM Encapsulated PDF
    new_session: QAction
    sessions: QAction
    settings: QAction
    quit: QAction
    cancel: QAction
    next_image: QAction
    previous_image: QAction
    confirm: QAction
    accept_model: QAction
    undo_decision: QAction
    not_reviewed: QAction
    ungradable: QAction
    performance: QAction
    finetune: QAction
    second_grading: QAction
    patients: QAction
    models: QAction
    zoom_in: QAction
    zoom_out: QAction
    fit: QAction
    magnifier: QAction
    display: QAction
    shortcuts: QAction
    about: QAction
    dr_grades: list[QAction] = field(default_factory=list)
    dme_grades: list[QAction] = field(default_factory=list)
    view_modes: list[QAction] = field(default_factory=list)
    marking: list[QAction] = field(default_factory=list)  # View > Mark lesions: pan, then one per kind
    # (action, QStyle.StandardPixmap name): the menus' icons, drawn by load_icons once the window is up
    icons: list[tuple[QAction, str]] = field(default_factory=list)


def key_sequences(shortcuts: tuple[QKeySequence | QKeySequence.StandardKey | str, ...]) -> list[QKeySequence]:
    """Each distinct key once: a platform's standard key often is the explicit one too (Quit is Ctrl+Q on Linux),
    and one key listed twice on an action makes Qt ignore it as an "ambiguous shortcut overload"."""
    keys: list[QKeySequence] = []
    for shortcut in shortcuts:
        if isinstance(shortcut, QKeySequence.StandardKey):
            candidates = QKeySequence.keyBindings(shortcut)  # every binding the platform has, possibly none
        else:
            candidates = [QKeySequence(shortcut)]
        keys += [k for k in candidates if not k.isEmpty() and k not in keys]
    return keys


def _action(
    window: QMainWindow,
    text: str,
    slot: Callable[[], object],
    shortcuts: tuple[QKeySequence | QKeySequence.StandardKey | str, ...] = (),
    tip: str = "",
) -> QAction:
    action = QAction(text, window)
    if keys := key_sequences(shortcuts):
        action.setShortcuts(keys)
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)  # shortcuts work wherever the focus is in the window
    return action


def build_actions(window: QMainWindow, handlers: dict[str, Callable[..., object]]) -> WindowActions:
    h = handlers
    actions = WindowActions(
        open_files=_action(window, "&Open files…", h["open_files"], (QKeySequence.StandardKey.Open,),
                           "Screen photographs (JPEG, PNG, TIFF, BMP, DICOM)"),
        open_folder=_action(window, "Open &folder…", h["open_folder"], ("Ctrl+Shift+O",),
                            "Screen every photograph in a folder and its subfolders"),
        try_sample=_action(window, "Try the &sample photograph", h["try_sample"], (),
                           "Screen the bundled photograph of a normal left eye"),
        export=_action(window, "&Export results…", h["export"], ("Ctrl+E",),
                       "Save this session's results and decisions as CSV or JSON"),
        report_current=_action(window, "Export report for &current patient…", h["report_current"], ("Ctrl+R",),
                               "Write a PDF report for the patient of the selected image, with the saved "
                               "decisions (available once the model has loaded)"),
        report_selected=_action(window, "Export reports for &selected patients…", h["report_selected"],
                                ("Ctrl+Shift+R",),
                                "Write one PDF report per patient of the selected rows (Ctrl/Shift+click to "
                                "select several)"),
        report_batch=_action(window, "Export reports for the &whole batch…", h["report_batch"], ("Ctrl+Shift+B",),
                             "Write one PDF report per patient in the list and a batch summary PDF"),
        report_dicom=_action(window, "Also write &DICOM Encapsulated PDF for PACS", h["report_dicom"], (),
                             "Beside each PDF, write a .dcm copy a PACS can store (patients with a patient ID)"),
        new_session=_action(window, "&New session…", h["new_session"], ("Ctrl+Shift+N",),
                            "Start an empty list; the current one stays in the database (File > Sessions reopens it)"),
        sessions=_action(window, "Sess&ions…", h["sessions"], ("Ctrl+Shift+S",),
                         "Reopen, search and export earlier sessions"),
        settings=_action(window, "Se&ttings…", h["settings"], (QKeySequence.StandardKey.Preferences, "Ctrl+,"),
                         "Device, grader name, clinic details, export folder"),
        quit=_action(window, "&Quit", h["quit"], (QKeySequence.StandardKey.Quit, "Ctrl+Q"), "Close RAN Screening"),
        cancel=_action(window, "&Cancel screening", h["cancel"], ("Esc",),
                       "Stop the running batch; images already screened stay"),
        next_image=_action(window, "&Next image", h["next_image"], ("N", "Ctrl+Down"), "Go to the next image (N)"),
        previous_image=_action(window, "&Previous image", h["previous_image"], ("P", "Ctrl+Up"),
                               "Go to the previous image (P)"),
        confirm=_action(window, "&Save decision", h["confirm"], ("Ctrl+Return", "Ctrl+Enter"),
                        "Store the grades in the review form and go to the next image (Ctrl+Enter)"),
        accept_model=_action(window, "&Accept the model's grades", h["accept_model"], ("A",),
                             "Put the model's grades in the review form, to check and save (A)"),
        undo_decision=_action(window, "U&ndo last decision", h["undo_decision"], (QKeySequence.StandardKey.Undo,),
                              "Put back what the last image you saved had before (kept in the audit trail)"),
        not_reviewed=_action(window, "Set back to &not reviewed", h["not_reviewed"], ("Ctrl+Backspace",),
                             "Remove this image's decision; the audit trail keeps it"),
        ungradable=_action(window, "Mark &ungradable", h["ungradable"], ("U",),
                           "Toggle 'Image ungradable' in the review form (U)"),
        performance=_action(window, "Model &performance at this clinic…", h["performance"], (),
                            "How often the model agreed with this clinic's graders, from every reviewed image, and "
                            "the operating point those images would give"),
        patients=_action(window, "Grade &patients (both eyes)…", h["patients"], ("Ctrl+Shift+P",),
                         "One patient at a time, both eyes side by side, the worse eye deciding; then the next "
                         "patient, most urgent first"),
        second_grading=_action(window, "&Second grading and arbitration…", h["second_grading"], ("Ctrl+Shift+G",),
                               "Grade blind the images another grader graded first, arbitrate disagreements, and "
                               "see each grader's agreement with the settled grades"),
        finetune=_action(window, "&Fine-tune on this clinic's images…", h["finetune"], (),
                         "Make a local model from the one in use and the images graded here, and compare the two"),
        models=_action(window, "&Models on this workstation…", h["models"], (),
                       "The installation's model and the ones fine-tuned here; choose which screens"),
        zoom_in=_action(window, "Zoom &in", h["zoom_in"], (QKeySequence.StandardKey.ZoomIn, "Ctrl+="), "Zoom in"),
        zoom_out=_action(window, "Zoom &out", h["zoom_out"], (QKeySequence.StandardKey.ZoomOut,), "Zoom out"),
        fit=_action(window, "&Fit picture", h["fit"], ("Ctrl+0",), "Fit the picture to the view"),
        display=_action(window, "&Brightness, contrast and gamma…", h["display"], ("Ctrl+B",),
                        "Lighten or darken the picture shown; the model and the reports never see it"),
        magnifier=_action(window, "&Magnifier", h["magnifier"], ("Ctrl+M",),
                          "A loupe over the picture that follows the pointer (the photograph's own pixels)"),
        shortcuts=_action(window, "&Keyboard shortcuts", h["shortcuts"], (QKeySequence.StandardKey.HelpContents, "F1")),
        about=_action(window, "&About RAN Screening", h["about"], (), "Versions and the model card"),
    )
    actions.report_dicom.setCheckable(True)
    actions.magnifier.setCheckable(True)
    actions.icons = [(actions.open_files, "SP_DialogOpenButton"), (actions.open_folder, "SP_DirOpenIcon"),
                     (actions.export, "SP_DialogSaveButton"), (actions.cancel, "SP_BrowserStop")]
    for grade in range(5):
        actions.dr_grades.append(_action(window, f"DR grade {grade}", partial(h["dr_grade"], grade), (str(grade),)))
    for grade in range(3):
        actions.dme_grades.append(
            _action(window, f"DME grade {grade}", partial(h["dme_grade"], grade), (f"Alt+{grade}",))
        )
    for i, (mode, label, tip) in enumerate(VIEW_MODES, start=1):
        actions.view_modes.append(_action(window, label, partial(h["view_mode"], mode), (f"Ctrl+{i}",), tip))
    for kind in (None, *KINDS):
        actions.marking.append(_action(window, "Pan (no marking)" if kind is None else f"Mark {kind}s",
                                       partial(h["mark_kind"], kind), ("Ctrl+Shift+M",) if kind is None else (),
                                       "Click a point or drag an outline on the photograph"))
    return actions


def load_icons(actions: WindowActions) -> None:
    """The menus' icons, from the style. Not at start: creating QStyle's Python type costs the window's first frame
    4 ms, and no menu can be open before it."""

    style = QApplication.style()
    for action, name in actions.icons:
        action.setIcon(style.standardIcon(getattr(QtWidgets.QStyle.StandardPixmap, name)))


def build_menus(window: QMainWindow, a: WindowActions) -> None:
    bar = window.menuBar()
    file_menu: QMenu = bar.addMenu("&File")
    for action in (a.open_files, a.open_folder, a.try_sample):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(a.export)
    file_menu.addAction(a.new_session)
    file_menu.addAction(a.sessions)
    file_menu.addSeparator()
    file_menu.addAction(a.settings)
    file_menu.addSeparator()
    file_menu.addAction(a.quit)

    reports = bar.addMenu("R&eports")
    for action in (a.report_current, a.report_selected, a.report_batch):
        reports.addAction(action)
    reports.addSeparator()
    reports.addAction(a.report_dicom)

    screening = bar.addMenu("&Screening")
    screening.addAction(a.cancel)

    review = bar.addMenu("&Review")
    for action in (a.next_image, a.previous_image, a.accept_model, a.confirm, a.ungradable):
        review.addAction(action)
    review.addSeparator()
    review.addAction(a.undo_decision)
    review.addAction(a.not_reviewed)
    dr = review.addMenu("DR grade")
    for action in a.dr_grades:
        dr.addAction(action)
    dme = review.addMenu("DME grade")
    for action in a.dme_grades:
        dme.addAction(action)
    review.addSeparator()
    review.addAction(a.patients)
    review.addAction(a.second_grading)
    review.addAction(a.performance)
    review.addAction(a.finetune)
    review.addAction(a.models)

    view = bar.addMenu("&View")
    for action in a.view_modes:
        view.addAction(action)
    view.addSeparator()
    for action in (a.zoom_in, a.zoom_out, a.fit, a.magnifier, a.display):
        view.addAction(action)
    marks = view.addMenu("Mark &lesions")
    for action in a.marking:
        marks.addAction(action)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a.shortcuts)
    help_menu.addAction(a.about)


def shortcut_table(a: WindowActions) -> str:
    """HTML list of every command with a shortcut, for Help > Keyboard shortcuts."""
    rows = []
    singles = [a.open_files, a.open_folder, a.export, a.report_current, a.report_selected, a.report_batch,
               a.new_session, a.sessions, a.settings, a.quit, a.cancel, a.next_image,
               a.previous_image, a.accept_model, a.confirm, a.ungradable, a.undo_decision, a.not_reviewed,
               a.zoom_in, a.zoom_out, a.fit, a.magnifier, a.display, *a.view_modes, a.shortcuts]
    for action in singles:
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        rows.append((action.text().replace("&", ""), keys))
    rows.append(("DR grade 0-4", "0 … 4"))
    rows.append(("DME grade 0-2", "Alt+0 … Alt+2"))
    body = "".join(f"<tr><td>{name}</td><td><b>{keys}</b></td></tr>" for name, keys in rows)
    return f"<table cellspacing='4'>{body}</table>"

