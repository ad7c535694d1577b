"""Image tasks (Glance's ``/v2/tasks``): asynchronous imports of image data from a URL."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin


class ImageTask(ModelMixin, Base):
    """One task (``type`` import or api_image_import); ``status`` pending, processing, success or failure; ``input``/``result`` JSON text."""

    __tablename__ = "image_tasks"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False)
    owner: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, index=True)
    input: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    result: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    message: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False, default="")
    expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    #: set for ``api_image_import`` tasks (an image's import): the image, and the request and user that asked
    image_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36), index=True)
    request_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
