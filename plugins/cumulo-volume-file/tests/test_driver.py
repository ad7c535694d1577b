"""The file driver against the volume conformance suite, and its qcow2 chains checked with the real qemu tools."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import subprocess
import threading
import time
import uuid

import pytest
from cumulo_volume_file.driver import FileDriver
from cumulo_volume_file.exports import _alive

from cumulo import registry
from cumulo.interfaces import volume as iface
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.image import make_conf
from cumulo.testing.conformance.volume import MIB, VolumeDriverConformance, chunks_of, new_snapshot, new_volume
from cumulo.testing.fixtures import wait_for


class TestFileDriverConformance(VolumeDriverConformance):
    plugin_name = "file"

    @pytest.fixture
    def driver(self, file_driver):
        return file_driver


# -- the real tools -----------------------------------------------------------------------------------


def qemu_io(path: str, command: str, fmt: str = "qcow2", read_only: bool = False) -> None:
    """Run one qemu-io command on a file; fail the test with its output when it fails (a pattern mismatch too)."""
    argv = ["qemu-io", "-f", fmt, *(["-r"] if read_only else []), "-c", command, path]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "Pattern verification failed" not in proc.stdout, proc.stdout + proc.stderr


def raw_digest(path: str, tmp_path) -> str:
    """sha256 of ``qemu-img convert -O raw`` of a file (its guest-visible data, whatever its chain)."""
    out = tmp_path / f"raw-{uuid.uuid4().hex}"
    subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", path, str(out)], check=True,
                   timeout=120)
    h = hashlib.sha256()
    with open(out, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    out.unlink()
    return h.hexdigest()


def info(path: str) -> dict:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", path], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return json.loads(out)


def active(driver: FileDriver, volume: iface.Volume) -> str:
    return os.path.join(driver.path, f"volume-{volume.id}.qcow2")


def snap_file(driver: FileDriver, volume: iface.Volume, snapshot: iface.Snapshot) -> str:
    return os.path.join(driver.path, f"volume-{volume.id}.snap-{snapshot.id}.qcow2")


def qcow2_files(driver: FileDriver) -> list[str]:
    return sorted(n for n in os.listdir(driver.path) if n.endswith(".qcow2"))


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- files, modes, chains ----------------------------------------------------------------------------


def test_loaded_by_entry_point_with_default_path(tmp_path, qemu_tools):
    conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)}})
    driver = registry.load_plugin("volume", "file", PluginContext(conf, host="h1"))
    assert isinstance(driver, FileDriver)
    assert driver.path == str(tmp_path / "volumes")
    assert mode(driver.path) == 0o700
    assert {"extend", "snapshot", "clone", "image"} <= driver.capabilities


def test_validate_config_names_missing_tools(tmp_path):
    conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)},
                      "volume_file": {"qemu_img": "no-such-qemu-img-h5"}}, plugins=(FileDriver,))
    problems = FileDriver.validate_config(conf)
    assert any("qemu_img = no-such-qemu-img-h5 is not installed" in p for p in problems)


def test_snapshot_clone_and_writes_with_qemu_io(file_driver, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    path = active(d, vol)
    assert mode(path) == 0o600
    assert info(path)["virtual-size"] == iface.GIB
    qemu_io(path, "write -P 0xab 0 1M")

    snap = new_snapshot(vol)
    d.create_snapshot(snap, vol)
    sfile = snap_file(d, vol, snap)
    assert mode(sfile) == 0o400  # immutable
    chain = info(path)
    assert chain["backing-filename"] == os.path.basename(sfile) and chain["backing-filename-format"] == "qcow2"
    frozen = raw_digest(sfile, tmp_path)

    qemu_io(path, "write -P 0xcd 0 512k")
    child = new_volume(size_gib=2)
    d.create_volume_from_snapshot(child, snap)
    cpath = active(d, child)
    assert info(cpath)["backing-filename"] == os.path.basename(sfile)  # copy-on-write, not a copy
    assert info(cpath)["virtual-size"] == 2 * iface.GIB
    qemu_io(cpath, "read -P 0xab 0 1M")
    qemu_io(cpath, "write -P 0xef 1M 1M")
    qemu_io(cpath, "read -P 0 1G 1M")  # beyond the snapshot's size: zeros

    qemu_io(path, "read -P 0xcd 0 512k")
    qemu_io(path, "read -P 0xab 512k 512k")
    qemu_io(path, "read -P 0 1M 1M")  # the child's write stayed in the child
    qemu_io(sfile, "read -P 0xab 0 1M", read_only=True)
    assert raw_digest(sfile, tmp_path) == frozen

    with pytest.raises(iface.VolumeBusy, match="volumes made from it"):
        d.delete_snapshot(snap)
    with pytest.raises(iface.VolumeBusy, match="has snapshots"):
        d.delete_volume(vol)
    assert os.path.exists(sfile)

    before = raw_digest(path, tmp_path)
    d.delete_volume(child)
    d.delete_snapshot(snap)  # only the volume's own chain used it: rebased away
    assert not os.path.exists(sfile)
    assert "backing-filename" not in info(path)
    assert raw_digest(path, tmp_path) == before
    d.delete_volume(vol)
    assert qcow2_files(d) == []


def test_deleting_a_middle_snapshot_keeps_every_layer(file_driver, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    path = active(d, vol)
    s1, s2 = new_snapshot(vol), new_snapshot(vol)
    qemu_io(path, "write -P 0x01 0 1M")
    d.create_snapshot(s1, vol)
    qemu_io(path, "write -P 0x02 1M 1M")
    d.create_snapshot(s2, vol)
    qemu_io(path, "write -P 0x03 2M 1M")
    digests = {p: raw_digest(p, tmp_path) for p in (snap_file(d, vol, s2), path)}
    d.delete_snapshot(s1)
    assert not os.path.exists(snap_file(d, vol, s1))
    assert mode(snap_file(d, vol, s2)) == 0o400
    assert "backing-filename" not in info(snap_file(d, vol, s2))
    assert {p: raw_digest(p, tmp_path) for p in digests} == digests
    qemu_io(path, "read -P 0x01 0 1M")
    d.delete_snapshot(s2)
    qemu_io(path, "read -P 0x02 1M 1M")
    qemu_io(path, "read -P 0x03 2M 1M")
    d.delete_volume(vol)


def test_clone_depends_on_its_source_until_deleted(file_driver, tmp_path):
    d = file_driver
    src = new_volume()
    d.create_volume(src)
    qemu_io(active(d, src), "write -P 0xab 0 1M")
    clone = new_volume()
    d.clone_volume(clone, src)
    hidden = os.path.join(d.path, f"volume-{src.id}.snap-clone-{clone.id}.qcow2")
    assert info(active(d, clone))["backing-filename"] == os.path.basename(hidden)
    qemu_io(active(d, clone), "write -P 0x11 0 4k")
    qemu_io(active(d, src), "read -P 0xab 0 1M")
    with pytest.raises(iface.VolumeBusy, match="cloned from it"):
        d.delete_volume(src)
    before = raw_digest(active(d, src), tmp_path)
    d.delete_volume(clone)
    assert not os.path.exists(hidden)  # nothing uses the hidden snapshot any more
    assert raw_digest(active(d, src), tmp_path) == before
    flat = new_volume()
    d.clone_volume(flat, src, flatten=True)
    assert "backing-filename" not in info(active(d, flat))
    d.delete_volume(src)  # a flattened clone does not hold its source
    qemu_io(active(d, flat), "read -P 0xab 0 1M")
    d.delete_volume(flat)
    assert qcow2_files(d) == []


def test_extend_with_qemu_img_resize(file_driver):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    qemu_io(active(d, vol), "write -P 0xab 0 1M")
    d.extend_volume(vol, 3)
    assert info(active(d, vol))["virtual-size"] == 3 * iface.GIB
    qemu_io(active(d, vol), "read -P 0xab 0 1M")
    with pytest.raises(iface.InvalidSize, match="cannot shrink"):
        d.extend_volume(dataclasses.replace(vol, size_gib=3), 2)


def test_interrupted_snapshot_is_finished_or_undone(file_driver):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    path = active(d, vol)
    # crash after the new layer was made, before the old one moved: the snapshot never happened
    d.qemu.create(os.path.basename(path) + ".pending", iface.GIB, backing="volume-x.snap-y.qcow2")
    d.extend_volume(vol, 1)
    assert not os.path.exists(path + ".pending") and "backing-filename" not in info(path)
    # crash between the renames: the snapshot is in place, the new layer takes the volume's name
    snap = new_snapshot(vol)
    sfile = snap_file(d, vol, snap)
    d.qemu.create(os.path.basename(path) + ".pending", iface.GIB, backing=os.path.basename(sfile))
    os.rename(path, sfile)
    d.extend_volume(vol, 1)
    assert info(path)["backing-filename"] == os.path.basename(sfile)
    d.delete_snapshot(snap)
    d.delete_volume(vol)


# -- images --------------------------------------------------------------------------------------------


def _qcow2_image(tmp_path, *extra: str) -> bytes:
    src = tmp_path / f"img-{uuid.uuid4().hex}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", *extra, str(src), "64M"], check=True)
    if not extra:
        qemu_io(str(src), "write -P 0x5a 1M 1M")
    return src.read_bytes()


def test_copy_qcow2_image_in_and_out(file_driver, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    d.copy_image_to_volume(vol, chunks_of(_qcow2_image(tmp_path)), "qcow2")
    qemu_io(active(d, vol), "read -P 0 0 1M")
    qemu_io(active(d, vol), "read -P 0x5a 1M 1M")
    assert info(active(d, vol))["virtual-size"] == iface.GIB  # the volume keeps its size
    out = tmp_path / "out.qcow2"
    with open(out, "wb") as f:
        for chunk in d.copy_volume_to_image(vol, "qcow2"):
            f.write(chunk)
    assert "backing-filename" not in info(str(out))
    assert raw_digest(str(out), tmp_path) == raw_digest(active(d, vol), tmp_path)
    assert [n for n in os.listdir(d.path) if n.startswith(".tmp-")] == []  # nothing left behind


def test_qcow2_images_naming_host_files_are_refused(file_driver, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    secret = tmp_path / "host-secret"
    secret.write_bytes(b"s" * 65536)
    with_backing = _qcow2_image(tmp_path, "-b", str(secret), "-F", "raw")
    with pytest.raises(iface.InvalidImage, match="backing file"):
        d.copy_image_to_volume(vol, chunks_of(with_backing), "qcow2")
    with_data_file = _qcow2_image(tmp_path, "-o", f"data_file={tmp_path / 'data-h5'}")
    with pytest.raises(iface.InvalidImage):
        d.copy_image_to_volume(vol, chunks_of(with_data_file), "qcow2")
    qemu_io(active(d, vol), "read -P 0 0 1M")
    assert [n for n in os.listdir(d.path) if n.startswith(".tmp-")] == []


def test_unfinished_image_stream_leaves_no_file(file_driver):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    stream = d.copy_volume_to_image(vol, "raw")
    assert len(next(stream)) == d.chunk_size
    stream.close()
    assert [n for n in os.listdir(d.path) if n.startswith(".tmp-")] == []


# -- connections ---------------------------------------------------------------------------------------


def test_local_host_gets_the_file(file_driver, host):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    ci = d.initialize_connection(vol, iface.Connector(host=host))
    assert ci.driver_volume_type == iface.PROTOCOL_FILE
    assert isinstance(ci.data, iface.FileConnection) and ci.data.path == active(d, vol)
    assert mode(os.path.join(d.path, "exports", f"{vol.id}.json")) == 0o600
    with pytest.raises(iface.VolumeBusy, match="attached"):
        d.create_snapshot(new_snapshot(vol), vol)
    with pytest.raises(iface.VolumeBusy, match="not multiattach"):
        d.initialize_connection(vol, iface.Connector(host="elsewhere"))
    with pytest.raises(iface.VolumeDriverError, match="cannot export"):
        d.initialize_connection(new_volume_on(d), iface.Connector(host="elsewhere", protocols=("file",)))
    d.terminate_connection(vol, iface.Connector(host=host))
    assert not os.path.exists(os.path.join(d.path, "exports", f"{vol.id}.json"))


def new_volume_on(driver: FileDriver) -> iface.Volume:
    vol = new_volume()
    driver.create_volume(vol)
    return vol


def _nbd_io(ci: iface.ConnectionInfo, command: str, tmp_path, psk: iface.TlsPsk | None) -> subprocess.CompletedProcess:
    assert isinstance(ci.data, iface.NbdConnection)
    opts = (f"driver=nbd,server.type=inet,server.host={ci.data.host},server.port={ci.data.port},"
            f"export={ci.data.export_name}")
    argv = ["qemu-io"]
    if psk is not None:
        keys = tmp_path / f"client-psk-{uuid.uuid4().hex[:8]}"
        keys.mkdir(mode=0o700)
        (keys / "keys.psk").write_text(psk.keys_file_line())
        argv += ["--object", f"tls-creds-psk,id=tls0,endpoint=client,dir={keys},username={psk.identity}"]
        opts += ",tls-creds=tls0"
    argv += ["--image-opts", opts, "-c", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_nbd_export_with_tls_psk(file_driver, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    qemu_io(active(d, vol), "write -P 0xab 0 1M")
    remote = iface.Connector(host="compute-h5-remote", ip="127.0.0.1")
    ci = d.initialize_connection(vol, remote)
    assert ci.driver_volume_type == iface.PROTOCOL_NBD
    data = ci.data
    assert isinstance(data, iface.NbdConnection) and data.tls is not None
    assert data.host == "127.0.0.1" and data.export_name == vol.id
    psk_file = os.path.join(d.path, "exports", f"{vol.id}.psk", "keys.psk")
    assert mode(psk_file) == 0o600

    ok = _nbd_io(ci, "read -P 0xab 0 1M", tmp_path, data.tls)
    assert ok.returncode == 0 and "Pattern verification failed" not in ok.stdout, ok.stdout + ok.stderr
    wrote = _nbd_io(ci, "write -P 0x77 1M 64k", tmp_path, data.tls)
    assert wrote.returncode == 0, wrote.stderr
    plain = _nbd_io(ci, "read 0 4k", tmp_path, None)
    assert plain.returncode != 0 and "TLS" in plain.stderr
    wrong = _nbd_io(ci, "read 0 4k", tmp_path, iface.TlsPsk(identity=data.tls.identity, key_hex="00" * 32))
    assert wrong.returncode != 0
    info_plain = subprocess.run(["qemu-img", "info", data.url], capture_output=True, text=True, timeout=30)
    assert info_plain.returncode != 0

    assert d.initialize_connection(vol, remote) == ci  # the same export again
    with pytest.raises(iface.VolumeBusy):
        d.extend_volume(vol, 2)
    with pytest.raises(iface.VolumeBusy):
        d.delete_volume(vol)

    pid = d.exports.load(vol.id).pid
    d.terminate_connection(vol, remote)
    # the daemon is gone (not "its port is closed": a parallel test's export may already have that port)
    assert pid and not _alive(pid)
    assert not os.path.exists(psk_file)
    qemu_io(active(d, vol), "read -P 0x77 1M 64k")  # what the NBD client wrote is in the file
    d.delete_volume(vol)


def test_lost_nbd_daemon_is_restarted_with_the_same_port_and_key(file_driver, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    remote = iface.Connector(host="compute-h5-remote", protocols=("nbd",))
    ci = d.initialize_connection(vol, remote)
    state = d.exports.load(vol.id)
    assert state.pid and d.exports.running(state)
    os.kill(state.pid, 9)
    wait_for(lambda: not d.exports.running(state), timeout=5, message="the killed daemon is still there")
    again = d.initialize_connection(vol, remote)
    assert again == ci
    assert isinstance(again.data, iface.NbdConnection)
    ok = _nbd_io(again, "read -P 0 0 64k", tmp_path, again.data.tls)
    assert ok.returncode == 0, ok.stderr
    d.terminate_connection(vol, remote)
    d.delete_volume(vol)


def test_a_new_driver_instance_finds_the_running_export(file_driver, host, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    remote = iface.Connector(host="compute-h5-remote")
    ci = d.initialize_connection(vol, remote)
    pid = d.exports.load(vol.id).pid
    restarted = FileDriver(PluginContext(d.conf, host=host))  # the volume service restarted
    assert restarted.initialize_connection(vol, remote) == ci
    assert restarted.exports.load(vol.id).pid == pid  # the same daemon, not a second one
    restarted.terminate_connection(vol, remote)
    # the daemon itself is gone (its port may already serve another test's export: ports are reused)
    assert not d.exports.running(d.exports.load(vol.id)) and not _alive(pid)
    restarted.delete_volume(vol)


def test_local_host_may_ask_for_nbd(file_driver, host, tmp_path):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    ci = d.initialize_connection(vol, iface.Connector(host=host, protocols=("nbd", "file")))
    assert ci.driver_volume_type == iface.PROTOCOL_NBD
    assert isinstance(ci.data, iface.NbdConnection)
    ok = _nbd_io(ci, "read -P 0 0 64k", tmp_path, ci.data.tls)
    assert ok.returncode == 0, ok.stderr
    d.terminate_connection(vol, iface.Connector(host=host))
    d.delete_volume(vol)


def test_stats_from_the_filesystem(file_driver):
    d = file_driver
    for size in (1, 3):
        d.create_volume(new_volume(size_gib=size))
    stats = d.get_stats()
    assert stats.provisioned_gib == pytest.approx(4)
    assert stats.volume_count == 2
    assert stats.thin_provisioning and not stats.thick_provisioning
    assert stats.total_gib is not None and stats.free_gib is not None and stats.total_gib >= stats.free_gib
    assert stats.capabilities["thin_provisioning_support"] is True
    assert stats.capabilities["snapshot_support"] is True
    assert stats.allocated_gib is not None and stats.allocated_gib < 0.1  # thin: a few clusters each


def test_oversubscription_is_backend_full(tmp_path, qemu_tools):
    conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)}, "volume_file": {"max_over_subscription_ratio": 1.0}},
                     plugins=(FileDriver,))
    d = FileDriver(PluginContext(conf, host="h"))
    too_big = int(d.get_stats().total_gib or 0) + 1
    with pytest.raises(iface.BackendFull):
        d.create_volume(new_volume(size_gib=too_big))
    assert qcow2_files(d) == []


def test_parallel_clones_and_snapshots_of_one_source(file_driver):
    d = file_driver
    src = new_volume()
    d.create_volume(src)
    qemu_io(active(d, src), "write -P 0xab 0 1M")
    clones = [new_volume() for _ in range(4)]
    snaps = [new_snapshot(src) for _ in range(3)]
    errors: list[BaseException] = []

    def run(fn, *args):
        try:
            fn(*args)
        except BaseException as err:  # reported by the assert below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(d.clone_volume, c, src)) for c in clones]
    threads += [threading.Thread(target=run, args=(d.create_snapshot, s, src)) for s in snaps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for c in clones:
        qemu_io(active(d, c), "read -P 0xab 0 1M")
    qemu_io(active(d, src), "read -P 0xab 0 1M")
    for c in clones:
        d.delete_volume(c)
    for s in snaps:
        d.delete_snapshot(s)
    d.delete_volume(src)
    assert qcow2_files(d) == []


def test_stale_temporaries_are_removed_at_start(tmp_path, qemu_tools):
    conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)}, "volume_file": {"command_timeout": 60}},
                     plugins=(FileDriver,))
    d = FileDriver(PluginContext(conf, host="h"))
    old, fresh = os.path.join(d.path, ".tmp-old.qcow2"), os.path.join(d.path, ".tmp-fresh.qcow2")
    for path in (old, fresh):
        with open(path, "wb") as f:
            f.write(b"x")
    os.utime(old, (time.time() - 120, time.time() - 120))
    FileDriver(PluginContext(conf, host="h"))
    assert not os.path.exists(old) and os.path.exists(fresh)  # a fresh one may be another process's copy


def test_a_locked_file_is_busy_not_an_error(file_driver):
    d = file_driver
    vol = new_volume()
    d.create_volume(vol)
    remote = iface.Connector(host="compute-h5-remote")
    d.initialize_connection(vol, remote)  # the NBD daemon holds the file's write lock
    with pytest.raises(iface.VolumeBusy, match="in use by another process"):
        d.qemu.run("resize", "-q", "-f", "qcow2", os.path.basename(active(d, vol)), str(2 * iface.GIB))
    d.terminate_connection(vol, remote)
    d.qemu.run("resize", "-q", "-f", "qcow2", os.path.basename(active(d, vol)), str(2 * iface.GIB))
    d.delete_volume(vol)


def test_untrusted_image_info_runs_under_limits(file_driver, tmp_path, monkeypatch):
    from cumulo_volume_file import qemu

    d = file_driver
    image = tmp_path / "tiny.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1M"], check=True)
    os.link(image, os.path.join(d.path, ".tmp-h5-info.qcow2"))
    assert d.qemu.info(".tmp-h5-info.qcow2", "qcow2", untrusted=True)["virtual-size"] == MIB
    monkeypatch.setattr(qemu, "UNTRUSTED_INFO_MEMORY", 16 * 1024)  # too little for qemu-img to start
    with pytest.raises(iface.VolumeDriverError, match="qemu-img info failed"):
        d.qemu.info(".tmp-h5-info.qcow2", "qcow2", untrusted=True)
    os.unlink(os.path.join(d.path, ".tmp-h5-info.qcow2"))


def test_manage_existing_takes_a_file_and_unmanage_leaves_it(file_driver, tmp_path):
    d = file_driver
    assert "manage" in d.capabilities
    vol = new_volume()
    d.create_volume(vol)
    qemu_io(active(d, vol), "write -P 0x5a 0 1M")
    digest = raw_digest(active(d, vol), tmp_path)
    snap = new_snapshot(vol)
    d.create_snapshot(snap, vol)
    with pytest.raises(iface.VolumeBusy):  # a file snapshots depend on stays where it is
        d.unmanage(vol)
    d.delete_snapshot(snap)
    d.unmanage(vol)
    assert os.path.exists(active(d, vol))  # unmanage keeps the data
    listed = {tuple(m.reference.items()): m for m in d.get_manageable_volumes()}
    ref = {"source-name": f"volume-{vol.id}"}
    assert listed[tuple(ref.items())].safe_to_manage and listed[tuple(ref.items())].size_gib == 1
    taken = new_volume()
    made = d.manage_existing(dataclasses.replace(taken, size_gib=0), ref)
    assert made.size_gib == 1 and made.provider_location == active(d, taken)
    assert raw_digest(active(d, taken), tmp_path) == digest  # the same data, under the new id
    with pytest.raises(iface.VolumeNotFound):
        d.manage_existing(new_volume(), ref)  # moved: nothing is left under the old name
    with pytest.raises(iface.VolumeNotFound):
        d.manage_existing(new_volume(), {"source-name": "not-a-volume-file"})
    d.delete_volume(taken)
