"""Public entry points, read by lazy_loader at run time and by type checkers."""

from . import audit_chain as audit_chain
from . import claims as claims
from . import conflicts as conflicts
from . import connect as connect
from . import data_folder as data_folder
from . import database as database
from . import db_rescue as db_rescue
from . import lesion_drawing as lesion_drawing
from . import lesion_marks as lesion_marks
from . import local_threshold as local_threshold
from . import migrate as migrate
from . import patient_groups as patient_groups
from . import patient_names as patient_names
from . import patient_queue as patient_queue
from . import qa_store as qa_store
from . import record_list as record_list
from . import results as results
from . import review as review
from . import review_session as review_session
from . import rows as rows
from . import second_grading as second_grading
from . import session_export as session_export
from . import storage as storage
from . import tables as tables
from .local_threshold import LocalOperatingPoint as LocalOperatingPoint
from .patient_groups import FILE_PREFIX as FILE_PREFIX
from .patient_groups import Groupable as Groupable
from .patient_groups import PatientGroup as PatientGroup
from .patient_groups import group_by_patient as group_by_patient
from .patient_groups import patient_key as patient_key
from .patient_names import DEFAULT_PATTERNS as DEFAULT_PATTERNS
from .patient_names import PatternError as PatternError
from .patient_names import check_patterns as check_patterns
from .patient_names import patient_from_filename as patient_from_filename
from .results import CSV_COLUMNS as CSV_COLUMNS
from .results import ModelInfo as ModelInfo
from .results import ScreeningResult as ScreeningResult
from .results import Status as Status
from .results import model_info as model_info
from .results import spreadsheet_safe as spreadsheet_safe
from .results import write_results as write_results
from .results import write_rows as write_rows
from .review import ACCEPTED as ACCEPTED
from .review import BLIND as BLIND
from .review import CONFIRMED as CONFIRMED
from .review import GRADED as GRADED
from .review import OPEN as OPEN
from .review import OVERRIDDEN as OVERRIDDEN
from .review import REVIEW_MODES as REVIEW_MODES
from .review import GraderDecision as GraderDecision
from .review import Grades as Grades
from .review import ImageRecord as ImageRecord
from .review import blinded as blinded
from .review import caveat_for as caveat_for
from .review import decision_kind as decision_kind
from .review import missing_fields as missing_fields
from .review import model_proposal as model_proposal
from .review import suggested_grades as suggested_grades
from .review_session import NoGraderError as NoGraderError
from .review_session import ReviewSession as ReviewSession
from .session_export import write_session as write_session
from .storage import APP_NAME as APP_NAME
from .storage import DATABASE_NAME as DATABASE_NAME
from .storage import SCHEMA_VERSION as SCHEMA_VERSION
from .storage import SessionSummary as SessionSummary
from .storage import StaleDecisionError as StaleDecisionError
from .storage import Storage as Storage
from .storage import StorageError as StorageError
from .storage import default_data_dir as default_data_dir
from .storage import open_storage as open_storage
from .storage import utc_now as utc_now

__all__ = [
    "ACCEPTED",
    "APP_NAME",
    "BLIND",
    "CONFIRMED",
    "CSV_COLUMNS",
    "DATABASE_NAME",
    "DEFAULT_PATTERNS",
    "FILE_PREFIX",
    "GraderDecision",
    "Groupable",
    "GRADED",
    "Grades",
    "ImageRecord",
    "LocalOperatingPoint",
    "ModelInfo",
    "NoGraderError",
    "OPEN",
    "OVERRIDDEN",
    "PatientGroup",
    "PatternError",
    "REVIEW_MODES",
    "ReviewSession",
    "SCHEMA_VERSION",
    "ScreeningResult",
    "SessionSummary",
    "StaleDecisionError",
    "Status",
    "Storage",
    "StorageError",
    "audit_chain",
    "blinded",
    "caveat_for",
    "check_patterns",
    "claims",
    "conflicts",
    "connect",
    "data_folder",
    "database",
    "db_rescue",
    "decision_kind",
    "default_data_dir",
    "group_by_patient",
    "lesion_drawing",
    "lesion_marks",
    "local_threshold",
    "migrate",
    "missing_fields",
    "model_info",
    "model_proposal",
    "open_storage",
    "patient_from_filename",
    "patient_key",
    "patient_groups",
    "patient_names",
    "patient_queue",
    "qa_store",
    "results",
    "review",
    "review_session",
    "rows",
    "second_grading",
    "session_export",
    "spreadsheet_safe",
    "storage",
    "suggested_grades",
    "tables",
    "utc_now",
    "write_results",
    "write_rows",
    "write_session",
]
