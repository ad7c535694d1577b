"""``PUT ?extract-archive=<format>``: a tar archive unpacked into containers and objects.

This is the upload half of Swift's ``bulk`` middleware. Like the middleware in front of
Swift's proxy, it turns one request into the requests it stands for: each regular file of the
archive becomes a container PUT (when its container is new to this extraction) and an object
PUT made as the caller, so access, quotas and limits apply to each as to its own request.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from typing import IO, Any

from requests.structures import CaseInsensitiveDict

from cumulo import exception
from cumulo.contracts.object import Caller, SwiftError

#: The compressions Swift's bulk middleware accepts, as tarfile open modes.
FORMATS = {"tar": "r|", "tar.gz": "r|gz", "tar.bz2": "r|bz2"}
MAX_CONTAINERS = 10000
MAX_FAILED = 1000
READ_CHUNK = 64 * 1024
STATUS = {201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          409: "Conflict", 411: "Length Required", 413: "Request Entity Too Large", 500: "Internal Server Error",
          503: "Service Unavailable"}


class _Stream(io.RawIOBase):
    """A file over an iterable of byte chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _chunks(data: IO[bytes] | None) -> Iterator[bytes]:
    while data is not None:
        chunk = data.read(READ_CHUNK)
        if not chunk:
            return
        yield chunk


def info() -> dict[str, int]:
    """The ``bulk_upload`` section of ``/info``."""
    return {"max_containers_per_extraction": MAX_CONTAINERS, "max_failed_extractions": MAX_FAILED}


def extract(svc: Any, caller: Caller, account: str, upload_path: str, fmt: str, body: Iterable[bytes],
            headers: CaseInsensitiveDict[str]) -> dict[str, Any]:
    """Unpack the archive in ``body`` below ``upload_path`` (``""``, ``<container>`` or ``<container>/<prefix>``).

    Returns Swift's report (``Number Files Created``, ``Response Status``, ``Response Body``, ``Errors``).

    :raises SwiftError: 400 for an unknown format or an archive that cannot be read.
    """
    mode: Any = FORMATS.get(fmt.lower().lstrip(".") or "tar")  # one of tarfile's literal stream modes
    if mode is None:
        raise SwiftError(400, f"Unsupported archive format {fmt!r}; use one of {', '.join(FORMATS)}")
    report: dict[str, Any] = {"Number Files Created": 0, "Response Status": "201 Created",
                              "Response Body": "", "Errors": []}
    base = upload_path.strip("/")
    made: set[str] = set()
    # Object headers of the request apply to every object (Swift passes them on); not the body's framing.
    passed = CaseInsensitiveDict({k: v for k, v in headers.items()
                                  if k.lower() not in ("content-length", "transfer-encoding", "etag",
                                                       "x-auth-token", "content-type")})
    try:
        with tarfile.open(mode=mode, fileobj=io.BufferedReader(_Stream(body))) as tar:
            for member in tar:
                if not member.isreg():
                    continue
                name = "/".join(p for p in (base, member.name.lstrip("./").strip("/")) if p)
                container, _, obj = name.partition("/")
                if not container or not obj:
                    report["Errors"].append([name, "400 Bad Request"])
                    continue
                try:
                    if container not in made:
                        if len(made) >= MAX_CONTAINERS:
                            raise SwiftError(400, "More than the containers allowed in one extraction")
                        svc.container_put(caller, account, container, CaseInsensitiveDict())
                        made.add(container)
                    chunks = _chunks(tar.extractfile(member))
                    svc.object_put(caller, account, container, obj, chunks, member.size, passed, {})
                    report["Number Files Created"] += 1
                except exception.CumuloError as err:
                    code = int(getattr(err, "code", 500) or 500)
                    report["Errors"].append([f"/{container}/{obj}", f"{code} {STATUS.get(code, 'Error')}"])
                    if len(report["Errors"]) >= MAX_FAILED:
                        break
    except (tarfile.TarError, EOFError, OSError) as err:
        raise SwiftError(400, f"Invalid Tar File: {err}") from None
    if report["Errors"]:
        codes = sorted(int(e[1].split()[0]) for e in report["Errors"])
        worst = codes[-1] if codes[-1] >= 500 else 400
        report["Response Status"] = f"{worst} {STATUS.get(worst, 'Error')}"
    return report
