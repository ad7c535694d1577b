"""The all-in-one's libvirt daemons: used when running, started (and stopped) when not.

The start path runs the real daemons only in the end-to-end test (one worker owns libvirtd
there); here the daemon launcher is replaced, and what it is asked to run is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from cumulo_hypervisor_libvirt import daemons

from cumulo.interfaces.hypervisor import HypervisorError


def test_the_test_driver_needs_no_daemon() -> None:
    assert daemons.start_local("test:///default", probe=lambda uri: pytest.fail("probed")) == []


def test_a_running_libvirtd_is_used_and_left_alone() -> None:
    assert daemons.start_local("qemu:///system", probe=lambda uri: None, logd_probe=lambda: True) == []


def test_a_running_libvirtd_whose_virtlogd_died_gets_a_new_one(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _fake_daemons(monkeypatch)
    started = daemons.start_local("qemu:///system", probe=lambda uri: None, logd_probe=lambda: False)
    try:
        assert [s.name for s in started] == ["virtlogd"] and ran == [["/usr/sbin/virtlogd", "-d"]]
    finally:
        for s in started:
            s.stop()


def test_a_stale_virtlogd_socket_file_does_not_count(tmp_path: Any) -> None:
    import socket

    path = str(tmp_path / "virtlogd-sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(1)
        assert daemons.virtlogd_answers(path)
    assert os.path.exists(path) and not daemons.virtlogd_answers(path)  # closed: the file stays, nobody answers
    assert not daemons.virtlogd_answers(str(tmp_path / "absent"))


def test_not_root_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(HypervisorError, match="only root can start libvirtd"):
        daemons.start_local("qemu:///system", probe=lambda uri: "Failed to connect socket")


def _fake_daemons(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    ran: list[list[str]] = []
    sleepers: list[subprocess.Popen[bytes]] = []

    def daemonize(name: str, argv: list[str], timeout: float = 30.0) -> daemons.StartedDaemon:
        ran.append(argv)
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        sleepers.append(proc)
        return daemons.StartedDaemon(name, proc.pid, grace=5)

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(daemons, "_daemonize", daemonize)
    monkeypatch.setattr(daemons, "_binary", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(daemons, "VIRTLOGD_SOCKET", "/nonexistent/virtlogd-sock")  # never the real one
    return ran


def test_starts_virtlogd_then_libvirtd_and_waits_for_the_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _fake_daemons(monkeypatch)
    answers = iter(["refused", "refused", "refused", None])
    started = daemons.start_local("qemu:///system", probe=lambda uri: next(answers), logd_probe=lambda: False)
    try:
        assert [s.name for s in started] == ["virtlogd", "libvirtd"]
        assert ran[0] == ["/usr/sbin/virtlogd", "-d"] and ran[1][-1].endswith("-d")
    finally:
        for s in reversed(started):
            s.stop()
    assert not any(s._alive() for s in started)


def test_a_libvirtd_that_never_answers_is_stopped_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_daemons(monkeypatch)
    seen: list[Any] = []
    real_stop = daemons.StartedDaemon.stop

    def stop(self: daemons.StartedDaemon) -> None:
        seen.append(self.name)
        real_stop(self)

    monkeypatch.setattr(daemons.StartedDaemon, "stop", stop)
    with pytest.raises(HypervisorError, match="does not answer after"):
        daemons.start_local("qemu:///system", wait=0.3, probe=lambda uri: "refused", logd_probe=lambda: False)
    assert seen == ["libvirtd", "virtlogd"]


def test_lxc_runs_libvirtd_without_the_unified_cgroup_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemons.os.path, "ismount", lambda path: path == daemons.CGROUP_UNIFIED)
    monkeypatch.setattr(daemons, "_binary", lambda name: f"/usr/bin/{name}")
    argv = daemons.libvirtd_argv("/usr/sbin/libvirtd", lxc=True)
    assert argv[:4] == ["/usr/bin/unshare", "-m", "--propagation", "slave"]
    assert f"umount {daemons.CGROUP_UNIFIED}" in argv[-1] and argv[-1].endswith("exec /usr/sbin/libvirtd -d")
    assert daemons.libvirtd_argv("/usr/sbin/libvirtd", lxc=False) == ["/usr/sbin/libvirtd", "-d"]


def test_kvm_device_is_given_to_group_kvm(tmp_path: Any) -> None:
    import grp

    try:
        gid = grp.getgrnam("kvm").gr_gid
    except KeyError:
        pytest.skip("no kvm group on this machine")
    if os.geteuid() != 0:
        pytest.skip("only root can chown to group kvm")
    dev = tmp_path / "kvm"
    dev.write_bytes(b"")
    os.chmod(dev, 0o600)
    assert daemons.fix_kvm_permissions(str(dev)) is True
    st = os.stat(dev)
    assert st.st_gid == gid and st.st_mode & 0o777 == 0o660
    assert daemons.fix_kvm_permissions(str(dev)) is False  # already right: nothing to do
    assert daemons.fix_kvm_permissions(str(tmp_path / "absent")) is False


def test_a_running_libvirtd_that_sees_the_unified_cgroup_cannot_run_containers(tmp_path: Any) -> None:
    proc = tmp_path / "proc"
    for pid, comm, mounts in (("10", "bash", f"cgroup2 {daemons.CGROUP_UNIFIED} cgroup2 rw 0 0\n"),
                              ("20", "libvirtd", "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"),
                              ("30", "libvirtd", f"cgroup2 {daemons.CGROUP_UNIFIED} cgroup2 rw 0 0\n")):
        (proc / pid).mkdir(parents=True)
        (proc / pid / "comm").write_text(comm + "\n")
        (proc / pid / "mounts").write_text(mounts)
    (proc / "self").mkdir()
    assert daemons.libvirtd_seeing_unified_cgroup(str(proc)) == 30
    (proc / "30" / "mounts").write_text("tmpfs /sys/fs/cgroup tmpfs rw 0 0\n")
    assert daemons.libvirtd_seeing_unified_cgroup(str(proc)) is None
