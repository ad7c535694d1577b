"""Alembic revisions of the image area (branch ``cumulo_image``, first revision ``image_0001``)."""
