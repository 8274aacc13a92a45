"""Alembic environment: migrations always run on a connection Jumbe hands in.

``Database.migrate`` opens the transaction (and takes the lock that keeps two
processes from migrating at once); this file only runs the scripts on it.
"""

from alembic import context

from jumbe.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through jumbe (Database.migrate), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
