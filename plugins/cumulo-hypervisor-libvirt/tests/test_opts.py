"""Tests of :mod:`cumulo_hypervisor_libvirt.opts`: the ``[libvirt]`` options and their defaults."""

from __future__ import annotations

import pytest
from cumulo_hypervisor_libvirt import opts
from cumulo_hypervisor_libvirt.driver import LibvirtDriver
from oslo_config import cfg


def conf(**overrides: str) -> cfg.ConfigOpts:
    c = cfg.ConfigOpts()
    c.register_opt(cfg.StrOpt("state_path", default="/var/lib/cumulo"))
    opts.register_opts(c)
    opts.register_opts(c)  # again: fine
    for name, value in overrides.items():
        c.set_override(name, value, group="libvirt")
    return c


def test_defaults_follow_state_path() -> None:
    c = conf()
    assert c.libvirt.virt_type == "auto"
    assert opts.instances_path(c) == "/var/lib/cumulo/libvirt/instances"
    assert opts.images_path(c) == "/var/lib/cumulo/libvirt/_base"


def test_paths_and_uri_can_be_set() -> None:
    c = conf(instances_path="/srv/i", images_path="/srv/b", connection_uri="test:///default")
    assert (opts.instances_path(c), opts.images_path(c)) == ("/srv/i", "/srv/b")
    assert opts.connection_uri(c, "qemu") == "test:///default"


@pytest.mark.parametrize(("virt_type", "uri"), [("kvm", "qemu:///system"), ("qemu", "qemu:///system"),
                                                ("lxc", "lxc:///")])
def test_uri_follows_virt_type(virt_type: str, uri: str) -> None:
    assert opts.connection_uri(conf(), virt_type) == uri


def test_virt_type_is_checked() -> None:
    with pytest.raises(ValueError):
        conf(virt_type="xen")


def test_driver_lists_the_options() -> None:
    [(group, listed)] = LibvirtDriver.list_opts()
    assert group == "libvirt"
    assert {"virt_type", "connection_uri", "instances_path", "images_path", "cpu_mode"} <= {o.name for o in listed}
