"""The app's data folder (settings, the session database file, adopted thresholds, local models) and the clock the
records are stamped with. Light on purpose: the app reads these before anything else loads."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

APP_NAME = "RAN Screening"
DATA_DIR_ENV = "RAN_DATA_DIR"


def default_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
