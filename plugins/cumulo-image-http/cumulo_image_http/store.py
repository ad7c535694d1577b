"""The HTTP image store (``http``): read-only, for images on web servers the operator names.

A user points a queued image at ``http(s)://host/path`` (``add
/locations/-`` in an image JSON patch); the store accepts the URL only when
its host is in ``[image_http] allowed_hosts`` (so users cannot make the
cloud fetch from arbitrary or internal addresses), and streams it with
``GET`` (``Range`` for partial reads). ``add`` and ``delete`` are refused.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

import requests
from oslo_config import cfg

from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo.utils.ranges import slice_chunks

OPTS = [
    cfg.ListOpt("allowed_hosts", default=[],
                help="Hosts (host or host:port; shell wildcards like *.example.org allowed) image locations may "
                     "name. Empty: the http store accepts no location."),
    cfg.ListOpt("allowed_schemes", default=["https", "http"], help="URL schemes accepted."),
    cfg.IntOpt("timeout", default=60, min=1, help="Seconds to wait for the web server (connect and each read)."),
    cfg.IntOpt("chunk_size", default=64 * 1024, min=4096, help="Bytes per chunk when streaming."),
    cfg.BoolOpt("verify", default=True, help="Verify TLS certificates."),
    cfg.IntOpt("max_redirects", default=5, min=0, help="Redirects followed (each target must be allowed too)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("image_http", OPTS)]


class HttpStore(iface.ImageStore):
    """Read-only store: streams images from operator-approved web servers."""

    interface_version = "2.0"
    schemes = frozenset({"http", "https"})
    writable = False

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        group = ctx.conf.image_http
        self.allowed_hosts = [h.strip().lower() for h in group.allowed_hosts if h.strip()]
        self.allowed_schemes = {s.strip().lower() for s in group.allowed_schemes}
        self.timeout, self.chunk_size = group.timeout, group.chunk_size
        self.verify, self.max_redirects = group.verify, group.max_redirects
        self.session = requests.Session()

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    def validate_location(self, location: str) -> None:
        parsed = urlparse(location)
        if parsed.scheme.lower() not in self.allowed_schemes:
            raise iface.ImageStoreError(f"scheme '{parsed.scheme}' is not one of {sorted(self.allowed_schemes)}")
        if not parsed.hostname:
            raise iface.ImageStoreError("the URL names no host")
        if parsed.username or parsed.password:
            raise iface.ImageStoreError("credentials in image URLs are not accepted")
        host = parsed.hostname.lower()
        hostport = f"{host}:{parsed.port}" if parsed.port else host
        if not any(fnmatch.fnmatchcase(host, pat) or fnmatch.fnmatchcase(hostport, pat) for pat in self.allowed_hosts):
            raise iface.ImageStoreError(f"host '{hostport}' is not in [image_http] allowed_hosts")

    def _request(self, method: str, location: str, headers: dict[str, str] | None = None) -> requests.Response:
        url = location
        for _ in range(self.max_redirects + 1):
            self.validate_location(url)
            try:
                resp = self.session.request(method, url, headers=headers, stream=True, timeout=self.timeout,
                                            verify=self.verify, allow_redirects=False)
            except requests.RequestException as err:
                raise iface.ImageStoreError(f"cannot reach {url}: {err}") from None
            if resp.is_redirect and resp.headers.get("Location"):
                resp.close()
                url = requests.compat.urljoin(url, resp.headers["Location"])
                continue
            if resp.status_code == 404 or resp.status_code == 410:
                resp.close()
                raise iface.ImageDataNotFound(f"{url} answered {resp.status_code}")
            if resp.status_code >= 400:
                resp.close()
                raise iface.ImageStoreError(f"{url} answered {resp.status_code}")
            return resp
        raise iface.ImageStoreError(f"more than {self.max_redirects} redirects from {location}")

    def get(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        if length == 0:
            return iter(())
        resp = self._request("GET", location, headers)
        skip = offset if resp.status_code != 206 else 0  # a server that ignores Range sends it all
        if resp.status_code == 416:
            resp.close()
            return iter(())
        return _stream(resp, self.chunk_size, skip, length)

    def get_size(self, location: str) -> int | None:
        resp = self._request("HEAD", location)
        resp.close()
        length = resp.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def add(self, image_id: str, chunks: Iterable[bytes], expected_size: int | None = None,
            hash_algo: str = "sha512") -> iface.StoredImage:
        raise iface.ImageStoreReadOnly("The http image store is read-only")

    def delete(self, location: str) -> None:
        raise iface.ImageStoreReadOnly("The http image store is read-only")


def _stream(resp: requests.Response, chunk_size: int, skip: int, length: int | None) -> Iterator[bytes]:
    try:
        yield from slice_chunks(resp.iter_content(chunk_size), skip, None if length is None else skip + length)
    except requests.RequestException as err:
        raise iface.ImageStoreError(f"reading {resp.url} failed: {err}") from None
    finally:
        resp.close()
