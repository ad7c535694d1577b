"""The all-in-one's libvirt daemons: the system's libvirtd when one answers, else virtlogd and libvirtd started here.

These machines have no systemd: nothing starts libvirtd for us. :func:`start_local` (the driver's
``start_local`` hook, run before any compute host is built) connects to the driver's URI; when that
fails and this process is root, it starts ``virtlogd -d`` (the console logs go through it) and
``libvirtd -d``, waits until the URI answers, and returns what stops them again. virtlogd is
checked by connecting to its socket, not by the socket file: a virtlogd that died leaves the file
behind, and libvirtd then fails every domain start with "Connection refused". A running libvirtd
whose virtlogd is gone gets a new virtlogd (libvirtd connects to it per domain start). LXC needs libvirtd
in a mount namespace without the cgroup v1 ``unified`` mount (``/work/shared/HOST-NOTES.md``).
A daemon that was already running is left alone, before and after.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable

from cumulo.interfaces.hypervisor import HypervisorError

LOG = logging.getLogger(__name__)

#: Where ``virtlogd -d`` and ``libvirtd -d`` run as root put their pid files.
PIDFILES = {"virtlogd": "/run/virtlogd.pid", "libvirtd": "/run/libvirtd.pid"}
VIRTLOGD_SOCKET = "/run/libvirt/virtlogd-sock"
CGROUP_UNIFIED = "/sys/fs/cgroup/unified"


def _default_probe(uri: str) -> str | None:
    """None when ``uri`` answers, else libvirt's reason."""
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # the reason is returned, not printed
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as err:
        return str(err)
    conn.close()
    return None


def virtlogd_answers(path: str = VIRTLOGD_SOCKET) -> bool:
    """Whether a virtlogd accepts connections on ``path`` (a stale socket file does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def _start_virtlogd() -> StartedDaemon:
    try:  # virtlogd refuses to start over a socket file left by one that died
        os.unlink(VIRTLOGD_SOCKET)
    except FileNotFoundError:
        pass
    return _daemonize("virtlogd", [_binary("virtlogd"), "-d"])


class StartedDaemon:
    """A daemon this process started; :meth:`stop` ends it (SIGTERM, then SIGKILL after ``grace`` seconds)."""

    def __init__(self, name: str, pid: int, grace: float = 10.0) -> None:
        self.name, self.pid, self.grace = name, pid, grace

    def __repr__(self) -> str:
        return f"<{self.name} pid {self.pid}>"

    def _alive(self) -> bool:
        try:  # reap it if it is our child (a daemon that did not fork away)
            if os.waitpid(self.pid, os.WNOHANG)[0]:
                return False
        except ChildProcessError:
            pass
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self) -> None:
        if not self._alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while self._alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._alive():
            LOG.warning("%s did not stop in %.0f s; killing it", self, self.grace)
            os.kill(self.pid, signal.SIGKILL)


def _read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _which(name: str) -> str | None:
    """``name`` on PATH, or in the sbin directories a non-login root shell may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _binary(name: str) -> str:
    found = _which(name)
    if not found:
        raise HypervisorError(f"{name} is not installed (apt-get install libvirt-daemon-system "
                              "libvirt-daemon-system-sysv); tools/system-packages.sh installs it")
    return found


