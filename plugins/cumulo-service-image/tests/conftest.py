"""Fixtures of the image service tests: a migrated database, a hub with Object Storage in memory, noauth tokens."""

from cumulo.testing.image_service import hub, images, store_name  # noqa: F401  (fixtures)
