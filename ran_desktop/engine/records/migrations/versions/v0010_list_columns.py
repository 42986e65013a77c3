"""Schema 10, the long worklist's: each image's list columns (file label, eye, patient name, the model's grades and
suspicion) copied out of its JSON cells, so a worklist of 100,000 images is read without parsing them, and the
thumbnails moved to a table of their own, so an `images` row stays small. Existing rows are filled from their cells
as the app reads them; a damaged cell leaves its row's columns empty (the app reports the row when it is shown)."""

import sqlalchemy as sa
from alembic import op

from ran_desktop.engine.records.rows import list_values_of_cells

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = (("file_label", sa.Text), ("eye", sa.Text), ("patient_name", sa.Text), ("model_dr", sa.Integer),
            ("model_dme", sa.Integer), ("model_suspects", sa.Integer))


def upgrade() -> None:
    op.create_table(
        "thumbnails",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), primary_key=True),
        sa.Column("jpeg", sa.LargeBinary, nullable=False),
    )
    op.execute("INSERT INTO thumbnails (image_id, jpeg) SELECT id, thumbnail FROM images WHERE thumbnail IS NOT NULL")
    op.drop_column("images", "thumbnail")
    for name, kind in _COLUMNS:
        op.add_column("images", sa.Column(name, kind))
    bind = op.get_bind()
    cells = ("path", "status", "model", "metadata", "dr_probs", "dme_probs")
    images = sa.table("images", sa.column("id", sa.Integer), sa.column("suspicion", sa.Float),
                      *(sa.column(name, sa.Text) for name in cells),
                      *(sa.column(name, kind) for name, kind in _COLUMNS))
    query = sa.select(images.c.id, images.c.suspicion, *(images.c[name] for name in cells))
    for row in bind.execute(query).mappings().all():
        try:
            values = list_values_of_cells(row)
        except (ValueError, TypeError, KeyError):
            continue  # a damaged cell stays as it is (the list shows the row as unreadable)
        own = {name: values[name] for name, _ in _COLUMNS}  # later schemas add list columns of their own
        bind.execute(sa.update(images).where(images.c.id == row["id"]).values(own))
