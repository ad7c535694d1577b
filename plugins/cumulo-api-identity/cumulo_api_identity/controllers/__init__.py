"""The Identity v3 controllers, one module per resource as Keystone's ``keystone/api/*.py``.

Each controller declares its own routes (:meth:`~.base.Controller.add_routes`); ``app.build_router``
puts them on one router.
"""
