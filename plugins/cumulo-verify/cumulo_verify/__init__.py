"""``cumulo verify``: Tempest against a running Cumulo, in the spirit of ``rally verify``.

:mod:`cumulo_verify.probe` learns what the cloud has (catalog, version documents, feature probes) and
creates the images and flavors Tempest needs; :mod:`cumulo_verify.tempestconf` turns that into
``tempest.conf``; :mod:`cumulo_verify.runner` installs the pinned Tempest in its own venv, runs a
selection and summarises the subunit result.
"""
