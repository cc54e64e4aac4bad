# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The LVM-root variant of the guest image: root file system on an LVM logical volume inside an
iSCSI disk, booted through open-iscsi's initramfs with sanboot's LVM settle script.

1. roles/guest_image (instance ``lvmroot``, debian_iscsi_root applied through the chroot
   connection with ``lvm_settle_delay`` and ``root_device=/dev/mapper/VG-LV``) builds the root
   tree, its initramfs and an ext4 disk file on the controller; the initramfs is inspected.
2. A real tgtd on the lab bridge (198.51.100.1:3301, control port 80) exports a sparse file LUN.
   The kernel testbed (the controller has no iSCSI initiator and no device-mapper) logs in with
   iscsiadm, makes the PV/VG/LV on the iSCSI disk, reads where the LV's extents start, deactivates
   the VG and logs out.
3. The ext4 image is written into the LUN file at that offset (on the controller: no bulk data
   through the TCG VM), and a second QEMU guest (TCG, 512 MiB) boots the image's kernel and
   initramfs with its NIC on a tap of sanbr0.  From inside it the test checks that ``/`` is the
   logical volume, stacked on an iSCSI disk whose session names the lab target.

Everything is removed afterwards, also after failures (QEMU and tgtd stopped by PID, the
testbed's node record and VG dropped, temporary files deleted); the ``lvmroot`` instance root in
the guest image cache is kept, like every guest_image instance, and reused by the next run.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import subprocess
import uuid

import pytest

from _lvm_root import Guest, build_image  # noqa: E402  pylint: disable=wrong-import-order
from _testbed import DEFAULT_KEY  # noqa: E402  pylint: disable=wrong-import-order
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

CONTROL_PORT = 80
PORTAL_IP, PORT = "198.51.100.1", 3301
TARGET = "iqn.2024-01.lab.sanboot:lvmroot"
INITIATOR = "iqn.2024-01.lab.sanboot:lvmroot-boot"
GUEST_IP, TESTBED_IP = "198.51.100.66", "198.51.100.30"  # .61-.63 are the lab's guests
TAP, MAC = "sblvmroot0", "52:54:00:5b:00:42"
VG, LV = "sblvmroot", "root"
ROOT_DEVICE = "/dev/mapper/%s-%s" % (VG, LV)
SETTLE = 5
MiB = 1024 * 1024
LUN_MIB, LV_MIB = 1536, 1400
DISK = "/dev/disk/by-path/ip-%s:%d-iscsi-%s-lun-1" % (PORTAL_IP, PORT, TARGET)
NODE = "-T %s -p %s:%d" % (TARGET, PORTAL_IP, PORT)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """guest_image result of the ``lvmroot`` instance (its disk file is temporary)."""
    disk = str(tmp_path_factory.mktemp("lvmroot") / "root.ext4")
    with open(DEFAULT_KEY + ".pub") as f:
        pubkey = f.read().strip()
    role_vars = dict(guest_image_name="lvmroot", guest_image_iscsi_root=True,
                     guest_image_disk_path=disk, guest_image_disk_size_mib=LV_MIB,
                     guest_image_authorized_keys=[pubkey],
                     debian_iscsi_root_target=TARGET, debian_iscsi_root_portals=[PORTAL_IP],
                     debian_iscsi_root_port=PORT, debian_iscsi_root_initiator_name=INITIATOR,
                     debian_iscsi_root_root_device=ROOT_DEVICE,
                     debian_iscsi_root_lvm_settle_delay=SETTLE,
                     # As playbooks/guests.yml: the boot NIC keeps the kernel's ip= address
                     # (Unmanaged in networkd; networkd reconfiguring it broke the iSCSI session).
                     debian_iscsi_root_boot_interface="eth0",
                     debian_iscsi_root_kernel_cmdline_extra=[
                         "net.ifnames=0"],
                     debian_iscsi_root_ip={"address": GUEST_IP + "/25", "gateway": PORTAL_IP,
                                           "hostname": "lvmroot"})
    try:
        yield build_image(role_vars)
    finally:
        for path in (disk, disk + ".stamp"):
            if os.path.exists(path):
                os.unlink(path)


def _testbed_cleanup(bed):
    bed.run("vgchange -an %s; iscsiadm -m node %s --logout; iscsiadm -m node -o delete %s; "
            "iscsiadm -m discoverydb -t st -p %s:%d -o delete; udevadm settle"
            % (VG, NODE, NODE, PORTAL_IP, PORT), check=False)


@pytest.fixture(scope="module")
def lun(testbed, tmp_path_factory):  # noqa: F811
    """A tgtd LUN holding a PV/VG/LV made by the testbed; yields (LUN file, LV offset in bytes)."""
    path = str(tmp_path_factory.mktemp("lvmroot-lun") / "lun1.img")
    with open(path, "wb") as f:
        f.truncate(LUN_MIB * MiB)
    tgtd = Tgtd(CONTROL_PORT, "%s:%d" % (PORTAL_IP, PORT)).start()
    try:
        tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET)
        tgtd.tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1",
                    "--lun", "1", "-b", path)
        for addr in (TESTBED_IP, GUEST_IP):
            tgtd.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", addr)
        _testbed_cleanup(testbed)
        try:
            testbed.run("iscsiadm -m discovery -t st -p %s:%d && iscsiadm -m node %s --login && "
                        "udevadm settle && test -b %s" % (PORTAL_IP, PORT, NODE, DISK))
            testbed.run("pvcreate -ff -y %s && vgcreate -s 4m %s %s && lvcreate -y -n %s -L %dm %s"
                        % (DISK, VG, DISK, LV, LV_MIB, VG))
            pe_start = int(testbed.run("pvs --noheadings --units b --nosuffix -o pe_start %s"
                                       % DISK).stdout)
            ranges = testbed.run("lvs --noheadings -o seg_pe_ranges %s/%s" % (VG, LV)).stdout.split()
            assert len(ranges) == 1 and ranges[0].endswith(":0-%d" % (LV_MIB // 4 - 1)), ranges
        finally:
            _testbed_cleanup(testbed)
        yield path, pe_start
    finally:
        tgtd.stop()
        os.unlink(path)


def _chroot(rootfs, *argv):
    return subprocess.run(["chroot", rootfs] + list(argv), check=True, capture_output=True, text=True).stdout


def test_initramfs_has_iscsi_settle_script_and_lvm(image):
    assert image["kernel_cmdline"][:2] == [
        "ip=%s::%s:255.255.255.128:lvmroot:eth0:off" % (GUEST_IP, PORTAL_IP), "root=" + ROOT_DEVICE]
    initrd = "/boot/initrd.img-%s" % image["kernel_version"]
    files = set(_chroot(image["rootfs"], "lsinitramfs", initrd).split())
    for path in ("etc/iscsi.initramfs", "etc/initiatorname.iscsi", "sbin/iscsistart",
                 "scripts/local-top/iscsi", "scripts/local-top/sanboot_lvm_settle",
                 "sbin/lvm", "sbin/dmsetup", "lib/udev/rules.d/69-lvm.rules"):
        assert path in files or "usr/" + path in files, path
    assert any(f.endswith("/dm-mod.ko") for f in files)
    unpacked = "/tmp/sanboot-lvmroot-unpacked"
    where = os.path.join(image["rootfs"], unpacked.lstrip("/"))
    _chroot(image["rootfs"], "unmkinitramfs", initrd, unpacked)
    try:
        main = os.path.join(where, "main") if os.path.isdir(os.path.join(where, "main")) else where
        with open(os.path.join(main, "etc/iscsi.initramfs")) as f:
            conf = f.read()
        assert "ISCSI_TARGET_NAME=%s\n" % TARGET in conf and "ISCSI_TARGET_PORT=%d\n" % PORT in conf
        with open(os.path.join(main, "scripts/local-top/ORDER")) as f:
            order = f.read()
        assert order.index("/scripts/local-top/iscsi") < order.index("/scripts/local-top/sanboot_lvm_settle")
        with open(os.path.join(main, "scripts/local-top/sanboot_lvm_settle")) as f:
            assert "delay=%d\n" % SETTLE in f.read()
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_root_on_lvm_on_iscsi_boots(image, lun, tmp_path):
    path, offset = lun
    subprocess.run(["dd", "if=" + image["disk"], "of=" + path, "bs=1M", "conv=notrunc,sparse",
                    "oflag=seek_bytes", "seek=%d" % offset, "status=none"], check=True)
    guest = Guest(str(tmp_path), TAP, MAC)
    try:
        guest.start(image["kernel"], image["initrd"], image["kernel_cmdline"])
        guest.wait_ssh(GUEST_IP, DEFAULT_KEY)

        def run(cmd):
            proc = guest.ssh(GUEST_IP, DEFAULT_KEY, cmd)
            assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
            return proc.stdout

        source = run("findmnt -n -o SOURCE /").strip()
        assert source == ROOT_DEVICE, source
        assert run("lsblk -n -d -o TYPE %s" % ROOT_DEVICE).strip() == "lvm"
        stack = json.loads(run("lsblk -J -s -o NAME,TYPE,TRAN %s" % ROOT_DEVICE))["blockdevices"]
        disks = stack[0]["children"]
        assert [d["type"] for d in disks] == ["disk"] and disks[0]["tran"] == "iscsi", stack
        sessions = run("iscsiadm -m session")
        assert "%s:%d" % (PORTAL_IP, PORT) in sessions and TARGET in sessions, sessions
        marker = "sanboot-lvmroot-%s" % uuid.uuid4()
        run("echo %s > /root/marker && sync" % marker)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            assert data.find(marker.encode(), offset) != -1, "the guest's write did not reach the LUN"
    finally:
        guest.stop()
