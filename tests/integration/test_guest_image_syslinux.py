# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/guest_image with ``guest_image_disk_bootloader: syslinux``: a disk that a BIOS boots whole.

The role runs on localhost with a private cache directory (removed afterwards) seeded with a copy
of the project's cached guest base root (``_images.py``; built once, 2-3 min, when missing), so it
writes its instance and disk there and never into the shared cache.  The test reads the disk's
layout (MBR code, partition table, the FAT32 boot partition through mtools), re-runs the role
(nothing changes), asks in check mode whether a changed command line or boot partition size would
rebuild the disk, and boots the disk in QEMU (TCG, no network, ``-snapshot``: the disk file stays
as written) until systemd reports the multi-user target on the serial console.

Measured here (2 shared cores): build ~30 s, re-run ~8 s, SYSLINUX -> kernel ~7 s, multi-user
~45-60 s after QEMU starts (with systemd-networkd-wait-online masked: the guest has no NIC).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from _ansible import ansible_env, command, run_json  # noqa: E402  pylint: disable=wrong-import-order
from _images import cached_guest_root  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

NAME = "syslinux-test"
BOOT_MIB, DISK_MIB = 64, 2048
MBR = "/usr/lib/syslinux/mbr/mbr.bin"
EXTRA = ["console=ttyS0", "systemd.mask=systemd-networkd-wait-online.service"]
BOOT_TIMEOUT = 300
MTOOLS = dict(os.environ, MTOOLS_SKIP_CHECK="1")


