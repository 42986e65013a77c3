"""Where the repository and the shared data sets lie, for tests at any depth under tests/."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
