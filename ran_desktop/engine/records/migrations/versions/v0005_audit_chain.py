"""Schema 5: the audit trail becomes a hash chain (audit_chain.py); the entries already there are chained as they
stand. The append-only trigger is lifted for this one upgrade, inside its transaction."""

import sqlalchemy as sa
from alembic import op

from ran_desktop.engine.records import audit_chain

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_NO_UPDATE = ("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
POSTGRES_NO_UPDATE = ("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
                      "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")


def upgrade() -> None:
    op.add_column("audit", sa.Column("entry_hash", sa.Text))
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.execute("DROP TRIGGER audit_no_update" if sqlite else "DROP TRIGGER audit_no_update ON audit")
    audit_chain.chain_all(bind)
    op.execute(SQLITE_NO_UPDATE if sqlite else POSTGRES_NO_UPDATE)
