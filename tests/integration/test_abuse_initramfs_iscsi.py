# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""initramfs_iscsi abuse table: hostile input is refused by name and changes nothing.

The image is a small fake root (the files ``check_root`` looks for, one kernel), next to a
directory ``outside`` that symlinks planted in the image point to; both are watched.
``update: false``: no chroot, no update-initramfs.
"""

from __future__ import annotations

import os
import stat

import pytest

from _abuse import assert_refused  # noqa: E402  pylint: disable=import-error
from _ansible import run_module  # noqa: E402  pylint: disable=import-error

pytestmark = pytest.mark.integration

TARGET = "iqn.2024-01.lab.sanboot:guest1"
INITIATOR = "iqn.2024-01.lab.sanboot:guest1-boot"
SECRET = "guest1-chap-secret"
CHAP = {"username": "guest1", "password": SECRET}


def make_image(tmp_path, etc=True):
    root = tmp_path / "img"
    for rel in ("usr/sbin/update-initramfs", "usr/share/initramfs-tools/hooks/iscsi",
                "usr/sbin/iscsistart", "boot/vmlinuz-6.1.0-28-amd64", "lib/systemd/systemd-networkd"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n")
    (root / "lib/modules/6.1.0-28-amd64").mkdir(parents=True)
    if etc:
        (root / "etc/network/interfaces.d").mkdir(parents=True)
        (root / "etc/network/interfaces").write_text("auto eth0\niface eth0 inet dhcp\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret-target").write_text("not yours\n")
    return root, outside


def args(root, **kw):
    out = dict(root=str(root), target=TARGET, portals=["198.51.100.10"],
               initiator_name=INITIATOR, chap=CHAP, update=False)
    out.update(kw)
    return out


def plant(root, outside, where):
    """Symlinks from the image to ``outside`` (``where``: which one)."""
    if where == "etc":
        os.rename(str(root / "etc"), str(outside / "etc"))
        os.symlink(str(outside / "etc"), str(root / "etc"))
    elif where == "etc/iscsi":
        os.symlink(str(outside), str(root / "etc/iscsi"))
    elif where == "etc/iscsi relative":
        os.symlink("../../outside", str(root / "etc/iscsi"))
    elif where == "conf file":
        (root / "etc/iscsi").mkdir()
        os.symlink(str(outside / "secret-target"), str(root / "etc/iscsi/iscsi.initramfs"))
    elif where == "conf.d":
        (root / "etc/initramfs-tools").mkdir(parents=True)
        os.symlink(str(outside), str(root / "etc/initramfs-tools/conf.d"))
    elif where == "interfaces.d":
        os.rmdir(str(root / "etc/network/interfaces.d"))
        (outside / "eth0").write_text("iface eth0 inet dhcp\n")
        os.symlink(str(outside), str(root / "etc/network/interfaces.d"))
    elif where == "systemd network":
        (root / "etc/systemd").mkdir(parents=True)
        os.symlink(str(outside), str(root / "etc/systemd/network"))


@pytest.mark.parametrize("where, extra", [
    ("etc/iscsi", {}),
    ("etc/iscsi relative", {}),
    ("etc", {}),
    ("conf file", {}),
    ("conf.d", {}),
    ("interfaces.d", {"boot_interface": "eth0"}),
    ("systemd network", {"boot_interface": "eth0"}),
])
def test_symlink_out_of_the_image_is_refused(tmp_path, where, extra):
    root, outside = make_image(tmp_path)
    plant(root, outside, where)
    res = assert_refused("initramfs_iscsi", args(root, **extra), "root", tmp_path,
                         watch=dict(paths=[root, outside], daemons=False))
    assert "symbolic link" in res["msg"]
    assert SECRET not in res["msg"]


@pytest.mark.parametrize("kw, option", [
    ({"root_device": 'LABEL=gu"est'}, "root_device"),
    ({"root_device": "LABEL=guest\n"}, "root_device"),
    ({"root_device": "LABEL=gu\x1best"}, "root_device"),
    ({"root_device": "/dev/sda1 init=/bin/sh"}, "root_device"),
    ({"clocksource": "tsc\n"}, "clocksource"),
    ({"clocksource": "tsc init=/bin/sh"}, "clocksource"),
    ({"boot_interface": "eth0\n"}, "boot_interface"),
    ({"boot_interface": 'et"h0'}, "boot_interface"),
    ({"ip": {"address": "198.51.100.30/25", "hostname": 'gu"est'}}, "ip.hostname"),
    ({"ip": {"address": "198.51.100.30/25", "hostname": "guest\ninit=/bin/sh"}}, "ip.hostname"),
    ({"ip": "198.51.100.30::198.51.100.1:255.255.255.128:gu est:eth0:off"}, "ip"),
    ({"ip": "198.51.100.30::198.51.100.1:255.255.255.128:guest:eth0:off\n"}, "ip"),
    ({"ip": "198.51.100.30::198.51.100.1:255.255.255.128:guest:eth0:off init=/bin/sh"}, "ip"),
    ({"chap": {"username": "gu\x1best", "password": SECRET}}, "chap.username"),
    ({"chap": {"username": "guest1", "password": "guest1-chap\rsecret"}}, "chap.password"),
    ({"chap": {"username": "guest1", "password": "guest1-chap\nsecret"}}, "chap.password"),
    ({"target": 'iqn.2024-01.lab.sanboot:gu"est'}, "target"),
    ({"portals": ["198.51.100.10 198.51.100.11"]}, "portals[0]"),
    ({"kernels": ["../../../outside"]}, "kernels"),
])
def test_hostile_values_are_refused(tmp_path, kw, option):
    root, outside = make_image(tmp_path)
    res = assert_refused("initramfs_iscsi", args(root, **kw), option, tmp_path,
                         watch=dict(paths=[root, outside], daemons=False))
    for secret in (SECRET, (kw.get("chap") or {}).get("password")):
        if secret:
            assert secret not in res["msg"] and repr(secret)[1:-1] not in res["msg"] \
                and "chap-secret" not in res["msg"], res["msg"]


def test_planted_temporary_name_is_not_followed_and_secret_is_0600(tmp_path):
    """A symlink at the old fixed temporary name (``FILE.sanboot-tmp``) is not used; the secret
    lands in the image with mode 0600 and nothing outside changes."""
    root, outside = make_image(tmp_path)
    (root / "etc/iscsi").mkdir()
    os.symlink(str(outside / "secret-target"), str(root / "etc/iscsi/iscsi.initramfs.sanboot-tmp"))
    mode_before = stat.S_IMODE(os.stat(str(outside / "secret-target")).st_mode)
    res = run_module("initramfs_iscsi", args(root), tmp_path)
    assert not res.get("failed"), res
    assert (outside / "secret-target").read_text() == "not yours\n"
    assert stat.S_IMODE(os.stat(str(outside / "secret-target")).st_mode) == mode_before
    conf = root / "etc/iscsi/iscsi.initramfs"
    assert not conf.is_symlink() and SECRET in conf.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert os.readlink(str(root / "etc/iscsi/iscsi.initramfs.sanboot-tmp")) == str(outside / "secret-target")
    leftovers = [n for n in os.listdir(str(root / "etc/iscsi")) if ".sanboot-" in n and n != "iscsi.initramfs.sanboot-tmp"]
    assert leftovers == []
    again = run_module("initramfs_iscsi", args(root), tmp_path)
    assert not again.get("failed") and again["changed"] is False, again
