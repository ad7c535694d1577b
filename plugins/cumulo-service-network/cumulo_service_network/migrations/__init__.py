"""Alembic revisions of the network area (branch ``cumulo_network``, first revision ``network_0001``)."""
