"""Schema 1: sessions, screened images, the current decision per image and the append-only audit trail."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The trail is evidence: the database itself refuses to rewrite or drop it (migration 0005 lifts the update
# trigger for its one upgrade and puts it back).
SQLITE_NO_UPDATE = ("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
SQLITE_NO_DELETE = ("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
POSTGRES_FUNCTION = ("CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$")
POSTGRES_NO_UPDATE = ("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                      "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
POSTGRES_NO_DELETE = ("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
                      "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")


def no_update_trigger() -> str:
    return SQLITE_NO_UPDATE if op.get_bind().dialect.name == "sqlite" else POSTGRES_NO_UPDATE


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.Text, nullable=False),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("metadata", sa.Text),
        sa.Column("quality", sa.Text),
        sa.Column("dr_probs", sa.Text),
        sa.Column("dme_probs", sa.Text),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("timings", sa.Text, nullable=False),
        sa.Column("thumbnail", sa.LargeBinary),
        sa.Column("screened_at", sa.Text, nullable=False),
        sa.UniqueConstraint("session_id", "key"),
    )
    op.create_table(
        "decisions",
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), primary_key=True),
        sa.Column("dr_grade", sa.Integer),
        sa.Column("dme_grade", sa.Integer),
        sa.Column("eye", sa.Text),
        sa.Column("patient_id", sa.Text),
        sa.Column("patient_name", sa.Text),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("grader", sa.Text, nullable=False),
        sa.Column("decided_at", sa.Text, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id"), nullable=False),
        sa.Column("image_key", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("previous", sa.Text),
        sa.Column("new", sa.Text, nullable=False),
        sa.Column("grader", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
    )
    op.create_index("audit_by_image", "audit", ["image_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_NO_UPDATE)
        op.execute(SQLITE_NO_DELETE)
    else:
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_NO_UPDATE)
        op.execute(POSTGRES_NO_DELETE)
