"""Schema 4: keys name a file's content as well as its path; `location` is the path and frame alone, so a file
replaced at the same path shows as a new image beside the one screened before."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("location", sa.Text))
    op.execute("UPDATE images SET location = key")  # keys before 4 were the location ('#frameN' for frames)
    # Which screening came last (a file screened again moves up): timestamps tie within a second.
    op.add_column("images", sa.Column("screen_order", sa.Integer))
    op.execute("UPDATE images SET screen_order = id")
    op.create_index("images_by_location", "images", ["session_id", "location"])
