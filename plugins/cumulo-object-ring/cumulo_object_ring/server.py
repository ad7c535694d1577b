"""The storage node's WSGI app: account, container and object requests for its devices.

Paths are ``/<device>/<partition>/<account>[/<container>[/<object>]]`` with
every segment percent-quoted (read from the raw request URI, so an object
name may hold slashes). Three segments address an account, four a container,
five an object. ``X-Backend-Server-Type: account`` on a four-segment path is
a container row update for the account database; ``container`` on a
five-segment path is an object row update for the container database.

Replication endpoints (node to node): ``/_repl/...`` (object partitions) and
``/_repl_db/...`` (databases); admin: ``/_admin/health`` and
``POST /_admin/{replicate,audit,expire,update}`` (one pass, now).

Every request, these included, must be signed with the cluster secret
(:mod:`cumulo_object_ring.signing`): unsigned ones get 401, a bad or stale
signature 403, before anything else is looked at. The headers naming servers
to update after a write (``X-Container-*``, ``X-Account-*``) are only
followed to devices of the rings (the node's ``update_targets``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

import webob

from cumulo_object_ring import client, diskfile
from cumulo_object_ring.context import ServerContext, Targets
from cumulo_object_ring.db import AccountBroker, ContainerBroker, DatabaseNotFound
from cumulo_object_ring.diskfile import Device, DiskFileError, ObjectState, normalize_timestamp
from cumulo_object_ring.ring import hash_path
from cumulo_object_ring.signing import SCHEME, SignatureError

LOG = logging.getLogger(__name__)
HEX32 = re.compile(r"^[0-9a-f]{32}$")
SUFFIX = re.compile(r"^[0-9a-f]{3}$")
FNAME = re.compile(r"^\d{13}\.\d{5}\.(data|meta|ts)$")
# Swift's expirer queue headers: this node finds containers through the ring, so it takes no
# "where to send" header of that family from anyone.
UNSUPPORTED_TARGET = re.compile(r"^x-delete-at-(host|device|partition|container)$")


class HTTPError(Exception):
    def __init__(self, status: int, message: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _segments(environ: dict[str, Any]) -> list[str]:
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        path = raw.split("?", 1)[0]
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        parts = path.split("/")[1:]
        return [unquote(p, encoding="utf-8", errors="surrogateescape") for p in parts]
    path = environ.get("PATH_INFO", "")
    try:
        path = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        pass
    return path.split("/", 5)[1:]


def _timestamp(req: webob.Request, header: str = "X-Timestamp") -> str:
    value = req.headers.get(header)
    try:
        return normalize_timestamp(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise HTTPError(400, f"Missing or bad {header}") from None


class NodeApp:
    """WSGI callable; all state lives in the node (devices, rings, daemons), which it reaches
    through :class:`cumulo_object_ring.context.ServerContext`."""

    def __init__(self, node: ServerContext) -> None:
        self.node = node

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = webob.Request(environ)
        try:
            self.node.signer.verify_environ(environ)
            resp = self.dispatch(req, _segments(environ))
        except SignatureError as err:
            LOG.warning("Refused %s %r from %s: %s", req.method, environ.get("REQUEST_URI"),
                        environ.get("REMOTE_ADDR"), err.message)
            headers = {"WWW-Authenticate": SCHEME} if err.status == 401 else {}
            resp = webob.Response(status=err.status, body=err.message.encode(), content_type="text/plain",
                                  headers=headers)
        except HTTPError as err:
            resp = webob.Response(status=err.status, body=err.message.encode(), content_type="text/plain",
                                  headers=err.headers)
        except DatabaseNotFound:
            resp = webob.Response(status=404, body=b"not found", content_type="text/plain")
        except Exception as err:
            LOG.exception("Error handling %s %s", req.method, environ.get("REQUEST_URI"))
            resp = webob.Response(status=500, body=str(err).encode(), content_type="text/plain")
        return resp(environ, start_response)

    # -- routing ---------------------------------------------------------------------------
    def dispatch(self, req: webob.Request, segs: list[str]) -> webob.Response:
        if not segs or segs == [""]:
            raise HTTPError(404)
        for name in req.headers:
            if UNSUPPORTED_TARGET.match(name.lower()):
                raise HTTPError(400, f"{name} is not supported")
        if segs[0] == "_admin":
            return self.admin(req, segs[1:])
        if segs[0] == "_repl":
            return self.repl_objects(req, segs[1:])
        if segs[0] == "_repl_db":
            return self.repl_db(req, segs[1:])
        if len(segs) < 3 or not segs[1].isdigit() or any(s == "" for s in segs[:4]):
            raise HTTPError(400, "Bad path")
        device = self.node.device(segs[0])
        part = int(segs[1])
        account = segs[2]
        container = segs[3] if len(segs) > 3 else None
        obj = "/".join(segs[4:]) if len(segs) > 4 else None
        if len(segs) > 5:  # not quoted by a Swift-style client: keep the slashes
            obj = "/".join(segs[4:])
        server = req.headers.get("X-Backend-Server-Type")
        if obj is not None and obj != "":
            if server == "container":
                return self.container_row(req, device, part, account, container, obj)  # type: ignore[arg-type]
            return self.object(req, device, part, account, container, obj)  # type: ignore[arg-type]
        if container is not None:
            if server == "account":
                return self.account_row(req, device, part, account, container)
            return self.container(req, device, part, account, container)
        return self.account(req, device, part, account)

    # -- objects ---------------------------------------------------------------------------
    def object(self, req: webob.Request, device: Device, part: int, account: str, container: str,
               obj: str) -> webob.Response:
        name_hash = hash_path(account, container, obj, self.node.hash_suffix)
        hash_dir = device.hash_dir("objects", part, name_hash)
        method = req.method
        if method in ("GET", "HEAD"):
            state = ObjectState(hash_dir)
            if not state.exists or state.expired:
                hdrs = {"X-Backend-Timestamp": state.timestamp} if state.timestamp else {}
                if state.exists:  # expired: report the time it died, so older copies lose too
                    hdrs = {"X-Backend-Timestamp": normalize_timestamp(state.meta["delete_at"])}
                raise HTTPError(404, "Not Found", hdrs)
            resp = webob.Response(status=200)
            resp.headers.update(self._object_headers(state).items())
            size = int(state.meta["size"])
            start, end = 0, size
            wanted = req.headers.get("X-Backend-Range")  # "start-end", end exclusive
            if wanted:
                try:
                    start, end = (int(x) for x in wanted.split("-", 1))
                except ValueError:
                    raise HTTPError(400, "Bad X-Backend-Range") from None
                if not 0 <= start <= end <= size:
                    raise HTTPError(416, "Range not satisfiable")
                resp.status = 206
            resp.headers["X-Backend-Object-Size"] = str(size)
            if method == "GET":
                resp.app_iter = state.open_body(self.node.chunk_size, start, end)
            resp.content_length = end - start
            return resp
        ts = _timestamp(req)
        targets = self.node.update_targets(req, "container", account, container) \
            if method in ("PUT", "DELETE") else None
        if method == "PUT":
            return self._put_object(req, device, part, hash_dir, name_hash, account, container, obj, ts, targets)
        state = ObjectState(hash_dir)
        if state.timestamp and state.timestamp >= ts:
            raise HTTPError(409, "A newer version exists", {"X-Backend-Timestamp": state.timestamp})
        if method == "POST":
            if not state.exists or state.expired:
                raise HTTPError(404)
            meta = client.decode_meta(req.headers.get("X-Backend-Metadata"))
            delete_at = req.headers.get("X-Delete-At") or None
            diskfile.write_small(device, hash_dir, ts + ".meta",
                                 {"user": meta, "delete_at": int(delete_at) if delete_at else None})
            diskfile.cleanup(hash_dir)
            if delete_at:
                self._mark_expiring(device, part, name_hash, int(delete_at))
            return webob.Response(status=202)
        if method == "DELETE":
            existed = state.exists and not state.expired
            diskfile.write_small(device, hash_dir, ts + ".ts", {"name": f"/{account}/{container}/{obj}"})
            diskfile.cleanup(hash_dir)
            self.node.container_update(targets, device, "DELETE", account, container, obj, ts)
            return webob.Response(status=204 if existed else 404)
        raise HTTPError(405)

    @staticmethod
    def _object_headers(state: ObjectState) -> dict[str, str]:
        m = state.meta
        hdrs = {"Etag": m["etag"], "Content-Type": m.get("content_type") or "application/octet-stream",
                "X-Timestamp": state.timestamp or "", "X-Backend-Metadata": client.encode_meta(m.get("user", {})),
                "X-Backend-Last-Modified": m.get("meta_timestamp") or state.timestamp or ""}
        if m.get("delete_at") is not None:
            hdrs["X-Delete-At"] = str(m["delete_at"])
        return hdrs

    def _put_object(self, req: webob.Request, device: Device, part: int, hash_dir: str, name_hash: str,
                    account: str, container: str, obj: str, ts: str, targets: Targets | None) -> webob.Response:
        state = ObjectState(hash_dir)
        if state.timestamp and state.timestamp >= ts:
            raise HTTPError(409, "A newer version exists", {"X-Backend-Timestamp": state.timestamp})
        stream = req.environ["wsgi.input"]
        length = req.content_length
        chunked = "chunked" in (req.headers.get("Transfer-Encoding") or "").lower()
        if length is None and not chunked:
            raise HTTPError(411, "Content-Length or chunked transfer encoding required")
        writer = diskfile.DataWriter(device)
        try:
            remaining = length
            while remaining is None or remaining > 0:
                size = self.node.chunk_size if remaining is None else min(self.node.chunk_size, remaining)
                chunk = stream.read(size)
                if not chunk:
                    break
                writer.write(chunk)
                if remaining is not None:
                    remaining -= len(chunk)
            if remaining:
                raise HTTPError(499, "Client disconnected")
            expected = req.headers.get("Etag")
            if expected and expected.strip('"').lower() != writer.etag:
                raise HTTPError(422, "Etag mismatch", {"Etag": writer.etag})
            delete_at = req.headers.get("X-Delete-At") or None
            meta: dict[str, Any] = {"name": f"/{account}/{container}/{obj}", "etag": writer.etag, "size": writer.size,
                    "content_type": req.headers.get("Content-Type") or "application/octet-stream",
                    "user": client.decode_meta(req.headers.get("X-Backend-Metadata")),
                    "delete_at": int(delete_at) if delete_at else None}
            writer.commit(hash_dir, ts, meta)
        except HTTPError:
            writer.abort()
            raise
        except (OSError, ValueError) as err:  # the proxy went away mid-body
            writer.abort()
            raise HTTPError(499, f"Body read failed: {err}") from None
        diskfile.cleanup(hash_dir)
        if delete_at:
            self._mark_expiring(device, part, name_hash, int(delete_at))
        self.node.container_update(targets, device, "PUT", account, container, obj, ts,
                                   size=writer.size, etag=writer.etag, content_type=meta["content_type"])
        return webob.Response(status=201, headers={"Etag": writer.etag, "X-Timestamp": ts})

    @staticmethod
    def _mark_expiring(device: Device, part: int, name_hash: str, delete_at: int) -> None:
        path = os.path.join(device.path, "expiring", f"{delete_at:012d}-{part}-{name_hash}")
        with contextlib.suppress(OSError), open(path, "wb"):
            pass

    # -- containers ------------------------------------------------------------------------
    def _container_broker(self, device: Device, part: int, account: str, container: str) -> ContainerBroker:
        h = hash_path(account, container, None, self.node.hash_suffix)
        return ContainerBroker(os.path.join(device.hash_dir("containers", part, h), h + ".db"))

    def _account_broker(self, device: Device, part: int, account: str) -> AccountBroker:
        h = hash_path(account, None, None, self.node.hash_suffix)
        return AccountBroker(os.path.join(device.hash_dir("accounts", part, h), h + ".db"))

    @staticmethod
    def _meta_updates(req: webob.Request, ts: str) -> dict[str, list[str]]:
        meta = client.decode_meta(req.headers.get("X-Backend-Metadata"))
        return {str(k): [str(v), ts] for k, v in meta.items()}

    def container(self, req: webob.Request, device: Device, part: int, account: str,
                  container: str) -> webob.Response:
        broker = self._container_broker(device, part, account, container)
        method = req.method
        targets = self.node.update_targets(req, "account", account) if method in ("PUT", "DELETE") else None
        if method == "PUT":
            ts = _timestamp(req)
            created = broker.initialize({"account": account, "container": container, "put_timestamp": ts})
            with broker.conn() as c:
                info = broker.get_info(c)
                was_deleted = broker.is_deleted(info)
                if not created:
                    broker.update_timestamps(c, put_timestamp=ts)
                broker.update_metadata(c, self._meta_updates(req, ts))
            self.node.account_update(targets, broker)
            return webob.Response(status=201 if created or was_deleted else 202)
        if not broker.exists:
            raise HTTPError(404)
        head = broker.head()
        if head["deleted"]:
            raise HTTPError(404, "Deleted", {"X-Backend-Timestamp": head["info"]["delete_timestamp"]})
        if method in ("HEAD", "GET"):
            hdrs = {"X-Container-Object-Count": str(head["object_count"]),
                    "X-Container-Bytes-Used": str(head["bytes_used"]),
                    "X-Backend-Metadata": client.encode_meta(head["metadata"]),
                    "X-Backend-Created-At": head["info"].get("created_at", ""),
                    "X-Put-Timestamp": head["info"].get("put_timestamp", "")}
            if method == "HEAD":
                return webob.Response(status=204, headers=hdrs)
            rows = broker.list_objects(**self._listing_args(req))
            return webob.Response(status=200, headers=hdrs, content_type="application/json",
                                  body=json.dumps(rows).encode())
        ts = _timestamp(req)
        if method == "POST":
            with broker.conn() as c:
                broker.update_metadata(c, self._meta_updates(req, ts))
            return webob.Response(status=204)
        if method == "DELETE":
            if head["object_count"] > 0:
                raise HTTPError(409, "Container not empty")
            with broker.conn() as c:
                broker.update_timestamps(c, delete_timestamp=ts)
            self.node.account_update(targets, broker)
            return webob.Response(status=204)
        raise HTTPError(405)

    @staticmethod
    def _listing_args(req: webob.Request) -> dict[str, Any]:
        q = parse_qs(req.environ.get("QUERY_STRING", ""), keep_blank_values=True)

        def one(k: str) -> str:
            return q.get(k, [""])[0]

        try:
            limit = int(one("limit") or 10000)
        except ValueError:
            raise HTTPError(400, "Bad limit") from None
        return {"prefix": one("prefix"), "delimiter": one("delimiter"), "marker": one("marker"),
                "end_marker": one("end_marker"), "limit": limit,
                "reverse": one("reverse").lower() in ("1", "true", "yes", "on")}

    def container_row(self, req: webob.Request, device: Device, part: int, account: str, container: str,
                      obj: str) -> webob.Response:
        broker = self._container_broker(device, part, account, container)
        if not broker.exists:
            raise HTTPError(404)
        ts = _timestamp(req)
        if req.method == "PUT":
            broker.put_object(obj, ts, int(req.headers.get("X-Size", "0")), req.headers.get("X-Content-Type", ""),
                              req.headers.get("X-Etag", ""))
            return webob.Response(status=201)
        if req.method == "DELETE":
            broker.put_object(obj, ts, 0, "", "", deleted=True)
            return webob.Response(status=204)
        raise HTTPError(405)

    # -- accounts --------------------------------------------------------------------------
    def account(self, req: webob.Request, device: Device, part: int, account: str) -> webob.Response:
        broker = self._account_broker(device, part, account)
        if req.method == "POST":
            ts = _timestamp(req)
            broker.initialize({"account": account, "put_timestamp": ts})
            with broker.conn() as c:
                broker.update_metadata(c, self._meta_updates(req, ts))
            return webob.Response(status=204)
        if req.method not in ("HEAD", "GET"):
            raise HTTPError(405)
        if not broker.exists:
            raise HTTPError(404)
        head = broker.head()
        hdrs = {"X-Account-Container-Count": str(head["container_count"]),
                "X-Account-Object-Count": str(head["object_count"]),
                "X-Account-Bytes-Used": str(head["bytes_used"]),
                "X-Backend-Metadata": client.encode_meta(head["metadata"]),
                "X-Backend-Created-At": head["info"].get("created_at", "")}
        if req.method == "HEAD":
            return webob.Response(status=204, headers=hdrs)
        rows = broker.list_containers(**self._listing_args(req))
        return webob.Response(status=200, headers=hdrs, content_type="application/json",
                              body=json.dumps(rows).encode())

    def account_row(self, req: webob.Request, device: Device, part: int, account: str,
                    container: str) -> webob.Response:
        if req.method != "PUT":
            raise HTTPError(405)
        broker = self._account_broker(device, part, account)
        broker.initialize({"account": account, "put_timestamp": _timestamp(req, "X-Put-Timestamp")})
        broker.put_container(container, _timestamp(req, "X-Put-Timestamp"), _timestamp(req, "X-Delete-Timestamp"),
                             int(req.headers.get("X-Object-Count", "0")), int(req.headers.get("X-Bytes-Used", "0")),
                             _timestamp(req, "X-Stats-Timestamp"))
        return webob.Response(status=201)

    # -- replication -----------------------------------------------------------------------
    def repl_objects(self, req: webob.Request, segs: list[str]) -> webob.Response:
        if len(segs) < 2 or not segs[1].isdigit():
            raise HTTPError(400, "Bad replication path")
        device = self.node.device(segs[0])
        part = int(segs[1])
        if len(segs) == 2 and req.method == "GET":
            return _json(diskfile.suffix_hashes(device, part, self.node.reclaim_age))
        if len(segs) < 3 or not SUFFIX.match(segs[2]):
            raise HTTPError(400, "Bad suffix")
        if len(segs) == 3 and req.method == "GET":
            return _json(diskfile.suffix_listing(device, part, segs[2]))
        if len(segs) == 5 and req.method == "PUT":
            name_hash, fname = segs[3], segs[4]
            if not HEX32.match(name_hash) or name_hash[-3:] != segs[2] or not FNAME.match(fname):
                raise HTTPError(400, "Bad file name")
            return self._receive_file(req, device, part, name_hash, fname)
        raise HTTPError(405)

    def _receive_file(self, req: webob.Request, device: Device, part: int, name_hash: str,
                      fname: str) -> webob.Response:
        hash_dir = device.hash_dir("objects", part, name_hash)
        current = diskfile.list_files(hash_dir)
        if fname in current:
            return webob.Response(status=200)
        tmp = device.tmp_path()
        stream = req.environ["wsgi.input"]
        remaining = req.content_length or 0
        try:
            with open(tmp, "wb") as f:
                while remaining > 0:
                    chunk = stream.read(min(self.node.chunk_size, remaining))
                    if not chunk:
                        raise HTTPError(499, "Short body")
                    f.write(chunk)
                    remaining -= len(chunk)
                f.flush()
                os.fsync(f.fileno())
            if fname.endswith(".data"):
                problem = diskfile.verify_data_file(tmp)
                if problem:
                    raise HTTPError(422, f"Refusing a corrupt copy: {problem}")
            os.makedirs(hash_dir, exist_ok=True)
            os.replace(tmp, os.path.join(hash_dir, fname))
            diskfile.fsync_dir(hash_dir)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        diskfile.cleanup(hash_dir)
        if fname.endswith(".data"):
            with contextlib.suppress(OSError, DiskFileError, ValueError):
                state = ObjectState(hash_dir)
                if state.exists and state.meta.get("delete_at"):
                    self._mark_expiring(device, part, name_hash, int(state.meta["delete_at"]))
        return webob.Response(status=201)

    def repl_db(self, req: webob.Request, segs: list[str]) -> webob.Response:
        # /_repl_db/<kind>/<device>/<part>/<hash>
        if len(segs) != 4 or segs[0] not in ("accounts", "containers") or not segs[2].isdigit() \
                or not HEX32.match(segs[3]):
            raise HTTPError(400, "Bad replication path")
        kind, device, part, h = segs[0], self.node.device(segs[1]), int(segs[2]), segs[3]
        cls = AccountBroker if kind == "accounts" else ContainerBroker
        broker = cls(os.path.join(device.hash_dir(kind, part, h), h + ".db"))
        if req.method == "GET":
            remote_id = req.GET.get("remote_id", "")
            if not broker.exists:
                return _json({"exists": False, "point": -1})
            return _json({"exists": True, "point": broker.sync_point(remote_id)})
        if req.method == "POST":
            try:
                data = json.loads(req.body)
                info = data["info"]
            except (ValueError, KeyError, TypeError):
                raise HTTPError(400, "Bad merge body") from None
            base = {k: info[k] for k in ("account", "container") if k in info}
            base["put_timestamp"] = info.get("put_timestamp", diskfile.normalize_timestamp(0))
            base["created_at"] = info.get("created_at", base["put_timestamp"])
            broker.initialize(base)
            broker.merge(data["remote_id"], info, data.get("metadata", {}), data.get("rows", []), data["point"])
            return _json({"ok": True})
        raise HTTPError(405)

    # -- admin -----------------------------------------------------------------------------
    def admin(self, req: webob.Request, segs: list[str]) -> webob.Response:
        if segs == ["health"]:
            return _json({"devices": sorted(self.node.devices), "pid": os.getpid(), "time": time.time()})
        if len(segs) == 1 and req.method == "POST" and segs[0] in self.node.daemons:
            return _json(self.node.run_once(segs[0]))
        raise HTTPError(404)


def _json(data: Any) -> webob.Response:
    return webob.Response(status=200, content_type="application/json", body=json.dumps(data).encode())
