"""Schema 9, the grading workstation's: the grader's lesion marks, where the grader moved the macular grid's centre,
and the change since the patient's last visit, saved with the decision; each image's patient ID as a column of its
own (from its stored metadata), so a patient's earlier visits are found by an index."""

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("marks", sa.Text))
    op.add_column("decisions", sa.Column("fovea", sa.Text))
    op.add_column("decisions", sa.Column("change", sa.Text))
    op.add_column("images", sa.Column("patient_id", sa.Text))
    op.create_index("images_by_patient", "images", ["patient_id"])
    bind = op.get_bind()
    images = sa.table("images", sa.column("id", sa.Integer), sa.column("metadata", sa.Text),
                      sa.column("patient_id", sa.Text))
    for image_id, metadata in bind.execute(sa.select(images.c.id, images.c.metadata)).all():
        try:
            patient = json.loads(metadata).get("patient_id") if metadata else None
        except (ValueError, AttributeError):
            patient = None  # a damaged cell stays as it is (load_session reports it)
        if patient:
            bind.execute(sa.update(images).where(images.c.id == image_id).values(patient_id=str(patient)))
