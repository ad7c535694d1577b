"""Testing support for Cumulo and for plugin authors.

* :mod:`cumulo.testing.pytest_plugin`: fixtures (loaded automatically once
  the kernel is installed): ``cumulo_conf`` (an isolated configuration with a
  temp state path), ``cumulo_db`` (that plus a migrated SQLite database),
  and those of :mod:`cumulo.testing.fixtures`.
* :mod:`cumulo.testing.fixtures`: what kernel and plugin tests share: a fake
  hub (areas absent or replaced), an API client, noauth contexts, compute
  hosts of the fake hypervisor in process, image and object hubs.
* :mod:`cumulo.testing.memory`: in-memory stand-ins for services
  (``MemoryObjects``).
* :mod:`cumulo.testing.conformance`: one suite per plugin kind; a plugin's
  tests subclass the suite and provide the instance.
* :mod:`cumulo.testing.cloud`: a real ``cumulo up`` in a subprocess.
"""
