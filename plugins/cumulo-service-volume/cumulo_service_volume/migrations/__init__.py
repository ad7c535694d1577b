"""Alembic revisions of the volume area (branch ``cumulo_volume``, first revision ``volume_0001``)."""
