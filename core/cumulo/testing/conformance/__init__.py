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
interface version.
"""

from __future__ import annotations

from typing import ClassVar

from cumulo import registry


class RegistryConformance:
    """Set ``kind`` and ``plugin_name``; checks discovery and the interface contract."""

    kind: ClassVar[str] = ""
    plugin_name: ClassVar[str] = ""

    def test_discovered_by_entry_point(self) -> None:
        assert self.plugin_name in registry.names(self.kind), (
            f"{self.kind} plugin '{self.plugin_name}' is not installed (entry point missing?)")

    def test_implements_interface_and_version(self) -> None:
        cls = registry.load_class(self.kind, self.plugin_name)
        registry.check_class(self.kind, cls, self.plugin_name)

    def test_options_are_well_formed(self) -> None:
        cls = registry.load_class(self.kind, self.plugin_name)
        for group, opts in registry.plugin_opts(cls):
            assert isinstance(group, str) and group
            for opt in opts:
                assert opt.help, f"option [{group}] {opt.dest} has no help text"
