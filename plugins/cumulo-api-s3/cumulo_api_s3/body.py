"""Request bodies as S3 clients send them: plain, ``aws-chunked``, with digests checked as they are read.

* ``x-amz-content-sha256: <hex>``: the body's SHA-256 must be that (else XAmzContentSHA256Mismatch);
  ``UNSIGNED-PAYLOAD`` is not checked.
* ``STREAMING-*`` payloads (``Content-Encoding: aws-chunked``): ``<hex size>[;chunk-signature=..]\\r\\n
  <data>\\r\\n`` ... ``0..\\r\\n`` then trailers (``x-amz-checksum-crc32:...``) and ``\\r\\n``; the decoded
  body must be ``x-amz-decoded-content-length`` long. Chunk signatures are not checked here (only the
  identity area holds the secret; the seed signature it checked covers the headers).
* ``Content-MD5`` (base64 MD5) and ``x-amz-checksum-crc32|sha1|sha256`` (header or trailer) must match.

A mismatch raises :class:`~cumulo_api_s3.errors.S3Error` before the last chunk is handed on, so the
object service, which stores atomically, never stores a body that fails its check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from cumulo_api_s3.errors import S3Error

READ_CHUNK = 64 * 1024
MAX_CHUNK_LINE = 4096
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
STREAMING = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


CHECKSUMS: dict[str, Callable[[], _Digest]] = {"x-amz-checksum-crc32": _Crc32, "x-amz-checksum-sha1": lambda: hashlib.sha1(usedforsecurity=False),
             "x-amz-checksum-sha256": hashlib.sha256}


class _Raw:
    """``wsgi.input`` as reads: at most ``length`` bytes when a Content-Length was sent."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self.stream = stream
        self.left = length
        self.buffer = b""

    def read(self, size: int = READ_CHUNK) -> bytes:
        if self.buffer:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
            return data
        if self.left is not None:
            if self.left <= 0:
                return b""
            size = min(size, self.left)
        try:
            data = self.stream.read(size)
        except (OSError, ValueError) as err:
            raise S3Error("IncompleteBody", f"The body could not be read: {err}") from None
        except Exception as err:  # cheroot's errors for a malformed chunked transfer coding
            raise S3Error("IncompleteBody", f"Malformed request body: {err}") from None
        if self.left is not None:
            if not data:
                raise S3Error("IncompleteBody")
            self.left -= len(data)
        return bytes(data)

    def readline(self) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            if len(line) > MAX_CHUNK_LINE:
                raise S3Error("InvalidRequest", "An aws-chunked chunk header is too long")
            data = self.read(MAX_CHUNK_LINE)
            if not data:
                break
            at = data.find(b"\n")
            if at >= 0:
                line += data[:at + 1]
                self.buffer = data[at + 1:] + self.buffer
            else:
                line += data
        return line


class Body:
    """The decoded request body as chunks (iterate once), checked against what the client declared."""

    def __init__(self, stream: Any, content_length: int | None, headers: Mapping[str, str]) -> None:
        self.headers = headers
        self.raw = _Raw(stream, content_length)
        sha = headers.get("x-amz-content-sha256", "")
        self.streaming = sha.upper() in STREAMING or "aws-chunked" in headers.get("content-encoding", "").lower()
        self.sha256 = hashlib.sha256() if _HEX64.match(sha.lower()) else None
        self.expected_sha256 = sha.lower()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.content_md5 = self._content_md5(headers.get("content-md5"))
        self.checksums: dict[str, tuple[_Digest, str | None]] = {}
        trailer = headers.get("x-amz-trailer", "").strip().lower()
        for name, make in CHECKSUMS.items():
            if name in headers or name == trailer:
                self.checksums[name] = (make(), headers.get(name))
        self.length: int | None = content_length
        if self.streaming:
            decoded = headers.get("x-amz-decoded-content-length")
            if decoded is None:
                raise S3Error("MissingContentLength", "aws-chunked bodies need x-amz-decoded-content-length")
            try:
                self.length = int(decoded)
                if self.length < 0:
                    raise ValueError
            except ValueError:
                raise S3Error("InvalidArgument", "x-amz-decoded-content-length is not a number") from None
        self.received = 0

    @staticmethod
    def _content_md5(value: str | None) -> bytes | None:
        if value is None:
            return None
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise S3Error("InvalidDigest") from None
        if len(digest) != 16:
            raise S3Error("InvalidDigest")
        return digest

    @property
    def md5_hex(self) -> str:
        """The MD5 of what was read (the ETag of a plain object)."""
        return self.md5.hexdigest()

    def read_all(self, limit: int) -> bytes:
        """The whole body (an XML document); InvalidRequest beyond ``limit`` bytes."""
        out = bytearray()
        for chunk in self:
            out.extend(chunk)
            if len(out) > limit:
                raise S3Error("InvalidRequest", f"The request body is larger than {limit} bytes")
        return bytes(out)

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        for data in (self._decoded() if self.streaming else self._plain()):
            self._account(data)
            if pending:
                yield pending
            pending = data
        self._check_end()
        if pending:
            yield pending

    def _account(self, data: bytes) -> None:
        self.received += len(data)
        self.md5.update(data)
        if self.sha256 is not None:
            self.sha256.update(data)
        for digest, _want in self.checksums.values():
            digest.update(data)

    def _plain(self) -> Iterator[bytes]:
        while True:
            data = self.raw.read()
            if not data:
                return
            yield data

    def _decoded(self) -> Iterator[bytes]:
        while True:
            line = self.raw.readline()
            if not line.endswith(b"\r\n"):
                raise S3Error("IncompleteBody", "An aws-chunked chunk header is missing or malformed")
            size_text = line[:-2].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise S3Error("InvalidRequest", "An aws-chunked chunk size is not hexadecimal") from None
            if size == 0:
                break
            left = size
            while left:
                data = self.raw.read(min(left, READ_CHUNK))
                if not data:
                    raise S3Error("IncompleteBody")
                left -= len(data)
                yield data
            if self.raw.read(2) != b"\r\n":
                raise S3Error("IncompleteBody", "An aws-chunked chunk does not end with CRLF")
        self._trailers()

    def _trailers(self) -> None:
        while True:
            line = self.raw.readline()
            if line in (b"\r\n", b"\n", b""):
                return
            name, _, value = line.decode("latin-1").strip().partition(":")
            name = name.strip().lower()
            if name in self.checksums:
                self.checksums[name] = (self.checksums[name][0], value.strip())

    def _check_end(self) -> None:
        if self.length is not None and self.received != self.length:
            raise S3Error("IncompleteBody")
        if self.sha256 is not None and self.sha256.hexdigest() != self.expected_sha256:
            raise S3Error("XAmzContentSHA256Mismatch", ClientComputedContentSHA256=self.expected_sha256,
                          S3ComputedContentSHA256=self.sha256.hexdigest())
        if self.content_md5 is not None and self.md5.digest() != self.content_md5:
            raise S3Error("BadDigest")
        for name, (digest, want) in self.checksums.items():
            if want is None:
                continue
            if base64.b64encode(digest.digest()).decode() != want:
                algorithm = name.rsplit("-", 1)[-1].upper()
                raise S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
