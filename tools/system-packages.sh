#!/usr/bin/env bash
# The operating-system packages the real drivers need (QEMU, libvirt, and the Linux network data
# plane's nft, dnsmasq and busybox), installed with apt when this runs as root on Debian and they are missing. Elsewhere it
# says what to install and leaves the machine alone: the drivers' tests then skip (or fail under CI).
# Used by ./dev before the Python packages (libvirt-python builds against libvirt-dev).
set -euo pipefail
PACKAGES=(
    qemu-system-x86 qemu-utils                              # guests under TCG or KVM, qemu-img
    libvirt-daemon-system libvirt-daemon-system-sysv        # libvirtd, virtlogd; -sysv: apt pulls no systemd
    libvirt-daemon-driver-qemu libvirt-daemon-driver-lxc
    libvirt-dev pkg-config gcc python3-dev                  # to build libvirt-python
    nftables dnsmasq-base                                   # linuxbridge: NAT, security groups, DHCP
    busybox curl                                            # its test hosts: udhcpc, nc, ping; metadata
    novnc                                                   # the noVNC pages the console proxy serves
    lvm2 thin-provisioning-tools                            # the lvm volume driver's thin pools
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "Not installed (needed by the libvirt and linuxbridge drivers): ${missing[*]}; install them with apt-get as root." >&2
    exit 0
fi
echo "Installing system packages: ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/cumulo-apt.log 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/cumulo-apt.log 2>&1 \
        || { echo "apt-get failed; see /tmp/cumulo-apt.log" >&2; exit 1; }
fi
# No udev here: /dev/kvm stays root-only and libvirt would re-probe QEMU on every define (~60 s).
if [ -e /dev/kvm ] && getent group kvm >/dev/null; then chgrp kvm /dev/kvm && chmod 0660 /dev/kvm || true; fi
