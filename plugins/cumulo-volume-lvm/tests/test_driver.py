"""The lvm driver against the volume conformance suite on a real thin pool, and its LVM runner and checks.

The conformance suite needs device-mapper (thin LVs); the configuration and
report checks need only LVM metadata on a loop device, which works on a
kernel without it.
"""

from __future__ import annotations

import sys

import pytest
from cumulo_volume_lvm.driver import LvmDriver
from cumulo_volume_lvm.lvm import Lvm, LvmError, run_command

from cumulo.interfaces import volume as iface
from cumulo.testing.conformance.image import make_conf
from cumulo.testing.conformance.volume import VolumeDriverConformance, new_volume

NO_UDEV = "activation { udev_sync=0 udev_rules=0 }"


class TestLvmDriverConformance(VolumeDriverConformance):
    plugin_name = "lvm"

    @pytest.fixture
    def driver(self, lvm_driver):
        return lvm_driver

    @pytest.mark.xfail(strict=True, raises=iface.VolumeDriverError,
                       reason="no NBD export for other hosts yet: it would repeat the file driver's "
                              "qemu-storage-daemon code, which belongs in the kernel first")
    def test_second_host_needs_multiattach(self, driver):
        super().test_second_host_needs_multiattach(driver)


def test_exported_device_is_the_lv_and_image_data_lands_on_it(lvm_driver, loop_vg):
    volume = new_volume()
    lvm_driver.create_volume(volume)
    lvm_driver.copy_image_to_volume(volume, iter([b"\x5a" * 4096]), "raw")
    connector = iface.Connector(host=lvm_driver.host)
    info = lvm_driver.initialize_connection(volume, connector)
    assert info.data == iface.FileConnection(path=f"/dev/{loop_vg.name}/volume-{volume.id}", disk_format="raw")
    with open(info.data.path, "rb") as f:
        assert f.read(8192) == b"\x5a" * 4096 + bytes(4096)
    lvm_driver.terminate_connection(volume, connector)
    lvm_driver.delete_volume(volume)
    assert f"volume-{volume.id}" not in loop_vg.lvm("lvs", "--noheadings", "-o", "lv_name", loop_vg.name).stdout


def test_snapshot_is_a_tagged_thin_snapshot(lvm_driver, loop_vg):
    volume = new_volume()
    lvm_driver.create_volume(volume)
    snapshot = iface.Snapshot(id="s-1", volume_id=volume.id, volume_size_gib=1)
    lvm_driver.create_snapshot(snapshot, volume)
    out = loop_vg.lvm("lvs", "--noheadings", "--separator", ";", "-o", "lv_name,segtype,pool_lv,lv_tags",
                      f"{loop_vg.name}/snap-s-1").stdout.split(";")
    assert [x.strip() for x in out] == ["snap-s-1", "thin", "pool", f"cumulo-of-{volume.id}"]
    lvm_driver.delete_snapshot(snapshot)
    lvm_driver.delete_volume(volume)


# -- what runs without device-mapper: configuration checks and reports on a real volume group --------


def test_validate_config_names_a_missing_volume_group(tmp_path, lvm_tools):
    conf = make_conf({"volume_lvm": {"volume_group": "lvmtest-nosuchvg",
                                     # accept no device: LVM reads none of the host's disks
                                     "lvm_config": f'devices {{ filter=["r|.*|"] }} {NO_UDEV}'}},
                     plugins=(LvmDriver,))
    problems = LvmDriver.validate_config(conf)
    assert len(problems) == 1
    assert "volume_group = lvmtest-nosuchvg" in problems[0] and "no such LVM volume group" in problems[0]


def test_validate_config_names_a_missing_thin_pool(tmp_path, loop_vg):
    conf = make_conf({"volume_lvm": {"volume_group": loop_vg.name, "thin_pool": "nopool",
                                     "lvm_config": loop_vg.config}}, plugins=(LvmDriver,))
    assert LvmDriver.validate_config(conf) == [
        f"[volume_lvm] thin_pool = nopool: no such logical volume in volume group {loop_vg.name} "
        "(make it with lvcreate --type thin-pool)"]


def test_reports_read_the_real_volume_group(tmp_path, loop_vg):
    lvm = Lvm("lvm", loop_vg.config, 60)
    vg = lvm.vg(loop_vg.name)
    assert vg is not None and vg.name == loop_vg.name
    # a 2 GiB PV less LVM's metadata area and the partial extent: whole 4 MiB extents, all free
    assert 2 * 1024 ** 3 - 8 * 1024 ** 2 <= vg.size < 2 * 1024 ** 3 and vg.free == vg.size
    assert lvm.lvs(loop_vg.name) == {}
    assert lvm.vg("lvmtest-nosuchvg") is None


def test_stats_and_lookups_say_what_is_missing(make_lvm_driver, loop_vg):
    driver = make_lvm_driver(loop_vg, "nopool", "lvmhost")
    with pytest.raises(iface.VolumeDriverError, match=f"thin pool {loop_vg.name}/nopool .* is missing"):
        driver.get_stats()
    with pytest.raises(iface.VolumeNotFound, match=f"volume group {loop_vg.name}"):
        driver.initialize_connection(new_volume(), iface.Connector(host="lvmhost"))
    driver.delete_volume(new_volume())  # nothing there: no error


# -- the runner --------------------------------------------------------------------------------------


def test_runner_kills_a_command_that_hangs():
    with pytest.raises(LvmError, match="took longer than 0.3 s and was killed"):
        run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.3, label="lvm lvcreate")


def test_runner_quotes_the_failure_and_knows_a_full_pool():
    fail = "import sys; sys.stderr.write('  Volume group \"vg\" has\\n  {}\\n'); sys.exit(5)"
    with pytest.raises(LvmError, match='lvm lvcreate failed: Volume group "vg" has oops$'):
        run_command([sys.executable, "-c", fail.format("oops")], timeout=30, label="lvm lvcreate")
    with pytest.raises(iface.BackendFull, match="Insufficient free space"):
        run_command([sys.executable, "-c", fail.format("Insufficient free space: 256 extents needed")],
                    timeout=30, label="lvm lvcreate")
    with pytest.raises(LvmError, match="cannot run /nonexistent/lvm"):
        run_command(["/nonexistent/lvm", "lvs"], timeout=30)


def test_a_report_that_is_not_json_is_an_error():
    lvm = Lvm("echo", "", 30)  # echo prints its arguments: a command that succeeds without a JSON report
    with pytest.raises(LvmError, match="lvm vgs wrote no JSON report"):
        lvm.report("vgs", "vg")
