# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""initramfs_iscsi and the debian_iscsi_root role on a real Debian bookworm image directory.

The image (debootstrap minbase + linux-image-amd64, initramfs-tools, open-iscsi, lvm2, python3)
is the cached base root of roles/guest_image (``_images.py``; needs the package registries
the first time, ~2-3 min); each test session works on a copy.  The role runs through the community.general.chroot
connection, so ``update-initramfs`` runs for real inside the image; the tests then read the
generated initramfs with ``lsinitramfs``/``unmkinitramfs`` (run in the chroot).  An initramfs
rebuild takes ~30 s here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order

from _images import cached_guest_root  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = "iqn.2024-01.lab.sanboot:guest1"
INITIATOR = "iqn.2024-01.lab.sanboot:guest1-boot"
SECRET = "guest1-chap-secret"


def run_role(image, tmp_path, check=False, **extra):
    """Apply roles/debian_iscsi_root to ``image`` through the chroot connection; return
    ``(recap stats of the host, {task name: result})``."""
    role_vars = dict(debian_iscsi_root_target=TARGET, debian_iscsi_root_portals=["198.51.100.10"],
                     debian_iscsi_root_initiator_name=INITIATOR,
                     debian_iscsi_root_chap={"username": "guest1", "password": SECRET},
                     debian_iscsi_root_lvm_settle_delay=3,
                     debian_iscsi_root_hypervisor="xen",
                     debian_iscsi_root_fstab_device="LABEL=guestroot",
                     debian_iscsi_root_ip={"address": "198.51.100.40/25",
                                           "gateway": "198.51.100.1", "hostname": "guest1"})
    role_vars.update(extra)
    play = [{"hosts": "image", "gather_facts": False,
             "roles": [{"role": "sanboot.lab.debian_iscsi_root", "vars": role_vars}]}]
    pb = tmp_path / "play.yml"
    pb.write_text(json.dumps(play))
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps({"all": {"hosts": {"image": {
        "ansible_host": image, "ansible_connection": "community.general.chroot",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv),
            str(pb)] + (["--check"] if check else [])
    proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0, json.dumps(out, indent=1)[-5000:] + proc.stderr[-2000:]
    tasks = {}
    for play_ in out["plays"]:
        for task in play_["tasks"]:
            tasks[task["task"]["name"].split(" : ", 1)[-1]] = task["hosts"]["image"]
    return out["stats"]["image"], tasks


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """A private copy of the cached bookworm root (removed afterwards)."""
    cache = cached_guest_root()
    dest = str(tmp_path_factory.mktemp("image") / "root")
    subprocess.run(["cp", "-a", cache, dest], check=True)
    yield dest
    shutil.rmtree(dest, ignore_errors=True)


def version(image):
    return sorted(os.listdir(os.path.join(image, "lib/modules")))[-1]


def lsinitramfs(image):
    return subprocess.run(["chroot", image, "lsinitramfs", "/boot/initrd.img-%s" % version(image)],
                          check=True, capture_output=True, text=True).stdout.split()


def test_role_builds_initramfs_then_changes_nothing(image, tmp_path):
    initrd = os.path.join(image, "boot/initrd.img-%s" % version(image))
    first_mtime = os.stat(initrd).st_mtime_ns

    stats, tasks = run_role(image, tmp_path, check=True)
    assert tasks["Configure the initramfs for the root on iSCSI"]["changed"]
    assert os.stat(initrd).st_mtime_ns == first_mtime, "check mode rebuilt the initramfs"
    assert not os.path.exists(os.path.join(image, "etc/iscsi/iscsi.initramfs"))

    stats, tasks = run_role(image, tmp_path)
    result = tasks["Configure the initramfs for the root on iSCSI"]
    assert result["changed"] and result["rebuilt"] == [version(image)]
    assert result["kernel_cmdline"] == [
        "ip=198.51.100.40::198.51.100.1:255.255.255.128:guest1::off",
        "root=iscsi:198.51.100.10::3260:1:%s" % TARGET, "clocksource=jiffies"]
    facts = tasks["Publish the kernel command line the boot loader or hypervisor must pass"]
    assert facts["ansible_facts"]["debian_iscsi_root_kernel_cmdline"][-1] == "console=hvc0"
    second_mtime = os.stat(initrd).st_mtime_ns
    assert second_mtime != first_mtime
    assert oct(os.stat(initrd).st_mode & 0o777) == "0o600"  # holds the CHAP secret

    files = lsinitramfs(image)
    for path in ("etc/iscsi.initramfs", "etc/initiatorname.iscsi", "sbin/iscsistart",
                 "scripts/local-top/iscsi", "scripts/local-top/sanboot_lvm_settle"):
        assert path in files or "usr/" + path in files, path

    unpacked = os.path.join(image, "tmp/unpacked")
    subprocess.run(["chroot", image, "unmkinitramfs", "/boot/initrd.img-%s" % version(image),
                    "/tmp/unpacked"], check=True)
    main = os.path.join(unpacked, "main") if os.path.isdir(os.path.join(unpacked, "main")) else unpacked
    with open(os.path.join(main, "etc/iscsi.initramfs")) as f:
        conf = f.read()
    assert "ISCSI_TARGET_NAME=%s\n" % TARGET in conf and "ISCSI_PASSWORD=%s\n" % SECRET in conf
    with open(os.path.join(main, "etc/initiatorname.iscsi")) as f:
        assert "InitiatorName=%s\n" % INITIATOR in f.read()
    with open(os.path.join(main, "scripts/local-top/ORDER")) as f:
        order = f.read()
    assert order.index("/scripts/local-top/iscsi") < order.index("/scripts/local-top/sanboot_lvm_settle")
    shutil.rmtree(unpacked)

    with open(os.path.join(image, "etc/fstab")) as f:
        assert "LABEL=guestroot / ext4 defaults,_netdev 0 1\n" in f.read()

    stats, tasks = run_role(image, tmp_path)
    assert stats["changed"] == 0, tasks
    assert tasks["Configure the initramfs for the root on iSCSI"]["rebuilt"] == []
    assert os.stat(initrd).st_mtime_ns == second_mtime


def test_netdev_added_to_an_existing_root_entry(image, tmp_path):
    fstab = os.path.join(image, "etc/fstab")
    with open(fstab, "w") as f:
        f.write("# static file system information\nUUID=1234\t/\text4\terrors=remount-ro\t0 1\n"
                "tmpfs /tmp tmpfs defaults 0 0\n")
    stats, tasks = run_role(image, tmp_path)
    with open(fstab) as f:
        assert f.read() == ("# static file system information\n"
                            "UUID=1234\t/\text4\terrors=remount-ro,_netdev\t0 1\n"
                            "tmpfs /tmp tmpfs defaults 0 0\n")
    assert tasks["Configure the initramfs for the root on iSCSI"]["rebuilt"] == []
    assert run_role(image, tmp_path)[0]["changed"] == 0


def test_missing_initramfs_is_rebuilt_without_file_changes(image, tmp_path):
    initrd = os.path.join(image, "boot/initrd.img-%s" % version(image))
    os.unlink(initrd)
    stats, tasks = run_role(image, tmp_path)
    assert tasks["Configure the initramfs for the root on iSCSI"]["rebuilt"] == [version(image)]
    assert tasks["Configure the initramfs for the root on iSCSI"]["files"] == []
    assert os.path.exists(initrd)


def test_image_without_kernel_is_refused_before_any_change(tmp_path):
    bare = tmp_path / "bare"
    for rel in ("usr/sbin/update-initramfs", "usr/share/initramfs-tools/hooks/iscsi",
                "usr/sbin/iscsistart", "etc/iscsi/initiatorname.iscsi"):
        (bare / rel).parent.mkdir(parents=True, exist_ok=True)
        (bare / rel).write_text("InitiatorName=iqn.2024-01.lab.sanboot:x\n")
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-m",
            "sanboot.lab.initramfs_iscsi", "-a", json.dumps(dict(
                root=str(bare), target=TARGET, portals=["198.51.100.10"]))]
    proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "no kernel in %s" % bare in proc.stdout
    assert not (bare / "etc/iscsi/iscsi.initramfs").exists()
