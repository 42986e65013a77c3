"""Schema 6: on an ungradable photograph, the model's probability of referable disease all the same."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("suspicion", sa.Float))