def _daemonize(name: str, argv: list[str], timeout: float = 30.0) -> StartedDaemon:
    """Run a ``-d`` daemon and return it once its pid file names a live process."""
    stale = _read_pid(PIDFILES[name])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise HypervisorError(f"{name} failed to start ({result.returncode}): "
                              f"{(result.stderr or result.stdout).strip().splitlines()[-1:] or ['no output']}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _read_pid(PIDFILES[name])
        if pid and pid != stale:
            daemon = StartedDaemon(name, pid)
            if daemon._alive():
                return daemon
        time.sleep(0.05)
    raise HypervisorError(f"{name} started but wrote no pid to {PIDFILES[name]} within {timeout:.0f} s")


def can_start() -> bool:
    """Whether :func:`start_local` could start libvirtd here (root, and the daemons installed)."""
    return os.geteuid() == 0 and all(_which(n) for n in ("libvirtd", "virtlogd"))


def libvirtd_seeing_unified_cgroup(proc: str = "/proc") -> int | None:
    """The pid of a running libvirtd whose mount namespace has :data:`CGROUP_UNIFIED` mounted, if any."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(proc):
            if not entry.name.isdigit():
                continue
            try:
                with open(os.path.join(entry.path, "comm"), encoding="utf-8") as f:
                    if f.read().strip() != "libvirtd":
                        continue
                with open(os.path.join(entry.path, "mounts"), encoding="utf-8") as f:
                    if any(line.split()[1:2] == [CGROUP_UNIFIED] for line in f):
                        return int(entry.name)
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return None


def libvirtd_argv(libvirtd: str, lxc: bool) -> list[str]:
    """How libvirtd is started: in its own mount namespace without the ``unified`` cgroup mount for LXC."""
    if lxc and os.path.ismount(CGROUP_UNIFIED):
        script = f"umount {CGROUP_UNIFIED} 2>/dev/null; exec {libvirtd} -d"
        return [_binary("unshare"), "-m", "--propagation", "slave", "sh", "-c", script]
    return [libvirtd, "-d"]


def fix_kvm_permissions(dev_kvm: str = "/dev/kvm") -> bool:
    """Give /dev/kvm to group kvm (0660) when it is root-only, as udev would; True when changed.

    Without udev the device stays 0600 and libvirt then re-probes QEMU's capabilities on every
    domain definition (about 60 s each); this matters even under TCG.
    """
    import grp
    import stat

    try:
        st = os.stat(dev_kvm)
        gid = grp.getgrnam("kvm").gr_gid
    except (OSError, KeyError):
        return False
    if st.st_gid == gid and stat.S_IMODE(st.st_mode) & 0o060 == 0o060:
        return False
    try:
        os.chown(dev_kvm, -1, gid)
        os.chmod(dev_kvm, 0o660)
    except OSError as err:
        LOG.warning("libvirt: %s is root-only and cannot be given to group kvm (%s): every domain "
                    "definition will wait for a QEMU capability probe", dev_kvm, err)
        return False
    LOG.info("libvirt: %s given to group kvm (0660), as udev would", dev_kvm)
    return True


def start_local(uri: str, lxc: bool = False, wait: float = 60.0,
                probe: Callable[[str], str | None] = _default_probe,
                logd_probe: Callable[[], bool] = virtlogd_answers) -> list[StartedDaemon]:
    """Make ``uri`` answer: start virtlogd when it does not answer, and libvirtd when the URI does not (root only).

    Returns the daemons started here, in start order (stop them in reverse).

    :raises HypervisorError: the URI does not answer and libvirtd cannot be started, or it does not
        answer within ``wait`` seconds of starting.
    """
    if uri.startswith("test://"):
        return []
    if os.geteuid() == 0:
        fix_kvm_permissions()
    why = probe(uri)
    root = os.geteuid() == 0
    if why is None:
        LOG.info("libvirt: using the running libvirtd at %s", uri)
        if lxc and (pid := libvirtd_seeing_unified_cgroup()) is not None:
            raise HypervisorError(
                f"the running libvirtd (pid {pid}) sees the {CGROUP_UNIFIED} cgroup mount, where libvirt's "
                "LXC containers fail to start ('Unable to create directory'); stop it, and cumulo starts one "
                "in a mount namespace without that mount")
        if logd_probe():
            return []
        if not root:
            LOG.warning("libvirt: virtlogd does not answer on %s and only root can start it: guests "
                        "will not start unless qemu.conf sets stdio_handler = \"file\"", VIRTLOGD_SOCKET)
            return []
        started = [_start_virtlogd()]
        LOG.info("libvirt: virtlogd was not answering; started %r", started[0])
        return started
    if not root:
        raise HypervisorError(f"libvirt at {uri} does not answer ({why}) and only root can start libvirtd here")
    started = []
    try:
        if not logd_probe():
            started.append(_start_virtlogd())
        started.append(_daemonize("libvirtd", libvirtd_argv(_binary("libvirtd"), lxc)))
        deadline = time.monotonic() + wait
        while (why := probe(uri)) is not None:
            if time.monotonic() > deadline:
                raise HypervisorError(f"libvirtd started but {uri} does not answer after {wait:.0f} s: {why}")
            time.sleep(0.2)
    except BaseException:
        for daemon in reversed(started):
            daemon.stop()
        raise
    LOG.info("libvirt: started %s for %s", ", ".join(map(repr, started)), uri)
    return started
