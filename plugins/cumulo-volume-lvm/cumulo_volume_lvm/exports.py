"""Which hosts a volume is exported to: ``<state_dir>/exports/<volume_id>.json`` (0600), host -> protocol.

Kept in files rather than LV tags so a record never reaches LVM's metadata
backups in ``/etc/lvm/archive``. Only the driver's own host is served (the
block device itself); an NBD export for other hosts would repeat the file
driver's ``qemu-storage-daemon`` code, which plugins cannot import from each
other: it belongs in the kernel first (see doc/source/volume-lvm.rst).
"""

from __future__ import annotations

import contextlib
import json
import os


class Exports:
    """The hosts each volume is exported to, one small JSON file per exported volume."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, volume_id: str) -> str:
        return os.path.join(self.directory, volume_id + ".json")

    def load(self, volume_id: str) -> dict[str, str]:
        """Host -> protocol of ``volume_id``'s connections (empty when it is not exported)."""
        try:
            with open(self._path(volume_id), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in dict(data.get("connections", {})).items()}

    def save(self, volume_id: str, connections: dict[str, str]) -> None:
        """Record ``connections`` atomically, or remove the record when there are none."""
        path = self._path(volume_id)
        if not connections:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"connections": connections}, f)
        os.replace(tmp, path)

    def exported(self, volume_id: str) -> list[str]:
        """The hosts ``volume_id`` is exported to."""
        return sorted(self.load(volume_id))
