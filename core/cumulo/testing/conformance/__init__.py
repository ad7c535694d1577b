"""Conformance suites: what every plugin of a kind must do, as pytest base classes.

A plugin's own tests subclass its kind's suite and override the fixture that
builds the plugin instance::

    from cumulo.testing.conformance.image import ImageStoreConformance

    class TestMyStore(ImageStoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(...)

Every suite starts with :class:`RegistryConformance`: the plugin is found by
its entry point, imports, implements its interface and declares a compatible
interface version. A class the tests hold but no distribution installs (a
driver written in a test module, the kernel's own example drivers) sets
``plugin_class`` instead of ``plugin_name``: it gets the same interface checks,
without the entry-point lookup.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from cumulo import registry


class RegistryConformance:
    """Set ``kind`` and ``plugin_name`` (or ``plugin_class``); checks discovery and the interface contract."""

    kind: ClassVar[str] = ""
    plugin_name: ClassVar[str] = ""
    #: An uninstalled plugin class, checked directly (no entry point to find).
    plugin_class: ClassVar[type[Any] | None] = None

    def _plugin_class(self) -> type[Any]:
        if self.plugin_class is not None:
            return self.plugin_class
        return registry.load_class(self.kind, self.plugin_name)

    def test_discovered_by_entry_point(self) -> None:
        if self.plugin_class is not None:
            pytest.skip("an uninstalled plugin class: there is no entry point to discover")
        assert self.plugin_name in registry.names(self.kind), (
            f"{self.kind} plugin '{self.plugin_name}' is not installed (entry point missing?)")

    def test_implements_interface_and_version(self) -> None:
        registry.check_class(self.kind, self._plugin_class(), self.plugin_name or "(uninstalled)")

    def test_options_are_well_formed(self) -> None:
        cls = self._plugin_class()
        for group, opts in registry.plugin_opts(cls):
            assert isinstance(group, str) and group
            for opt in opts:
                assert opt.help, f"option [{group}] {opt.dest} has no help text"
