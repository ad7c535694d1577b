"""Testing support for Cumulo and for plugin authors.

* :mod:`cumulo.testing.pytest_plugin`: fixtures (loaded automatically once
  the kernel is installed): ``cumulo_conf`` (an isolated configuration with a
  temp state path), ``cumulo_db`` (that plus a migrated SQLite database).
* :mod:`cumulo.testing.conformance`: one suite per plugin kind; a plugin's
  tests subclass the suite and provide the instance.
* :mod:`cumulo.testing.cloud`: a real ``cumulo up`` in a subprocess.
"""
