"""The filesystem image store (``filesystem``), Cumulo's default.

Each image is one file, ``<datadir>/<image id>``; its location is the
``file://`` URL of that file. ``add`` streams into a temporary file in the
same directory (``<id>.partial.<random>``), computing md5 and the secure hash
as it goes, fsyncs it, and links it into place only when the data is whole:
readers never see a partial image, and a crash leaves only a temporary file
that :meth:`discard` (called when the service finds the dead upload) removes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlparse

from oslo_config import cfg

from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo.utils.ranges import FileRange

OPTS = [
    cfg.StrOpt("datadir", help="Directory of the image files. Default: <state_path>/images."),
    cfg.IntOpt("chunk_size", default=64 * 1024, min=4096, help="Bytes read from a file at a time when serving."),
    cfg.IntOpt("file_mode", default=0o640, help="Permissions of image files."),
]
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("image_filesystem", OPTS)]


class FilesystemStore(iface.ImageStore):
    """Image data as files in a local directory (atomic writes, md5 + sha512 while streaming)."""

    interface_version = "2.0"
    schemes = frozenset({"file"})
    writable = True

    def __init__(self, ctx: PluginContext, datadir: str | None = None) -> None:
        super().__init__(ctx)
        conf = ctx.conf
        if datadir is None:
            datadir = conf.image_filesystem.datadir or os.path.join(conf.state_path, "images")
        self.datadir = os.path.abspath(datadir)
        self.chunk_size = conf.image_filesystem.chunk_size
        self.file_mode = conf.image_filesystem.file_mode
        os.makedirs(self.datadir, mode=0o750, exist_ok=True)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    # -- paths
    def _path(self, image_id: str) -> str:
        if not _SAFE_ID.match(image_id or "") or ".partial." in image_id:
            raise iface.ImageStoreError(f"Invalid image id {image_id!r} for the filesystem store")
        return os.path.join(self.datadir, image_id)

    def _location_path(self, location: str) -> str:
        parsed = urlparse(location)
        if parsed.scheme != "file":
            raise iface.ImageDataNotFound(f"Not a file location: {location}")
        path = os.path.abspath(unquote(parsed.path))
        if os.path.dirname(path) != self.datadir:
            raise iface.ImageDataNotFound(f"Location {location} is outside this store ({self.datadir})")
        return path

    def _fsync_dir(self) -> None:
        fd = os.open(self.datadir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- the interface
    def add(self, image_id: str, chunks: Iterable[bytes], expected_size: int | None = None,
            hash_algo: str = "sha512") -> iface.StoredImage:
        final = self._path(image_id)
        if os.path.exists(final):
            raise iface.ImageExists(f"Image data for {image_id} already exists")
        if expected_size is not None:
            free = self._free_bytes()
            if free is not None and expected_size > free:
                raise iface.ImageStoreFull(f"{expected_size} bytes do not fit; {free} bytes free")
        tmp = f"{final}.partial.{uuid.uuid4().hex}"
        md5 = hashlib.md5(usedforsecurity=False)
        secure = hashlib.new(hash_algo)
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, self.file_mode)
        try:
            try:
                for chunk in chunks:
                    if not chunk:
                        continue
                    size += len(chunk)
                    if expected_size is not None and size > expected_size:
                        raise iface.ImageSizeMismatch(f"more than the {expected_size} bytes declared")
                    md5.update(chunk)
                    secure.update(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                if expected_size is not None and size != expected_size:
                    raise iface.ImageSizeMismatch(f"{size} bytes received, {expected_size} declared")
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, final)  # fails if another add won: never overwrite stored data
            except FileExistsError:
                raise iface.ImageExists(f"Image data for {image_id} already exists") from None
            except OSError as err:
                if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                    raise
                os.rename(tmp, final)  # filesystems without hard links
            self._fsync_dir()
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise iface.ImageStoreFull(f"No space left in {self.datadir}") from None
            raise
        finally:
            _unlink(tmp)
        return iface.StoredImage(location="file://" + final, size=size, checksum=md5.hexdigest(),
                                 os_hash_algo=hash_algo, os_hash_value=secure.hexdigest())

    def get(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._location_path(location)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise iface.ImageDataNotFound(f"No image data at {location}") from None
        return FileRange(f, offset, None if length is None else offset + length, self.chunk_size)

    def delete(self, location: str) -> None:
        try:
            path = self._location_path(location)
        except iface.ImageDataNotFound:
            return
        _unlink(path)

    def discard(self, image_id: str) -> None:
        final = self._path(image_id)
        _unlink(final)
        prefix = image_id + ".partial."
        for name in os.listdir(self.datadir):
            if name.startswith(prefix):
                _unlink(os.path.join(self.datadir, name))

    def get_size(self, location: str) -> int | None:
        try:
            return os.path.getsize(self._location_path(location))
        except OSError:
            return None

    def _free_bytes(self) -> int | None:
        try:
            st = os.statvfs(self.datadir)
        except (OSError, AttributeError):
            return None
        return st.f_bavail * st.f_frsize


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
