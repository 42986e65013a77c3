"""Schema 11: each image's study date (when the photograph was taken, from its file) as a column of its own, so the
patient form's queue (oldest photographs first) is ordered from the list's entries without reading every record's
metadata cell. Existing rows are filled from that cell; a damaged cell leaves the column empty (the screening date
stands in, as it does for a file without a date)."""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 1_000  # rows read at a time: a session of 100,000 images is not held in memory at once


def upgrade() -> None:
    op.add_column("images", sa.Column("study_date", sa.Text))
    bind = op.get_bind()
    images = sa.table("images", sa.column("id", sa.Integer), sa.column("metadata", sa.Text),
                      sa.column("study_date", sa.Text))
    fill = sa.update(images).where(images.c.id == sa.bindparam("row_id")).values(study_date=sa.bindparam("date"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(images.c.id, images.c.metadata).where(images.c.id > last, images.c.metadata.is_not(None))
            .order_by(images.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        dated = []
        for image_id, cell in rows:
            try:
                date = json.loads(cell).get("study_date")
            except (ValueError, AttributeError):
                continue  # a damaged cell: the list reports the row when it is shown
            if isinstance(date, str) and date:
                dated.append({"row_id": image_id, "date": date})
        if dated:
            bind.execute(fill, dated)  # one statement for the batch
        last = rows[-1][0]
