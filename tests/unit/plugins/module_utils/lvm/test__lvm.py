# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing and planning of lvm_lun (no processes)."""


import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.lvm import _lvm

MiB = 1024 * 1024


fixture = fixture_reader("lvm")


@pytest.fixture
def vg():
    return _lvm.parse_vgs(fixture("vgs_san.json"))["san"]


@pytest.fixture
def lvs():
    return _lvm.parse_lvs(fixture("lvs_san.json"))


def test_parse_vgs(vg):
    assert vg == dict(extent_size=4 * MiB, free=884998144, size=2143289344)


def test_parse_lvs(lvs):
    root = lvs["guest1-root"]
    assert (root.vg, root.size, root.path, root.major, root.minor) == \
        ("san", 1024 * MiB, "/dev/san/guest1-root", 254, 0)
    assert root.open and not root.thin
    assert not lvs["scratch"].open
    assert lvs["idle"].major == -1
    assert lvs["pool"].thin and lvs["pool"].path == "/dev/san/pool"


def test_parse_json_std_numbers_and_empty():
    assert _lvm.parse_lvs(fixture("lvs_empty.json")) == {}
    std = '{"report":[{"vg":[{"vg_name":"a","vg_extent_size":4194304,"vg_free":0,"vg_size":8388608}]}]}'
    assert _lvm.parse_vgs(std)["a"]["extent_size"] == 4 * MiB


def test_argv():
    assert _lvm.lvs_argv("san")[:6] == ["lvs", "--reportformat", "json", "--units", "b",
                                        "--nosuffix"]
    assert _lvm.vgs_argv("san")[-1] == "san"
    assert _lvm.with_test_flag(["lvcreate", "-L", "4194304b"]) == \
        ["lvcreate", "--test", "-L", "4194304b"]


@pytest.mark.parametrize("size,extent,out", [(1, 4 * MiB, 4 * MiB), (4 * MiB, 4 * MiB, 4 * MiB),
                                             (4 * MiB + 1, 4 * MiB, 8 * MiB), (0, 4 * MiB, 0)])
def test_round_up(size, extent, out):
    assert _lvm.round_up(size, extent) == out


def test_create_rounds_up(vg, lvs):
    p = _lvm.plan("san", "new", "present", vg, lvs, size=10 * MiB + 5)
    assert p.argv == [["lvcreate", "-L", "%db" % (12 * MiB), "-n", "new", "--wipesignatures", "y",
                       "--yes", "san"]]
    assert p.size_bytes == 12 * MiB and p.rounded_from == 10 * MiB + 5
    assert "rounded up to 12582912 bytes (3 extents of 4MiB)" in p.messages[0]


def test_create_without_wipe_exact_size(vg, lvs):
    p = _lvm.plan("san", "new", "present", vg, lvs, size=8 * MiB, wipe_signatures=False)
    assert "n" == p.argv[0][p.argv[0].index("--wipesignatures") + 1]
    assert p.messages == []


def test_idempotent(vg, lvs):
    p = _lvm.plan("san", "scratch", "present", vg, lvs, size=4 * MiB - 100)
    assert p.argv == [] and p.size_bytes == 4 * MiB


def test_grow(vg, lvs):
    p = _lvm.plan("san", "scratch", "present", vg, lvs, size=8 * MiB)
    assert p.argv == [["lvextend", "-L", "%db" % (8 * MiB), "san/scratch"]]


def test_shrink_refused(vg, lvs):
    with pytest.raises(_lvm.PlanError, match="never shrinks"):
        _lvm.plan("san", "guest1-root", "present", vg, lvs, size=512 * MiB)


def test_no_space(vg, lvs):
    with pytest.raises(_lvm.PlanError, match="has only 884998144 free"):
        _lvm.plan("san", "big", "present", vg, lvs, size=4096 * MiB)


def test_missing_vg_and_size(vg, lvs):
    with pytest.raises(_lvm.PlanError, match="volume group 'nope' does not exist"):
        _lvm.plan("nope", "x", "present", None, {}, size=MiB)
    with pytest.raises(_lvm.PlanError, match="size: required"):
        _lvm.plan("san", "x", "present", vg, lvs)
    with pytest.raises(_lvm.PlanError, match="at least one extent"):
        _lvm.plan("san", "x", "present", vg, lvs, size=0)


def test_thin_refused(vg, lvs):
    with pytest.raises(_lvm.PlanError, match="thick volumes only"):
        _lvm.plan("san", "pool", "present", vg, lvs, size=100 * MiB)


