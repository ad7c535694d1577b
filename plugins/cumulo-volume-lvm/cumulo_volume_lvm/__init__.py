"""Cumulo's LVM thin volumes (volume driver ``lvm``).

Each volume is a thin logical volume ``volume-<id>`` in ``[volume_lvm]
thin_pool`` of ``[volume_lvm] volume_group``; a snapshot is a thin snapshot
``snap-<id>`` of it; a volume made from a snapshot or cloned from a volume
is a thin snapshot of its source (independent of it once made: the pool
shares the blocks), ``flatten`` a full copy with ``qemu-img``. Volumes are
exported as the block device itself to the driver's own host (no NBD export
for other hosts yet). The LVM command line is run through
:mod:`cumulo_volume_lvm.lvm` (JSON reports, timeouts).
"""
