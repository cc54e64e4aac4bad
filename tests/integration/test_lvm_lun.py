# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvm_lun against real LVM in the kernel testbed (the controller has no device-mapper).

The ``testbed`` fixture (tests/integration/_testbed.py) reuses a running testbed or starts one
(QEMU/TCG, ~1 min); ``SANBOOT_TESTBED``/``SANBOOT_TESTBED_KEY`` name another host.  A volume group
is created on the testbed's empty virtio data disk and removed afterwards, also after failures.
The module runs with ``ansible HOST -m sanboot.lab.lvm_lun`` from the work tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order


pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VG = "sanboot_lvmtest"
MiB = 1024 * 1024


def module(bed, check=False, **args):
    """Run sanboot.lab.lvm_lun on the testbed; return its result dict."""
    env = ansible_env(ANSIBLE_HOST_KEY_CHECKING="False", **bed.ansible_env)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "all", "-i", bed.host + ",",
            "-e", "ansible_python_interpreter=/usr/bin/python3", "-m", "sanboot.lab.lvm_lun",
            "-a", json.dumps(args), "--diff"] + (["--check"] if check else [])
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    out = json.loads(proc.stdout)
    return out["plays"][0]["tasks"][0]["hosts"][bed.host]


def size(bed, lv):
    return int(bed.run("blockdev --getsize64 /dev/%s/%s" % (VG, lv)).stdout)


@pytest.fixture
def vg(testbed):  # noqa: F811
    disk = testbed.data_disk
    testbed.run("pvcreate -ff -y %s && vgcreate -s 4m %s %s" % (disk, VG, disk))
    try:
        yield testbed
    finally:
        testbed.run("umount /mnt/sanboot-lvmtest", check=False)
        testbed.run("vgremove -f %s; pvremove -ff -y %s; wipefs -a %s" % (VG, disk, disk),
                    check=False)


def test_create_grow_refuse_shrink_idempotent(vg):
    r = module(vg, vg=VG, name="lun1", size=10 * MiB + 1)
    assert r["changed"] and r["size_bytes"] == 12 * MiB and r["rounded_from"] == 10 * MiB + 1
    assert r["extent_size_bytes"] == 4 * MiB and r["device"] == "/dev/%s/lun1" % VG
    assert size(vg, "lun1") == 12 * MiB

    r = module(vg, vg=VG, name="lun1", size="12MiB")
    assert not r["changed"] and r["commands"] == []

    r = module(vg, check=True, vg=VG, name="lun1", size="20MiB")
    assert r["changed"] and r["commands"][0][:2] == ["lvextend", "--test"]
    assert size(vg, "lun1") == 12 * MiB

    r = module(vg, vg=VG, name="lun1", size="20MiB")
    assert r["changed"] and r["size_bytes"] == 20 * MiB == size(vg, "lun1")

    r = module(vg, vg=VG, name="lun1", size="8MiB")
    assert r.get("failed") and "never shrinks" in r["msg"]
    assert size(vg, "lun1") == 20 * MiB


def test_check_mode_create_uses_lvm_test(vg):
    r = module(vg, check=True, vg=VG, name="lun2", size="8MiB")
    assert r["changed"] and r["commands"][0][:2] == ["lvcreate", "--test"]
    assert vg.run("lvs %s/lun2" % VG, check=False).returncode != 0


def test_removal_refused_while_mounted(vg):
    module(vg, vg=VG, name="lun3", size="16MiB")
    # Settle udev first: systemd unmounts at once a mount whose device unit is not ready yet.
    vg.run("udevadm settle && mkfs.ext4 -q /dev/%s/lun3 && udevadm settle && "
           "mkdir -p /mnt/sanboot-lvmtest && mount /dev/%s/lun3 /mnt/sanboot-lvmtest" % (VG, VG))
    assert vg.run("findmnt -n -o TARGET /mnt/sanboot-lvmtest").stdout.strip() == "/mnt/sanboot-lvmtest"
    r = module(vg, vg=VG, name="lun3", state="absent")
    assert r.get("failed") and "mounted on /mnt/sanboot-lvmtest" in r["msg"]
    assert "force=true" in r["msg"]
    vg.run("umount /mnt/sanboot-lvmtest")

    r = module(vg, check=True, vg=VG, name="lun3", state="absent")
    assert r["changed"] and r["commands"][0][:2] == ["lvremove", "--test"]
    r = module(vg, vg=VG, name="lun3", state="absent")
    assert r["changed"] and r["size_bytes"] == 0
    assert not module(vg, vg=VG, name="lun3", state="absent")["changed"]


def test_missing_vg_is_an_error(vg):
    r = module(vg, vg="nosuchvg", name="x", size="4MiB")
    assert r.get("failed") and "volume group 'nosuchvg' does not exist" in r["msg"]
