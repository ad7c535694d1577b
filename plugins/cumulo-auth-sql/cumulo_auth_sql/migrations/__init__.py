"""Alembic revisions of the SQL identity backend (branch ``cumulo_auth_sql``)."""
