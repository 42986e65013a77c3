"""Schema 9: the grader's lesion marks and, where the grader moved it, the macular grid's centre, saved with the
decision (lesion_marks.py)."""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("marks", sa.Text))
    op.add_column("decisions", sa.Column("fovea", sa.Text))
