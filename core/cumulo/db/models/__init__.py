"""Models of the shared resources: one module per service area.

Importing this package imports every kernel model so the metadata is whole.
Each area's tables are created by migrations on its own alembic branch
(``cumulo_<area>``) in ``cumulo/db/migrations/versions``. An area that is a
plugin (image: ``cumulo_service_image``) ships its models and migrations itself.
"""

from cumulo.db.models.base import ModelMixin, SoftDeleteMixin, new_id, utcnow  # noqa: F401
from cumulo.db.models.service import Service  # noqa: F401
