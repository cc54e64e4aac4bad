# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_devices: the disks of a session in a sysfs tree made under tmp_path; the deadline."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sanboot.lab.plugins.module_utils.common._errors import PlanError
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _devices as D

T = "iqn.2024-01.lab.sanboot.test:t1"


def make_lun(root, sid, host, lun, type_="0", disk=None, wwid=None, portal="198.51.100.1:3260"):
    base = root / "sys" / "class" / "iscsi_session" / ("session%d" % sid) / "device"
    sdev = base / ("target%d:0:0" % host) / ("%d:0:0:%d" % (host, lun))
    sdev.mkdir(parents=True, exist_ok=True)
    (sdev / "type").write_text(type_ + "\n")
    if wwid:
        (sdev / "wwid").write_text(wwid + "\n")
    if disk:
        (sdev / "block" / disk).mkdir(parents=True)
        (root / "dev").mkdir(exist_ok=True)
        (root / "dev" / disk).write_text("")
        bypath = root / "dev" / "disk" / "by-path"
        bypath.mkdir(parents=True, exist_ok=True)
        os.symlink("../../%s" % disk, str(bypath / ("ip-%s-iscsi-%s-lun-%d" % (portal, T, lun))))
        os.symlink("../../%s1" % disk, str(bypath / ("ip-%s-iscsi-%s-lun-%d-part1" % (portal, T, lun))))


def test_wwid():
    assert D.wwid_of("naa.60000000000000000e00000000010001") == "360000000000000000e00000000010001"
    assert D.wwid_of("eui.0123456789abcdef") == "20123456789abcdef"
    assert D.wwid_of("t10.IET     VIRTUAL-DISK") == "1IET_VIRTUAL-DISK"
    assert D.wwid_of(None) == ""


def test_session_devices(tmp_path):
    make_lun(tmp_path, 3, 2, 0, type_="12")                 # tgt's LUN 0: a controller, no disk
    make_lun(tmp_path, 3, 2, 1, disk="sdb", wwid="naa.60000000000000000e00000000010001")
    make_lun(tmp_path, 3, 2, 2, disk="sdc")
    devs, ok = D.session_devices(3, str(tmp_path / "sys"), str(tmp_path / "dev"))
    assert ok
    assert devs == [
        dict(lun=1, name="sdb", path=str(tmp_path / "dev" / "sdb"), wwid="360000000000000000e00000000010001",
             by_path=str(tmp_path / "dev" / "disk" / "by-path" / ("ip-198.51.100.1:3260-iscsi-%s-lun-1" % T))),
        dict(lun=2, name="sdc", path=str(tmp_path / "dev" / "sdc"), wwid="",
             by_path=str(tmp_path / "dev" / "disk" / "by-path" / ("ip-198.51.100.1:3260-iscsi-%s-lun-2" % T)))]
    assert D.session_devices(9, str(tmp_path / "sys"))[1] is False


def test_wait_times_out_with_a_deadline(tmp_path):
    make_lun(tmp_path, 5, 4, 1)                              # a disk whose block device never comes
    now, ran, slept = [0.0], [], []

    def sleep(s):
        slept.append(s)
        now[0] += s
    with pytest.raises(PlanError) as e:
        D.wait_devices(lambda argv, check=False: ran.append(argv), "/bin/udevadm", [5], 2,
                       clock=lambda: now[0], sleep=sleep, sysfs=str(tmp_path / "sys"), dev=str(tmp_path / "dev"))
    assert e.value.option == "wait_timeout" and "session(s) 5" in e.value.msg and "within 2 seconds" in e.value.msg
    assert ran == [["/bin/udevadm", "settle", "--timeout=2"]] and 9 <= len(slept) <= 11


def test_wait_returns_when_ready(tmp_path):
    make_lun(tmp_path, 6, 4, 1, disk="sdd", portal="[fd00::1]:3260")
    found = D.wait_devices(lambda argv, check=False: None, None, [6], 30, sleep=pytest.fail,
                           sysfs=str(tmp_path / "sys"), dev=str(tmp_path / "dev"))
    assert found[6][0]["name"] == "sdd" and "ip-[fd00::1]:3260-iscsi-" in found[6][0]["by_path"]
