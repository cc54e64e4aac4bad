# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel testbed boots Debian's kernel and has what the controller's kernel lacks.

Boots the testbed VM (playbooks/testbed_up.yml, QEMU under TCG, ~1 min) unless one answers already.
"""

from __future__ import annotations

import pytest


pytestmark = pytest.mark.integration


def test_runs_debians_kernel(testbed):  # noqa: F811
    assert testbed.run("uname -r").stdout.strip().endswith("-amd64")


def test_root_is_the_image_disk_and_address_is_static(testbed):  # noqa: F811
    assert testbed.run("findmnt -no SOURCE /").stdout.strip() == "/dev/vda"
    assert "198.51.100.30/25" in testbed.run("ip -4 -o addr show").stdout


def test_second_nic_is_on_the_second_storage_network(testbed):  # noqa: F811
    # testbed_extra_networks (default): tap sbtestbed1 on sanbr1, MAC 52:54:00:c6:33:1f, 198.51.100.158/25
    # from the guest's systemd-networkd file; the controller answers there as 198.51.100.129.
    link = testbed.run("ip -o link show | grep -i 52:54:00:c6:33:1f").stdout.split(":")[1].strip()
    assert "198.51.100.158/25" in testbed.run("ip -4 -o addr show dev %s" % link).stdout
    testbed.run("ping -c 1 -W 5 -I %s 198.51.100.129" % link)


def test_kernel_modules_load(testbed):  # noqa: F811
    testbed.run("modprobe -a dm_mod iscsi_tcp aoe")
    loaded = testbed.run("ls /sys/module").stdout.split()
    for module in ("dm_mod", "iscsi_tcp", "aoe", "scsi_transport_iscsi"):
        assert module in loaded


def test_device_mapper_works(testbed):  # noqa: F811
    testbed.run("dmsetup create sanboot-zero --table '0 2048 zero'")
    try:
        size = testbed.run("blockdev --getsize64 /dev/mapper/sanboot-zero").stdout.strip()
        assert size == str(2048 * 512)
    finally:
        testbed.run("dmsetup remove sanboot-zero")


def test_lvm_and_iscsi_tools(testbed):  # noqa: F811
    assert "LVM version:" in testbed.run("lvm version").stdout
    assert "iscsiadm version" in testbed.run("iscsiadm --version").stdout


def test_data_disk_is_an_empty_gib(testbed):  # noqa: F811
    disk = testbed.data_disk
    assert testbed.run("readlink -f %s" % disk).stdout.strip() == "/dev/vdb"
    assert testbed.run("blockdev --getsize64 %s" % disk).stdout.strip() == str(1024 ** 3)
    # blkid exits 2 when it finds no signature: the disk is blank for LVM tests.
    assert testbed.run("blkid -p %s" % disk, check=False).returncode == 2