def test_remove(vg, lvs):
    assert _lvm.plan("san", "scratch", "absent", vg, lvs).argv == [["lvremove", "-y", "san/scratch"]]
    assert _lvm.plan("san", "gone", "absent", vg, lvs).argv == []


def test_remove_open_refused_unless_force(vg, lvs):
    with pytest.raises(_lvm.PlanError, match=r"open \(lv_attr -wi-ao----\); .*force=true"):
        _lvm.plan("san", "guest1-root", "absent", vg, lvs)
    assert _lvm.plan("san", "guest1-root", "absent", vg, lvs, force=True).argv


def test_remove_mounted_and_exported_refused(vg, lvs):
    with pytest.raises(_lvm.PlanError) as e:
        _lvm.plan("san", "scratch", "absent", vg, lvs, mounts=["/srv"],
                  exported=["iSCSI target iqn.2024-01.lab.sanboot:t LUN 1"])
    assert "mounted on /srv" in str(e.value) and "LUN 1" in str(e.value)


def test_mounted_at():
    text = fixture("mountinfo")
    assert _lvm.mounted_at(text, 254, 0) == ["/srv/guest 1"]
    assert _lvm.mounted_at(text, 254, 9) == []
    assert _lvm.mounted_at(text, -1, -1) == []


def test_exporters(tmp_path):
    disk = tmp_path / "dm-3"
    disk.write_bytes(b"")
    (tmp_path / "san-a").symlink_to(disk)
    proc = tmp_path / "proc"
    for pid, argv in ((42, ["vblade", "1", "2", "eth0", str(tmp_path / "san-a")]),
                      (43, ["vblade", "1", "3", "eth0", "/srv/x"])):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        (proc / str(pid) / "root").symlink_to("/")
    where = dict(run_dir=str(tmp_path / "no-tgtd"), proc=str(proc))
    assert _lvm.exporters(str(disk), None, **where) == [
        "AoE export e1.2 on eth0 (vblade pid 42)"]
    assert _lvm.exporters(str(tmp_path / "other"), None, **where) == []
    with pytest.raises(_lvm.PlanError, match="cannot tell whether"):
        _lvm.exporters(str(disk), None, run_dir=str(tmp_path / "no-tgtd"),
                       proc=str(tmp_path / "noproc"))


def test_describe(lvs):
    assert _lvm.describe(None) == "absent\n"
    assert _lvm.describe(lvs["scratch"]) == "device: /dev/san/scratch\nsize_bytes: 4194304\n"


def test_real_testbed_reports():
    vgs = _lvm.parse_vgs(fixture("vgs_testbed.json"))
    assert vgs == {"dbg": dict(extent_size=4 * MiB, free=1052770304, size=1069547520)}
    lv = _lvm.parse_lvs(fixture("lvs_testbed_mounted.json"))["l"]
    assert (lv.size, lv.attr, lv.major, lv.minor, lv.open) == (16 * MiB, "-wi-ao----", 253, 0, True)
    assert _lvm.mounted_at(fixture("mountinfo_testbed"), lv.major, lv.minor) == ["/mnt/dbg"]
    with pytest.raises(_lvm.PlanError, match="mounted on /mnt/dbg"):
        _lvm.plan("dbg", "l", "absent", vgs["dbg"], {"l": lv}, mounts=["/mnt/dbg"])
    idle = _lvm.parse_lvs(fixture("lvs_testbed_inactive.json"))["l"]
    assert (idle.major, idle.open) == (-1, False)
    assert _lvm.plan("dbg", "l", "absent", vgs["dbg"], {"l": idle}).argv == [["lvremove", "-y", "dbg/l"]]


@pytest.mark.parametrize("vg, name, words", [
    ("-vg", "lun1", "vg: '-vg' is not a valid LVM name"),
    ("san", "-lun", "name: '-lun' is not a valid LVM name"),
    ("san", "a/b", "name: 'a/b'"), ("san/x", "lun", "vg: 'san/x'"),
    ("san", "lun 1", "name:"), ("san", "lun\n", "name:"), ("san", "..", "name:"), ("", "lun", "vg:"),
    ("san", "x" * 128, "name:"), ("san", "snapshot1", "starts with 'snapshot'"),
    ("san", "pvmove0", "starts with 'pvmove'"), ("san", "lun_tmeta", "contains '_tmeta'"),
])
def test_check_names_refuses(vg, name, words):
    with pytest.raises(_lvm.PlanError, match=words):
        _lvm.check_names(vg, name)


def test_check_names_accepts():
    _lvm.check_names("san-vg_0", "lun+1.a-b")
