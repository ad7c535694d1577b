"""Hypervisor interface 3.0: the image reader, derived capabilities, signature checks at load, and
the conformance suite on the smallest driver that puts a real, verified disk image in place."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext, signature_problems
from cumulo.interfaces.hypervisor import (
    HypervisorDriver,
    ImageMeta,
    ImageVerificationError,
    Instance,
    StreamImageReader,
    supported_capabilities,
)
from cumulo.testing.conformance.disk_driver import DiskImageDriver
from cumulo.testing.conformance.hypervisor import HypervisorConformance

DATA = os.urandom(200_000)


def meta(data: bytes = DATA, **kw: Any) -> ImageMeta:
    fields: dict[str, Any] = {"id": "img-1", "size": len(data),
                              "checksum": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                              "os_hash_algo": "sha512", "os_hash_value": hashlib.sha512(data).hexdigest()}
    fields.update(kw)
    return ImageMeta(**fields)


# -- the image reader -----------------------------------------------------------------------------

def test_save_to_writes_the_verified_image(tmp_path: Path) -> None:
    reader = StreamImageReader.from_bytes(meta(), DATA)
    target = tmp_path / "disk"
    assert reader.save_to(str(target)) == len(DATA)
    assert target.read_bytes() == DATA
    assert b"".join(reader.chunks()) == DATA  # each call streams from the first byte


@pytest.mark.parametrize("wrong", [
    {"size": len(DATA) + 1},
    {"checksum": "0" * 32},
    {"os_hash_value": "0" * 128},
], ids=["size", "md5", "sha512"])
def test_save_to_refuses_a_mismatch_and_leaves_nothing(tmp_path: Path, wrong: dict[str, Any]) -> None:
    reader = StreamImageReader.from_bytes(meta(**wrong), DATA)
    target = tmp_path / "disk"
    with pytest.raises(ImageVerificationError) as err:
        reader.save_to(str(target))
    assert err.value.error_code == "hypervisor.image_invalid"
    assert list(tmp_path.iterdir()) == []


def test_local_path_downloads_once_for_concurrent_callers(tmp_path: Path) -> None:
    opened: list[int] = []

    def stream() -> Iterator[bytes]:
        opened.append(1)
        yield DATA

    readers = [StreamImageReader(meta(), stream, cache_dir=str(tmp_path / "cache")) for _ in range(6)]
    paths: list[str] = []
    threads = [threading.Thread(target=lambda r=r: paths.append(r.local_path())) for r in readers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 1 and Path(paths[0]).read_bytes() == DATA
    assert len(opened) == 1
    assert oct(os.stat(tmp_path / "cache").st_mode & 0o777) == "0o700"


def test_local_path_needs_a_cache_dir() -> None:
    with pytest.raises(RuntimeError):
        StreamImageReader.from_bytes(meta(), DATA).local_path()


def test_related_images_are_read_through_the_reader(tmp_path: Path) -> None:
    kernel = b"vmlinux" * 1000
    opened: list[str] = []

    def open_related(image_id: str) -> StreamImageReader:
        opened.append(image_id)
        return StreamImageReader.from_bytes(meta(kernel, id=image_id), kernel, cache_dir=str(tmp_path))

    reader = StreamImageReader(meta(properties={"kernel_id": "aki-1"}), lambda: iter([DATA]),
                               cache_dir=str(tmp_path), open_related=open_related)
    related = reader.related(reader.meta.properties["kernel_id"])
    assert opened == ["aki-1"] and Path(related.local_path()).read_bytes() == kernel
    with pytest.raises(ImageVerificationError, match="cannot open other images"):
        StreamImageReader.from_bytes(meta(), DATA).related("aki-1")


# -- capabilities and signatures ------------------------------------------------------------------

class _Base(DiskImageDriver):
    pass


def test_capabilities_follow_overrides() -> None:
    assert DiskImageDriver.capabilities == frozenset()

    class Pausing(_Base):
        def pause(self, instance: Instance) -> None: ...

        def unpause(self, instance: Instance) -> None: ...

        def get_console_output(self, instance: Instance) -> str:
            return ""

    class HalfSuspend(_Base):
        def suspend(self, instance: Instance) -> None: ...  # resume missing: not a capability

    class Graceful(_Base):
        graceful_reboot = True

    assert Pausing.capabilities == {"pause", "console_output"} == supported_capabilities(Pausing)
    assert HalfSuspend.capabilities == frozenset()
    assert Graceful.capabilities == {"soft_reboot"}


def test_signature_problems_name_the_method() -> None:
    class WrongOrder(_Base):
        def reboot(self, hard: bool, instance: Instance) -> None:  # type: ignore[override]
            ...

    class ExtraRequired(_Base):
        def power_off(self, instance: Instance, timeout: int, force: bool) -> None:  # type: ignore[override]
            ...

    class MissingKeyword(_Base):
        def spawn(self, instance, image, network_info, block_devices=()):  # type: ignore[no-untyped-def,override]
            ...

    class Flexible(_Base):
        def spawn(self, instance: Any, *args: Any, **kwargs: Any) -> None: ...

        def power_off(self, instance: Instance, timeout: int = 0, force: bool = False) -> None: ...

    assert signature_problems(HypervisorDriver, WrongOrder) == ["reboot(): parameter 1 must be 'instance'"]
    [problem] = signature_problems(HypervisorDriver, ExtraRequired)
    assert problem.startswith("power_off(): adds required parameter(s) force")
    assert signature_problems(HypervisorDriver, MissingKeyword) == ["spawn(): parameter 5 must be 'admin_password'"]
    assert signature_problems(HypervisorDriver, Flexible) == []


def test_registry_refuses_a_mismatched_driver_at_load() -> None:
    class Broken(_Base):
        interface_version = "3.0"

        def destroy(self, instance: Instance) -> None:  # type: ignore[override]
            ...

    with pytest.raises(registry.PluginError, match=r"does not match HypervisorDriver 3\.1: destroy\(\)"):
        registry.check_class("hypervisor", Broken, "broken")


def test_registry_refuses_a_driver_of_an_older_major_version() -> None:
    class Old(_Base):
        interface_version = "1.0"

    class Before3(_Base):  # 3.0 changed how volumes arrive: a 2.x driver would misread them
        interface_version = "2.1"

    with pytest.raises(registry.PluginError, match="written for HypervisorDriver 1.0"):
        registry.check_class("hypervisor", Old, "old")
    with pytest.raises(registry.PluginError, match="written for HypervisorDriver 2.1, but this kernel provides 3.1"):
        registry.check_class("hypervisor", Before3, "before3")


def test_registry_checks_named_contracts() -> None:
    class WantsImage(_Base):
        interface_version = "3.0"
        contracts = {"image": "1.0"}

    class WantsFuture(_Base):
        interface_version = "3.0"
        contracts = {"image": "2.0"}

    class WantsMissing(_Base):
        interface_version = "3.0"
        contracts = {"nothing_here": "1.0"}

    registry.check_class("hypervisor", WantsImage, "ok")
    with pytest.raises(registry.PluginError, match="contract image 2.0"):
        registry.check_class("hypervisor", WantsFuture, "future")
    with pytest.raises(registry.PluginError, match="cumulo.contracts.nothing_here"):
        registry.check_class("hypervisor", WantsMissing, "missing")


# -- the conformance suite on a driver that writes real disks --------------------------------------

class TestDiskImageDriver(HypervisorConformance):
    plugin_class = DiskImageDriver  # not installed: checked as a class
    reads_image = True
    image_bytes = DATA

    @pytest.fixture
    def driver(self, tmp_path: Path) -> DiskImageDriver:
        conf = cfg.ConfigOpts()
        conf.register_opts([cfg.StrOpt("host", default="disk-1"), cfg.StrOpt("state_path", default=str(tmp_path))])
        conf([])
        return DiskImageDriver(PluginContext(conf, kind="hypervisor", name="disk", host="disk-1"))

    def test_spawn_puts_the_image_on_disk(self, driver: DiskImageDriver, tmp_path: Path) -> None:
        inst = self.make_instance()
        driver.spawn(inst, self.image(str(tmp_path / "cache")), self.network_info())
        assert Path(driver.disk_path(inst)).read_bytes() == DATA
        other = self.make_instance()
        driver.spawn(other, self.image(str(tmp_path / "cache")), [])
        assert os.listdir(tmp_path / "cache") == ["11111111-2222-3333-4444-555555555555"]  # one download
        driver.destroy(inst, [])
        assert not os.path.exists(driver.disk_path(inst))
        assert Path(driver.disk_path(other)).read_bytes() == DATA


def test_kernel_conf_has_host_and_state_path() -> None:
    assert CONF.host and CONF.state_path is not None
