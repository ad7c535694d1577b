"""The newc writer: headers, padding, the trailer, device nodes and trees, read back by a reference parser."""

from __future__ import annotations

import gzip
import io
import os
import stat

import pytest
from cumulo_guest_tiny import cpio


def parse(data: bytes) -> list[tuple[str, dict[str, int], bytes]]:
    """A minimal newc reader, written from the kernel's documentation (buffer-format.rst)."""
    out, i = [], 0
    names = ("ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor",
             "rdevmajor", "rdevminor", "namesize", "check")
    while True:
        assert data[i:i + 6] == b"070701", f"bad magic at {i}"
        fields = {n: int(data[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k, n in enumerate(names)}
        start = i + 110
        name = data[start:start + fields["namesize"]]
        assert name.endswith(b"\0")
        i = start + fields["namesize"]
        i += -i % 4
        body = data[i:i + fields["filesize"]]
        i += fields["filesize"]
        i += -i % 4
        if name[:-1] == b"TRAILER!!!":
            assert i == len(data)
            return out
        out.append((name[:-1].decode(), fields, body))


def test_entries_round_trip_with_alignment() -> None:
    buf = io.BytesIO()
    cpio.write(buf, [cpio.directory("etc"), cpio.file("etc/a", b"hello", 0o600), cpio.file("etc/bb", b"x" * 7),
                     cpio.symlink("init", "sbin/init"), cpio.char_device("dev/console", 5, 1)])
    data = buf.getvalue()
    assert len(data) % 4 == 0
    got = parse(data)
    assert [n for n, _, _ in got] == ["etc", "etc/a", "etc/bb", "init", "dev/console"]
    by_name = {n: (f, b) for n, f, b in got}
    assert stat.S_ISDIR(by_name["etc"][0]["mode"]) and by_name["etc"][0]["nlink"] == 2
    assert by_name["etc/a"][1] == b"hello" and stat.S_IMODE(by_name["etc/a"][0]["mode"]) == 0o600
    assert by_name["etc/bb"][1] == b"x" * 7
    assert stat.S_ISLNK(by_name["init"][0]["mode"]) and by_name["init"][1] == b"sbin/init"
    console = by_name["dev/console"][0]
    assert stat.S_ISCHR(console["mode"]) and (console["rdevmajor"], console["rdevminor"]) == (5, 1)
    assert len({f["ino"] for f, _ in by_name.values()}) == 5  # distinct inodes: no accidental hard links


def test_absolute_names_are_refused() -> None:
    with pytest.raises(ValueError, match="relative"):
        cpio.write(io.BytesIO(), [cpio.file("/etc/passwd", b"")])


def test_tree_entries_and_gzip_are_reproducible(tmp_path: os.PathLike[str]) -> None:
    root = os.path.join(tmp_path, "root")
    os.makedirs(os.path.join(root, "bin"))
    with open(os.path.join(root, "bin", "busybox"), "wb") as f:
        f.write(b"\x7fELF")
    os.chmod(os.path.join(root, "bin", "busybox"), 0o755)
    os.symlink("busybox", os.path.join(root, "bin", "sh"))
    os.symlink("bin", os.path.join(root, "sbin"))  # a symlink to a directory is a link, not a walk
    entries = list(cpio.tree_entries(root, mtime=1234))
    # A directory's files (and links) come before its subdirectories; every parent precedes its children.
    assert [e.name for e in entries] == ["sbin", "bin", "bin/busybox", "bin/sh"]
    assert all(e.mtime == 1234 and e.uid == 0 for e in entries)
    first, second = os.path.join(tmp_path, "a.gz"), os.path.join(tmp_path, "b.gz")
    cpio.write_gzip(first, entries)
    cpio.write_gzip(second, cpio.tree_entries(root, mtime=1234))
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    with gzip.open(first) as g:
        assert [n for n, _, _ in parse(g.read())] == ["sbin", "bin", "bin/busybox", "bin/sh"]
