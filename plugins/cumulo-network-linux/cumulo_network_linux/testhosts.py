"""Test hosts: network namespaces that stand in for instances, for tests and demos.

A :class:`TestHost` is a namespace whose ``eth0`` is a veth plugged into the
bridge of a port's network under the port's own tap name and with its MAC
address, exactly where a hypervisor would plug the instance's tap. So the data
plane (DHCP, routing, NAT, security groups, metadata) is exercised with real
packets and no hypervisor; the commands run in it (``ping``, ``nc``, ``curl``)
are the instance's. It is not for production use: nothing supervises it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile

from cumulo.interfaces.network import NetworkDriverError
from cumulo.interfaces.network.records import Port
from cumulo_network_linux import names, netns

#: What udhcpc runs on each DHCP event ($1: deconfig, bound, renew...; the lease in the environment).
#: Option 121 (``staticroutes``: "dest/len gateway" pairs, gateway 0.0.0.0 for on-link) replaces the
#: router option when present (RFC 3442), so its default route comes from the list itself.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip -4 route flush dev "$interface" proto static
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = 0.0.0.0 ]; then
                ip route replace "$1" dev "$interface" proto static
            else
                ip route replace "$1" via "$2" dev "$interface" proto static
            fi
            shift 2
        done
    elif [ -n "$router" ]; then
        set -- $router
        ip route replace default via "$1" dev "$interface" proto static
    fi
    echo "$ip" > "$LEASE_FILE"
    ;;
esac
exit 0
"""

INTERFACE = "eth0"


class TestHost:
    """A namespace "instance" on a port: ``eth0`` carries the port's MAC on its network's bridge."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, namespace: str, port: Port, host_ns: str | None, workdir: str) -> None:
        self.namespace = namespace
        self.port = port
        self.host_ns = host_ns or None
        self._workdir = workdir

    @classmethod
    def create(cls, namespace: str, port: Port, host_ns: str | None) -> TestHost:
        """Make namespace ``namespace`` with ``eth0`` (``port``'s MAC) plugged into ``names.bridge(port.network_id)``.

        :raises NetworkDriverError: the bridge does not exist or a link cannot be made.
        """
        workdir = tempfile.mkdtemp(prefix=f"testhost-{namespace}-")  # 0700: the DHCP script is ours only
        host = cls(namespace, port, host_ns, workdir)
        bridge = names.bridge(port.network_id)
        try:
            with netns.route(host.host_ns) as ipr:  # the bridge's MTU, as a hypervisor gives its taps
                index = netns.link_index(ipr, bridge)
                mtu = int(ipr.get_links(index)[0].get("mtu")) if index is not None else 1500
            netns.plug_veth(host.host_ns, bridge, names.tap(port.id), namespace, INTERFACE, port.mac_address, mtu=mtu)
        except BaseException:
            host.delete()
            raise
        return host

    def dhcp(self, timeout: float = 15.0) -> str:
        """Configure ``eth0`` by DHCP (busybox udhcpc: address, router, option 121 routes, MTU); return the address.

        :raises NetworkDriverError: no lease within ``timeout`` seconds.
        """
        script = os.path.join(self._workdir, "udhcpc.script")
        lease = os.path.join(self._workdir, "lease")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lease)
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(UDHCPC_SCRIPT)
        tries = max(1, int(timeout))
        argv = ["env", f"LEASE_FILE={lease}", "busybox", "udhcpc", "-f", "-q", "-n", "-i", INTERFACE,
                "-s", script, "-t", str(tries), "-T", "1", "-O", "mtu", "-O", "staticroutes"]
        proc = self.run(*argv, timeout=timeout + 5, check=False)
        try:
            with open(lease, encoding="ascii") as f:
                address = f.read().strip()
        except FileNotFoundError:
            address = ""
        if proc.returncode != 0 or not address:
            raise NetworkDriverError(f"test host {self.namespace}: no DHCP lease in {timeout:g} s "
                                     f"(udhcpc exited {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}")
        return address

    def run(self, *argv: str, timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the test host and return it (output captured as text).

        :raises NetworkDriverError: it exits non-zero (with ``check``) or outlives ``timeout``.
        """
        return netns.run(self.namespace, argv, timeout=timeout, check=check)

    def delete(self) -> None:
        """Remove the namespace (its veth, and so the tap on the bridge, goes with it) and the private files."""
        netns.remove(self.namespace)
        if self.host_ns is None or netns.exists(self.host_ns):  # a handle on a missing namespace would make it
            netns.delete_link(self.host_ns, names.tap(self.port.id))
        shutil.rmtree(self._workdir, ignore_errors=True)