def run_role(cache, check=False, **extra):
    """Apply roles/guest_image on localhost; return ``(recap stats, guest_image_result)``."""
    role_vars = dict(guest_image_name=NAME, guest_image_cache_dir=cache, guest_image_iscsi_root=False,
                     guest_image_disk_bootloader="syslinux", guest_image_boot_size_mib=BOOT_MIB,
                     guest_image_disk_size_mib=DISK_MIB, guest_image_authorized_keys=[],
                     guest_image_kernel_cmdline_extra=EXTRA)
    role_vars.update(extra)
    play = [{"name": "Build the syslinux guest image", "hosts": "localhost", "connection": "local",
             "gather_facts": False,
             "vars": dict(role_vars, ansible_python_interpreter="{{ ansible_playbook_python }}"),
             "tasks": [{"name": "Image", "ansible.builtin.include_role": {"name": "sanboot.lab.guest_image"}},
                       {"name": "Result", "ansible.builtin.debug": {"var": "guest_image_result"}}]}]
    argv = [command("ansible-playbook"), "-i", "localhost,", "/dev/stdin"] + (["--check"] if check else [])
    proc, out = run_json(argv, env=ansible_env(), input=json.dumps(play))
    assert proc.returncode == 0 and out, (json.dumps(out, indent=1)[-6000:] if out else proc.stdout[-6000:]) \
        + proc.stderr[-2000:]
    return out["stats"]["localhost"], out["plays"][0]["tasks"][-1]["hosts"]["localhost"]["guest_image_result"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private guest_image cache holding a copy of the cached base root under its key."""
    base = cached_guest_root()
    root = tmp_path_factory.mktemp("syslinux-cache")
    key_dir = root / "guest" / os.path.basename(os.path.dirname(base))
    key_dir.mkdir(parents=True)
    subprocess.run(["cp", "-a", "--reflink=auto", base, str(key_dir / "rootfs")], check=True)
    yield str(root)
    shutil.rmtree(str(root), ignore_errors=True)


@pytest.fixture(scope="module")
def image(cache):
    stats, result = run_role(cache)
    assert result["disk_rebuilt"] is True, result
    return result


def mtools(tool, disk, *args):
    """Run an mtools command on the boot partition (1 MiB into the disk file); return stdout."""
    proc = subprocess.run([tool, "-i", disk + "@@1M"] + list(args), env=MTOOLS, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_result_names_the_layout(image):
    assert image["bootloader"] == "syslinux"
    assert image["boot_partition"] == 1 and image["root_partition"] == 2
    assert image["partitioned"] is True
    assert image["kernel_cmdline"] == ["root=UUID=" + image["root_uuid"], "ro"] + EXTRA


def test_disk_layout(image):
    disk = image["disk"]
    assert os.path.getsize(disk) == DISK_MIB * 1024 * 1024
    with open(disk, "rb") as f, open(MBR, "rb") as m:
        assert f.read(440) == m.read()
    table = json.loads(subprocess.run(["sfdisk", "--json", disk], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    assert table["label"] == "dos"
    boot, root = table["partitions"]
    assert (boot["start"], boot["size"], boot["type"], boot.get("bootable")) == (2048, BOOT_MIB * 2048, "c", True)
    assert root["start"] == (1 + BOOT_MIB) * 2048 and root["type"] == "83"
    assert root["start"] + root["size"] == DISK_MIB * 2048
    # The root file system (label, UUID) starts at partition 2.
    with open(disk, "rb") as f:
        f.seek(root["start"] * 512 + 1024)
        sb = f.read(1024)
    assert sb[0x38:0x3A] == b"\x53\xef"
    assert sb[0x68:0x78].hex() == image["root_uuid"].replace("-", "")


def test_boot_partition_holds_syslinux_kernel_and_initrd(image):
    disk = image["disk"]
    listing = mtools("mdir", disk, "-a", "-b", "::").decode().split()
    assert sorted(p.rsplit("/", 1)[-1].lower() for p in listing) == [
        "initrd.img", "ldlinux.c32", "ldlinux.sys", "syslinux.cfg", "vmlinuz"]
    for name, src in (("vmlinuz", image["kernel"]), ("initrd.img", image["initrd"])):
        with open(src, "rb") as f:
            assert mtools("mtype", disk, "::" + name) == f.read(), name
    assert mtools("mtype", disk, "::syslinux.cfg").decode().split("\n") == [
        "SERIAL 0 115200", "DEFAULT linux", "PROMPT 0", "TIMEOUT 0", "LABEL linux", "  KERNEL vmlinuz",
        "  INITRD initrd.img", "  APPEND " + " ".join(image["kernel_cmdline"]), ""]


def test_rerun_changes_nothing(cache, image):
    before = os.stat(image["disk"]).st_mtime_ns
    stats, result = run_role(cache)
    assert stats["changed"] == 0 and result["disk_rebuilt"] is False, (stats, result)
    assert os.stat(image["disk"]).st_mtime_ns == before
    # the re-run published the recorded build (guest_image_reuse) with the same result
    assert result["reused"] is True and image["reused"] is False, result
    assert dict(result, reused=False) == dict(image, disk_rebuilt=False)


def test_touched_output_builds_again(cache, image):
    """A disk whose modification time differs from the record is checked again (and kept: same content)."""
    disk = image["disk"]
    st = os.stat(disk)
    os.utime(disk, ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))
    try:
        stats, result = run_role(cache)
        assert result["reused"] is False and result["disk_rebuilt"] is False, (stats, result)
        stats, result = run_role(cache)
        assert result["reused"] is True, (stats, result)
    finally:
        os.utime(disk, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("change", [{"guest_image_kernel_cmdline_extra": ["console=ttyS0"]},
                                    {"guest_image_boot_size_mib": BOOT_MIB + 1}], ids=["cmdline", "boot-size"])
def test_changed_input_rebuilds_the_disk(cache, image, change):
    """In check mode: the stamp covers the command line and the boot partition size."""
    stats, result = run_role(cache, check=True, **change)
    assert result["disk_rebuilt"] is True, (stats, result)


def test_bios_boots_the_whole_disk(image, tmp_path):
    console = tmp_path / "console.log"
    argv = ["qemu-system-x86_64", "-name", "sanboot-syslinux-test", "-machine", "pc", "-accel", "tcg",
            "-smp", "1", "-m", "512", "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
            "-snapshot", "-no-reboot", "-drive", "file=%s,if=virtio,format=raw" % image["disk"],
            "-serial", "file:%s" % console]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    text, reached = "", None
    try:
        while time.monotonic() - started < BOOT_TIMEOUT and proc.poll() is None:
            text = console.read_text(errors="replace") if console.exists() else ""
            if re.search(r"Reached target [^\n]*multi-user\.target", text):
                reached = time.monotonic() - started
                break
            time.sleep(1)
    finally:
        proc.kill()
        proc.wait()
    assert reached is not None, "no multi-user.target after %d s (QEMU rc %s)\n%s" % (
        BOOT_TIMEOUT, proc.returncode, text[-6000:])
    assert "SYSLINUX" in text
    assert "EXT4-fs (vda2): mounted filesystem" in text
    print("syslinux disk: multi-user.target %.0f s after QEMU started" % reached)
