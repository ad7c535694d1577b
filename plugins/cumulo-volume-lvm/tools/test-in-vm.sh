#!/usr/bin/env bash
# Run the lvm driver's tests in a QEMU guest whose kernel has device-mapper, for hosts whose kernel
# has none (the tests' thin pool then skips). The guest is Debian's 6.1 kernel (apt-get download, no
# install) booted under TCG with a busybox initramfs that loads virtio/9p/loop/dm-thin-pool/dm-snapshot and
# mounts this host's / read-only over 9p, then runs pytest in a chroot of it with tmpfs on /tmp and
# /run. Prints the guest's console; exits with pytest's status.
#
#   plugins/cumulo-volume-lvm/tools/test-in-vm.sh [pytest args...]    (run from the repository root, as root)
#
# Needs qemu-system-x86 and apt-get. KVM is not used (see HOST-NOTES: PVM-backed /dev/kvm hangs
# Debian kernels). Under TCG on a busy 2-core host the suite takes 15-25 minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
WORK="${LVM_VM_DIR:-/tmp/cumulo-lvm-vm}"
KERNEL_PKG="${LVM_VM_KERNEL:-$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -1 | cut -d' ' -f1)}"
mkdir -p "$WORK"
cd "$WORK"
if [ ! -e vmlinux ] || [ ! -e bb/bin/busybox ]; then
    rm -rf k bb ./*.deb
    apt-get download -q "$KERNEL_PKG" busybox-static >/dev/null 2>&1
    mkdir -p k bb
    dpkg -x linux-image-*.deb k
    dpkg -x busybox-static_*.deb bb
    # uncompressed vmlinux: QEMU boots it through the PVH entry, much faster than a bzImage under TCG
    python3 -c "
import lzma, sys
d = open(sys.argv[1], 'rb').read()
open('vmlinux', 'wb').write(lzma.LZMADecompressor().decompress(d[d.find(b'\xfd7zXZ\x00'):]))" k/boot/vmlinuz-*
fi
KV="$(ls k/lib/modules)"
M="k/lib/modules/$KV"
rm -rf initrd && mkdir -p initrd/bin "initrd/lib/modules/$KV" initrd/newroot initrd/proc initrd/sys initrd/dev
cp bb/bin/busybox initrd/bin/
for a in sh mount mkdir modprobe chroot poweroff cat grep; do ln -sf busybox "initrd/bin/$a"; done
for p in kernel/drivers/md kernel/fs/9p kernel/net/9p kernel/fs/netfs kernel/fs/fscache kernel/drivers/virtio \
         kernel/drivers/block/loop.ko kernel/lib/libcrc32c.ko kernel/crypto/crc32c_generic.ko; do
    mkdir -p "initrd/lib/modules/$KV/$(dirname "$p")"
    cp -r "$M/$p" "initrd/lib/modules/$KV/$(dirname "$p")/"
done
cp "$M"/modules.builtin* "$M/modules.order" "initrd/lib/modules/$KV/"
bb/bin/busybox depmod -b initrd "$KV"   # the .deb ships no modules.dep
cat > initrd/init <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_pci 9pnet_virtio 9p loop crc32c_generic libcrc32c dm-mod dm-thin-pool dm-snapshot; do
    modprobe $m || echo "modprobe $m failed"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /newroot || { echo "LVMVM: done rc=99"; poweroff -f; }
mount -t devtmpfs dev /newroot/dev; mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys
mount -t tmpfs tmp /newroot/tmp; mount -t tmpfs run /newroot/run
cat /run.sh > /newroot/tmp/run.sh
chroot /newroot /bin/sh /tmp/run.sh
echo "LVMVM: done rc=$?"
poweroff -f
EOF
# the host's / is read-only in the guest: LVM's archive and locks go to tmpfs (LVM_SYSTEM_DIR, /run)
{
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp PYTHONDONTWRITEBYTECODE=1"
    echo "mkdir -p /tmp/lvmsys /run/lock/lvm && cp /etc/lvm/lvm.conf /tmp/lvmsys/ && export LVM_SYSTEM_DIR=/tmp/lvmsys"
    echo "cd '$ROOT' || exit 98"
    printf '.venv/bin/python -m pytest -p no:xdist -q --basetemp=/tmp/pt plugins/cumulo-volume-lvm/tests'
    printf ' %q' "$@"
    echo ' 2>&1'
} > initrd/run.sh
chmod +x initrd/init
(cd initrd && find . | ../bb/bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz)
qemu-system-x86_64 -machine q35 -accel tcg -cpu max -m 3072 -smp 2 -nographic -no-reboot \
    -kernel vmlinux -initrd initrd.gz -append "console=ttyS0 panic=-1 loglevel=3" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
    | tee console.log
rc="$(sed -n 's/.*LVMVM: done rc=\([0-9]*\).*/\1/p' console.log | tail -1)"
exit "${rc:-97}"
