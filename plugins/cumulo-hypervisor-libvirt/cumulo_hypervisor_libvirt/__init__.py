"""The libvirt hypervisor: QEMU/KVM and LXC domains on one compute host.

Modules: :mod:`.opts` (the ``[libvirt]`` options), :mod:`.host` (virt_type
choice, host resources), :mod:`.guest` (the domain XML), :mod:`.driver`
(:class:`~.driver.LibvirtDriver`, the lifecycle), :mod:`.events` (power-state
changes from libvirt's lifecycle events), :mod:`.disks` (image cache, qcow2
overlays) and :mod:`.configdrive` (the OpenStack config drive).
"""
