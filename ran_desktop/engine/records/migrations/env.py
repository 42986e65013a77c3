"""Alembic's environment for the session database: migrations run on the connection `migrate.upgrade` hands over,
inside its transaction (one transaction for every step, so a failed upgrade leaves the database as it was)."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
