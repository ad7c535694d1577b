"""Cumulo's qcow2 file volumes (volume driver ``file``).

Each volume is a qcow2 file under ``[volume_file] volumes_path``; a snapshot
is an external qcow2 snapshot (the frozen former active layer, read-only,
the volume's new active layer backed by it); a volume made from a snapshot
is a copy-on-write child backed by the snapshot file (``flatten`` copies it
whole); a clone is a hidden snapshot of the source plus such a child. Data
is moved with ``qemu-img``; volumes are exported as the file itself to the
driver's own host and over NBD with TLS-PSK (``qemu-storage-daemon``) to any
other.
"""
