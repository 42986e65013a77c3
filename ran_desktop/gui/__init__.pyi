"""The GUI's modules, read by lazy_loader at run time and by type checkers."""

from . import about_dialog as about_dialog
from . import actions as actions
from . import banner as banner
from . import binding_check as binding_check
from . import charts as charts
from . import crash as crash
from . import detail_controller as detail_controller
from . import detail_panel as detail_panel
from . import display as display
from . import display_controls as display_controls
from . import drops as drops
from . import empty_state as empty_state
from . import finetune_dialog as finetune_dialog
from . import full_resolution as full_resolution
from . import grid_item as grid_item
from . import image_view as image_view
from . import magnifier as magnifier
from . import main_window as main_window
from . import marking as marking
from . import messages as messages
from . import models_dialog as models_dialog
from . import patient_form as patient_form
from . import patient_panel as patient_panel
from . import performance_dialog as performance_dialog
from . import pixel_arrays as pixel_arrays
from . import probability_bars as probability_bars
from . import progress_text as progress_text
from . import qimage as qimage
from . import report_dialog as report_dialog
from . import report_export as report_export
from . import results_filter as results_filter
from . import results_model as results_model
from . import results_panel as results_panel
from . import review_flow as review_flow
from . import review_panel as review_panel
from . import screening_controller as screening_controller
from . import screening_feedback as screening_feedback
from . import second_grading_dialog as second_grading_dialog
from . import session_flow as session_flow
from . import sessions_dialog as sessions_dialog
from . import settings as settings
from . import settings_dialog as settings_dialog
from . import shared_worklist as shared_worklist
from . import status_bar as status_bar
from . import tasks as tasks
from . import view_modes as view_modes
from . import worklist as worklist
from . import workspace as workspace

__all__ = [
    "about_dialog",
    "actions",
    "banner",
    "binding_check",
    "charts",
    "crash",
    "detail_controller",
    "detail_panel",
    "display",
    "display_controls",
    "drops",
    "empty_state",
    "finetune_dialog",
    "full_resolution",
    "grid_item",
    "image_view",
    "magnifier",
    "marking",
    "main_window",
    "messages",
    "models_dialog",
    "patient_form",
    "patient_panel",
    "performance_dialog",
    "pixel_arrays",
    "probability_bars",
    "progress_text",
    "qimage",
    "report_dialog",
    "report_export",
    "results_filter",
    "results_model",
    "results_panel",
    "review_flow",
    "review_panel",
    "screening_controller",
    "screening_feedback",
    "session_flow",
    "sessions_dialog",
    "settings",
    "second_grading_dialog",
    "settings_dialog",
    "shared_worklist",
    "status_bar",
    "tasks",
    "view_modes",
    "worklist",
    "workspace",
]
