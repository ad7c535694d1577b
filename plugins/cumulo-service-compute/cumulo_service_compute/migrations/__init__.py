"""Alembic revisions of the compute area (branch ``cumulo_compute``, first revision ``compute_0001``)."""
