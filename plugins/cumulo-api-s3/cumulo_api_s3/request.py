"""One S3 request, parsed: method, lowercase headers, query, bucket and key (path or virtual-host style)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from oslo_config import cfg

from cumulo.contracts.object import Caller
from cumulo_api_s3 import auth
from cumulo_api_s3.body import Body
from cumulo_api_s3.errors import S3Error


class S3Request:
    """One request, parsed: method, headers (lowercase), bucket, key, query, the caller and its account."""

    def __init__(self, environ: dict[str, Any], conf: cfg.ConfigOpts) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.headers = auth.lower_headers(environ)
        self.pairs = auth.query_pairs(environ)
        self.query = dict(self.pairs)
        self.params = {k: v for k, v in self.query.items() if k.lower() not in auth.SIGNATURE_PARAMS}
        self.resource_path = "/"
        self.bucket, self.key = self._address(conf)
        self.caller = Caller()
        self.account = ""
        self.owner = ""
        self.request_id = uuid.uuid4().hex[:16].upper()

    def _address(self, conf: cfg.ConfigOpts) -> tuple[str, str]:
        raw = auth.raw_path(self.environ)
        script = self.environ.get("SCRIPT_NAME", "") or ""
        if script and raw.startswith(script):
            raw = raw[len(script):]
        try:
            path = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise S3Error("InvalidURI", "The path is not valid UTF-8") from None
        if "\x00" in path:
            raise S3Error("InvalidURI", "The path contains a NUL character")
        host = self.headers.get("host", "").lower()
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        for domain in conf.s3.virtual_host_domains or []:
            domain = domain.strip().lower().lstrip(".")
            if domain and host.endswith("." + domain):
                bucket = host[:-len(domain) - 1]
                self.resource_path = "/" + quote(bucket) + "/" + raw.lstrip("/")
                return bucket, path[1:] if path.startswith("/") else path
        bucket, _, key = path.lstrip("/").partition("/")
        # botocore signs V2 with /<bucket>/<key> (the slash even without a key) for a bucket, and the
        # whole path (the endpoint's included) without one.
        raw_bucket, _, raw_key = raw.lstrip("/").partition("/")
        self.resource_path = f"/{raw_bucket}/{raw_key}" if bucket else auth.raw_path(self.environ)
        return bucket, key

    @property
    def resource(self) -> str:
        return "/" + self.bucket + ("/" + self.key if self.key else "") if self.bucket else "/"

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def text_header(self, name: str) -> str | None:
        """A header value decoded as UTF-8 (WSGI hands it over as latin-1)."""
        value = self.headers.get(name.lower())
        if value is None:
            return None
        try:
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value

    def body(self) -> Body:
        raw = self.environ.get("CONTENT_LENGTH")
        length = None
        if raw not in (None, ""):
            try:
                length = int(raw)
                if length < 0:
                    raise ValueError
            except ValueError:
                raise S3Error("InvalidArgument", f"Invalid Content-Length {raw!r}") from None
        elif "chunked" not in self.header("transfer-encoding").lower():
            length = 0
        return Body(self.environ["wsgi.input"], length, self.headers)
