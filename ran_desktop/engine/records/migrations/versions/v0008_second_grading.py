"""Schema 8: second grading and arbitration (second_grading.py): each stage's grading, and where each image stands."""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gradings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("grader", sa.Text, nullable=False),
        sa.Column("dr_grade", sa.Integer),
        sa.Column("dme_grade", sa.Integer),
        sa.Column("decided_at", sa.Text, nullable=False),
        sa.UniqueConstraint("image_id", "stage"),
    )
    op.create_table(
        "qa",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
