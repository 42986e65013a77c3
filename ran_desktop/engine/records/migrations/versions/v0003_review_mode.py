"""Schema 3: the clinic's review mode (open, or blind first) when the decision was made."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("review_mode", sa.Text, nullable=False, server_default=""))
