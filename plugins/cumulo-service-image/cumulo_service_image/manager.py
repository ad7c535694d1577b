"""The image service (``hub.image``) and what a node starts for it.

* :class:`Service` is ``hub.image``, what frontends and other areas call.
  Every method but :meth:`~Service.enabled_stores`, :meth:`~Service.store`
  and :meth:`~Service.cleanup` takes the caller's :class:`RequestContext`
  first and enforces what the context may see and do (an image the caller
  may not see is a 404, one it may see but not change is a 403). It is
  composed of one component per resource, along Glance's lines (each module
  says what it owns):

  * :mod:`~cumulo_service_image.images` (records and their status lifecycle,
    JSON patches read by :mod:`~cumulo_service_image.json_patch`),
    :mod:`~cumulo_service_image.listing` (filters, sorting, paging);
  * :mod:`~cumulo_service_image.attributes` (writable attributes and extra
    properties), :mod:`~cumulo_service_image.tags`,
    :mod:`~cumulo_service_image.members` (sharing);
  * :mod:`~cumulo_service_image.image_data` (upload and download),
    :mod:`~cumulo_service_image.stores` (store selection),
    :mod:`~cumulo_service_image.locations` (data already in a store);
  * :mod:`~cumulo_service_image.imports` (interoperable import: staging, glance-direct, web-download);
  * :mod:`~cumulo_service_image.quotas`, :mod:`~cumulo_service_image.access`
    (who sees and changes what), :mod:`~cumulo_service_image.housekeeping`
    (dead uploads, data left by deletes);
  * :mod:`~cumulo_service_image.metadefs` (metadata definitions: namespaces,
    objects, properties, tags, resource types), reached as ``hub.image.metadefs``.

  Dependencies run one way (each component is given the ones it uses), and
  :class:`Service` names each public method of a component once.
* :func:`start` is what ``cumulo up`` runs: it loads the default store and
  runs the housekeeping now and periodically.
"""

from __future__ import annotations

import logging
from typing import Any

from cumulo import policy
from cumulo_service_image.attributes import Attributes
from cumulo_service_image.housekeeping import Housekeeping
from cumulo_service_image.image_data import ImageData
from cumulo_service_image.images import Images
from cumulo_service_image.imports import Imports
from cumulo_service_image.listing import Listing
from cumulo_service_image.locations import Locations
from cumulo_service_image.members import Members
from cumulo_service_image.metadefs import Metadefs
from cumulo_service_image.policies import RULES
from cumulo_service_image.quotas import Quotas
from cumulo_service_image.stores import Stores
from cumulo_service_image.tags import Tags
from cumulo_service_image.tasks import Tasks

LOG = logging.getLogger(__name__)

policy.register_rules(RULES)


class Service:
    """``hub.image``: the image manager. Errors are :mod:`cumulo.exception`'s and :mod:`cumulo.contracts.image`'s.

    The components are attributes (``images``, ``image_data``, ``members``...); each method below is
    one of theirs, documented there.
    """

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.stores = Stores(hub)
        self.quotas = Quotas(self.conf)
        self.attributes = Attributes(self.quotas)
        self.locations = Locations(self.stores)
        self.images = Images(self.attributes, self.quotas, self.stores, self.locations)
        self.listing = Listing()
        self.tags = Tags(self.attributes)
        self.members = Members(self.quotas)
        self.image_data = ImageData(self.conf, self.stores, self.quotas, self.images)
        self.housekeeping = Housekeeping(self.conf, self.stores)
        #: metadata definitions (namespaces and what they define), called as ``hub.image.metadefs.<method>``
        self.metadefs = Metadefs()
        #: image tasks (asynchronous imports), called as ``hub.image.tasks.<method>``
        self.tasks = Tasks(self.images, self.image_data)
        #: interoperable import (stage, import: glance-direct, web-download)
        self.imports = Imports(self.conf, self.quotas, self.image_data)

        # stores
        self.enabled_stores = self.stores.enabled_stores
        self.store = self.stores.store
        # image records
        self.create = self.images.create
        self.get = self.images.get
        self.list = self.listing.list
        self.update = self.images.update
        self.patch = self.images.patch
        self.delete = self.images.delete
        self.deactivate = self.images.deactivate
        self.reactivate = self.images.reactivate
        # tags
        self.add_tag = self.tags.add_tag
        self.delete_tag = self.tags.delete_tag
        # members
        self.add_member = self.members.add_member
        self.list_members = self.members.list_members
        self.get_member = self.members.get_member
        self.update_member = self.members.update_member
        self.delete_member = self.members.delete_member
        # data and locations
        self.upload = self.image_data.upload
        self.add_location = self.locations.add_location
        self.open_data = self.image_data.open_data
        self.download = self.image_data.download
        # interoperable import
        self.import_methods = self.imports.methods
        self.stage = self.imports.stage
        self.import_image = self.imports.import_image
        self.image_tasks = self.tasks.image_tasks
        self.delete_from_store = self.imports.delete_from_store

    def cleanup(self) -> int:
        """Housekeeping (dead uploads, data of deleted images) and the imports' sweep (dead stages and
        imports back to queued, staged files nothing needs removed). Returns how many images it fixed."""
        return self.housekeeping.cleanup() + self.imports.sweep()


def start(hub: Any) -> list[Any]:
    """At start: load the default store (a wrong name stops ``cumulo up`` with the names available),
    reset uploads that died with an earlier process, then check periodically."""
    from cumulo.service import PeriodicTask

    hub.image.store()
    try:
        hub.image.cleanup()
    except Exception:
        LOG.exception("Image cleanup at start failed")
    task = PeriodicTask(lambda: hub.image.cleanup(), hub.conf.image.cleanup_interval, "image-cleanup")
    return [task.start()]
