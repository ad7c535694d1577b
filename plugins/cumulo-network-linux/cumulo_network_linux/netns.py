"""Network namespaces and links, through pyroute2: the one place the driver touches the kernel's links.

A namespace name of ``None`` (or ``""``) means the namespace this process runs
in. Commands that must run inside a namespace (``nft``, ``dnsmasq``,
``sysctl``) go through ``nsenter --net`` rather than ``ip netns exec``, which
remounts ``/sys`` and hides the cgroup mounts (``/work/shared/HOST-NOTES.md``).
Every function is idempotent: making what exists or removing what does not is
not an error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from pyroute2 import IPRoute, NetNS, netns
from pyroute2.netlink.exceptions import NetlinkError

from cumulo.interfaces.network import NetworkDriverError

NETNS_RUN_DIR = "/var/run/netns"


def _ns(name: str | None) -> str | None:
    return name or None


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_RUN_DIR, name))


def ensure(name: str) -> None:
    """Make namespace ``name`` (with its loopback up) unless it exists."""
    if not exists(name):
        try:
            netns.create(name)
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise NetworkDriverError(f"cannot create network namespace {name}: {err}") from err
    with route(name) as ipr:
        lo = ipr.link_lookup(ifname="lo")
        if lo:
            ipr.link("set", index=lo[0], state="up")


def remove(name: str) -> None:
    """Delete namespace ``name`` (its links go with it); nothing when it does not exist."""
    if exists(name):
        try:
            netns.remove(name)
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise NetworkDriverError(f"cannot remove network namespace {name}: {err}") from err


def names(prefix: str = "") -> list[str]:
    """The named namespaces starting with ``prefix``."""
    try:
        return sorted(n for n in os.listdir(NETNS_RUN_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def route(name: str | None = None) -> Iterator[Any]:
    """A pyroute2 handle (``IPRoute`` or ``NetNS``) on namespace ``name``; None: this process's.

    A missing namespace is not made (pyroute2's default): :func:`ensure` makes namespaces.

    :raises NetworkDriverError: namespace ``name`` does not exist.
    """
    if _ns(name) and not exists(str(name)):
        raise NetworkDriverError(f"network namespace {name} does not exist")
    handle: Any = NetNS(name, flags=0) if _ns(name) else IPRoute()
    try:
        yield handle
    finally:
        handle.close()


def _argv(name: str | None, argv: Sequence[str]) -> list[str]:
    if not _ns(name):
        return list(argv)
    return ["nsenter", f"--net={os.path.join(NETNS_RUN_DIR, str(name))}", "--", *argv]


def run(name: str | None, argv: Sequence[str], input: str | None = None, timeout: float = 30.0,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside namespace ``name`` and return it.

    :raises NetworkDriverError: it exits non-zero (with ``check``; its stderr is in the message).
    """
    try:
        proc = subprocess.run(_argv(name, argv), input=input, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NetworkDriverError(f"{argv[0]} in namespace {name or '(own)'}: {err}") from err
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise NetworkDriverError(f"{' '.join(argv[:3])} in namespace {name or '(own)'} failed "
                                 f"({proc.returncode}): {detail[-2000:]}")
    return proc


def popen(name: str | None, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start ``argv`` inside namespace ``name`` (for a daemon the caller supervises)."""
    return subprocess.Popen(_argv(name, argv), **kwargs)


def nft(name: str | None, script: str, binary: str = "nft") -> None:
    """Apply an nftables script in namespace ``name`` as one transaction (all of it or none).

    :raises NetworkDriverError: nft refused it.
    """
    run(name, [binary, "-f", "-"], input=script)


def sysctl(name: str | None, key: str, value: str | int) -> None:
    """Set ``key`` (``net.ipv4.ip_forward``) in namespace ``name``."""
    path = "/proc/sys/" + key.replace(".", "/")

    def write() -> None:
        with open(path, "w", encoding="ascii") as f:
            f.write(str(value))

    in_namespace(name, write)


def in_namespace(name: str | None, fn: Any) -> Any:
    """Call ``fn()`` in a thread that entered namespace ``name`` and return what it returns.

    Only the calling thread enters a namespace (``setns``), so this process's
    other threads are not affected; a socket made here stays in ``name``.
    """
    if not _ns(name):
        return fn()
    result: dict[str, Any] = {}

    def body() -> None:
        try:
            netns.setns(str(name))
            result["value"] = fn()
        except BaseException as err:  # handed to the caller's thread
            result["error"] = err

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


# -- links ---------------------------------------------------------------------------------------


def link_index(ipr: Any, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def link_names(name: str | None) -> list[str]:
    """The interface names in namespace ``name``."""
    with route(name) as ipr:
        return [link.get("ifname") for link in ipr.get_links()]


def delete_link(name: str | None, ifname: str) -> None:
    """Delete link ``ifname`` in namespace ``name`` (a veth's peer goes with it); nothing when either is gone."""
    if _ns(name) and not exists(str(name)):
        return
    with route(name) as ipr:
        index = link_index(ipr, ifname)
        if index is not None:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", index=index)


def set_addresses(ipr: Any, index: int, addresses: Sequence[tuple[str, int]]) -> None:
    """Make ``addresses`` (address, prefix length) exactly the addresses of link ``index`` (link-local v6 kept)."""
    wanted = {(a, p) for a, p in addresses}
    for addr in ipr.get_addr(index=index):
        have = (addr.get("IFA_ADDRESS"), addr["prefixlen"])
        if have not in wanted and not str(have[0]).startswith("fe80:"):
            with contextlib.suppress(NetlinkError):
                ipr.addr("del", index=index, address=have[0], prefixlen=have[1])
        wanted.discard(have)
    for address, prefixlen in sorted(wanted):
        try:
            ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
        except NetlinkError as err:
            if err.code != errno.EEXIST:
                raise NetworkDriverError(f"cannot add {address}/{prefixlen}: {err}") from err


def plug_veth(bridge_ns: str | None, bridge: str, tap: str, inner_ns: str, inner: str, mac: str,
              addresses: Sequence[tuple[str, int]] = (), mtu: int = 1500) -> None:
    """A veth between bridge ``bridge`` (end ``tap``, in ``bridge_ns``) and namespace ``inner_ns`` (end ``inner``).

    The inner end gets ``mac`` (the port's address) and exactly ``addresses``;
    both ends are up. A veth that exists is kept (its addresses are corrected).

    :raises NetworkDriverError: the bridge does not exist, or a link cannot be made.
    """
    ensure(inner_ns)
    with route(bridge_ns) as outer:
        bridge_index = link_index(outer, bridge)
        if bridge_index is None:
            raise NetworkDriverError(f"bridge {bridge} does not exist in namespace {bridge_ns or '(own)'}")
        with route(inner_ns) as ipr:
            present = link_index(ipr, inner) is not None and link_index(outer, tap) is not None
        if not present:
            for stale in (tap,):
                idx = link_index(outer, stale)
                if idx is not None:
                    outer.link("del", index=idx)
            try:
                outer.link("add", ifname=tap, kind="veth", mtu=mtu,
                           peer={"ifname": inner, "net_ns_fd": inner_ns, "address": mac, "mtu": mtu})
            except NetlinkError as err:
                raise NetworkDriverError(f"cannot make veth {tap}/{inner}: {err}") from err
        tap_index = link_index(outer, tap)
        outer.link("set", index=tap_index, master=bridge_index, state="up")
    with route(inner_ns) as ipr:
        index = link_index(ipr, inner)
        if index is None:
            raise NetworkDriverError(f"veth end {inner} did not appear in namespace {inner_ns}")
        ipr.link("set", index=index, address=mac, state="up")
        set_addresses(ipr, index, addresses)
