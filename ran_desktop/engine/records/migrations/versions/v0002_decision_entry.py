"""Schema 2: how the grades got into the form: chosen by the grader, or the model's accepted with the accept key."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("entry", sa.Text, nullable=False, server_default="graded"))
