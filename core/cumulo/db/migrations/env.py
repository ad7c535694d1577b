"""Alembic environment: runs on the connection cumulo.db.migrate hands in."""

from alembic import context

from cumulo import db

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    engine = db.create_engine(config.attributes["url"])
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=db.Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=db.Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
