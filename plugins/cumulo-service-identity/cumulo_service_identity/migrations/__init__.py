"""Alembic revisions of the identity area (branch ``cumulo_identity``, first revision ``identity_0001``)."""
