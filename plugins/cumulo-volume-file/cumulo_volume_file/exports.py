"""Which hosts a volume is exported to, and its NBD export (a ``qemu-storage-daemon`` with TLS-PSK).

State lives in ``<volumes_path>/exports/<volume_id>.json`` (0600: it holds the
key), so an export survives a restart of the volume service: the daemon runs
in its own session, and ``initialize_connection`` finds it again by pid (or
restarts it on the same port with the same key).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time

from cumulo.interfaces.volume import PROTOCOL_NBD, TlsPsk, VolumeDriverError

_START_ATTEMPTS = 5


@dataclasses.dataclass
class ExportState:
    """A volume's connections (host -> protocol) and, while any host uses NBD, its daemon."""

    volume_id: str
    connections: dict[str, str] = dataclasses.field(default_factory=dict)
    pid: int | None = None
    port: int | None = None
    identity: str | None = None
    key_hex: str | None = None

    @property
    def psk(self) -> TlsPsk | None:
        if self.identity and self.key_hex:
            return TlsPsk(identity=self.identity, key_hex=self.key_hex)
        return None

    def nbd_hosts(self) -> list[str]:
        return [h for h, protocol in self.connections.items() if protocol == PROTOCOL_NBD]


def _qemu_escape(value: str) -> str:
    # qemu's option parser splits on ","; a literal comma is written twice
    return value.replace(",", ",,")


class Exports:
    """Export state and NBD daemons of the volumes in one directory."""

    def __init__(self, directory: str, daemon: str, listen_host: str) -> None:
        self.directory = directory
        self.daemon = daemon
        self.listen_host = listen_host

    def _path(self, volume_id: str, suffix: str) -> str:
        return os.path.join(self.directory, volume_id + suffix)

    def load(self, volume_id: str) -> ExportState:
        try:
            with open(self._path(volume_id, ".json"), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return ExportState(volume_id)
        return ExportState(volume_id=volume_id, connections=dict(data.get("connections", {})),
                           pid=data.get("pid"), port=data.get("port"), identity=data.get("identity"),
                           key_hex=data.get("key_hex"))

    def save(self, state: ExportState) -> None:
        """Write ``state`` (0600, atomically), or remove it once no host is connected."""
        path = self._path(state.volume_id, ".json")
        if not state.connections and not self.running(state):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dataclasses.asdict(state), f)
        os.replace(tmp, path)

    def exported(self, volume_id: str) -> list[str]:
        """The hosts ``volume_id`` is exported to."""
        return sorted(self.load(volume_id).connections)

    def running(self, state: ExportState) -> bool:
        """Whether ``state.pid`` is still this volume's daemon (not a reused pid, not a zombie)."""
        if not state.pid:
            return False
        try:
            with open(f"/proc/{state.pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            return False
        return bool(argv and argv[0]) and os.path.basename(argv[0]) == os.path.basename(self.daemon).encode() \
            and any(state.volume_id.encode() in arg for arg in argv)

    def start(self, state: ExportState, image_path: str) -> None:
        """Serve ``image_path`` (qcow2, with its backing chain) as NBD export ``state.volume_id``, TLS-PSK only.

        Keeps the recorded port and key when there are (a restarted export the
        hosts already know); otherwise picks a free port and a new key.

        :raises VolumeDriverError: the daemon did not start.
        """
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        if not state.key_hex or not state.identity:
            state.identity = f"cumulo-{state.volume_id}"
            state.key_hex = secrets.token_hex(32)
        psk_dir = self._path(state.volume_id, ".psk")
        os.makedirs(psk_dir, mode=0o700, exist_ok=True)
        keys = os.path.join(psk_dir, "keys.psk")
        fd = os.open(keys, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{state.identity}:{state.key_hex}\n")
        pidfile = self._path(state.volume_id, ".pid")
        error = ""
        for attempt in range(_START_ATTEMPTS):
            port = state.port if (state.port and attempt == 0) else _free_port(self.listen_host)
            argv = [
                self.daemon, "--daemonize", "--pidfile", pidfile,
                "--object", f"tls-creds-psk,id=tls0,endpoint=server,dir={_qemu_escape(psk_dir)}",
                "--blockdev", f"driver=file,filename={_qemu_escape(image_path)},node-name=file0",
                "--blockdev", "driver=qcow2,file=file0,node-name=vol0",
                "--nbd-server", f"addr.type=inet,addr.host={self.listen_host},addr.port={port},tls-creds=tls0",
                "--export", f"type=nbd,id=export0,node-name=vol0,name={state.volume_id},writable=on",
            ]
            try:
                # --daemonize: it returns once the export listens (or has failed)
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                                      start_new_session=True)
            except (OSError, subprocess.TimeoutExpired) as err:
                raise VolumeDriverError(f"cannot start {self.daemon}: {err}") from err
            if proc.returncode == 0:
                with open(pidfile, encoding="ascii") as f:
                    state.pid, state.port = int(f.read().strip()), port
                return
            error = (proc.stderr or proc.stdout).strip().replace("\n", "; ")
            if "in use" not in error:
                break
        raise VolumeDriverError(f"the NBD export of volume {state.volume_id} did not start: {error}")

    def stop(self, state: ExportState) -> None:
        """Stop the volume's daemon (if it runs), wait until it has closed its port, and forget port and key."""
        pid = state.pid
        if pid and self.running(state):
            # Not running() from here on: an exiting process loses its cmdline before it closes its
            # sockets; only its end (gone, or a zombie) says the port is closed.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                while _alive(pid) and time.monotonic() < deadline + 5:
                    time.sleep(0.02)
        state.pid = state.port = state.identity = state.key_hex = None
        shutil.rmtree(self._path(state.volume_id, ".psk"), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(state.volume_id, ".pid"))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has closed its files)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
