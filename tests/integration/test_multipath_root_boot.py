# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Debian guest boots with its root file system on a dm-multipath map over both storage networks.

    host                                               QEMU guest (TCG, 768 MiB, net.ifnames=0)
    tgtd -C 67, one LUN (ext4 "guestroot")
      198.51.100.1:3267   sanbr0 --- sbh11mp0 --- eth0 198.51.100.70  (ip=, local-top/iscsi)
      198.51.100.129:3267 sanbr1 --- sbh11mp1 --- eth1 198.51.100.198 (sanboot_iscsi_multipath)
                                                  two sessions -> sda, sdb -> /dev/mapper/sanroot = /

1. A copy of roles/guest_image's cached base root gets the role debian_iscsi_root with
   ``debian_iscsi_root_multipath: true`` through the community.general.chroot connection (apt
   installs multipath-tools-boot inside the copy, update-initramfs runs there), CHAP included; a
   second run changes nothing.
2. ``mkfs.ext4 -d`` makes the LUN file from the directory (no loop device); a host tgtd exports
   it on both portals; QEMU boots the image's kernel and initramfs with two virtio NICs.
3. A oneshot unit in the image writes ``multipath -ll``, ``findmnt /`` and ``iscsiadm -m session``
   to the serial console (the evidence the test reads), then the test takes path A's tap down: the
   guest sees the path fail, writes and syncs a file through the remaining path; the tap comes
   back and the guest waits for two active paths again, prints them and powers off.

Cleanup (also on failure): QEMU (by PID), the two taps, tgtd, the /proc bind mount, the copy.
About 6-10 minutes under TCG on a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from _ansible import ansible_env  # noqa: E402  pylint: disable=wrong-import-order
from _images import cached_guest_root  # noqa: E402  pylint: disable=wrong-import-order
from _tgtd import Tgtd  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QEMU = "qemu-system-x86_64"
CONTROL, PORT = 67, 3267
TARGET = "iqn.2024-01.lab.sanboot.test:mproot"
INITIATOR = "iqn.2024-01.lab.sanboot.test:mproot-guest"
CHAP = {"username": "mproot", "password": "mproot-chap-secret"}
ALIAS = "sanroot"
# tgt 1.0.85 (usr/spc.c update_vpd_83): the NAA 6 designator is the right-adjusted hex of the
# LU's scsi_id "IET     000T000L" (non-hex characters count 0; E is hex): tid 1, LUN 1.
WWID = "360000000000000000e00000000010001"
# (host portal, guest address, host tap, bridge, guest MAC)
PATHS = (("198.51.100.1", "198.51.100.70", "sbh11mp0", "sanbr0", "52:54:00:11:0b:46"),
         ("198.51.100.129", "198.51.100.198", "sbh11mp1", "sanbr1", "52:54:00:11:0b:c6"))
LUN_MIB = 2048

PROOF = r"""#!/bin/sh
# sanboot.lab test: evidence of the multipath root on the serial console, then power off.
exec > /dev/ttyS0 2>&1
WWID=%(wwid)s
active() { multipathd show paths raw format "%%w %%t %%T" 2>/dev/null | grep -c "^$WWID active ready"; }
failed() { multipathd show paths raw format "%%w %%t" 2>/dev/null | grep -c "^$WWID failed"; }
wait_for() { n=0; while [ "$n" -lt "$2" ]; do [ "$($1)" -ge "$3" ] && return 0; sleep 1; n=$((n + 1)); done; return 1; }
wait_for active 120 2
sleep 10
wait_for active 120 2
echo "SBMP iscsid=$(systemctl is-active iscsid) multipathd=$(systemctl is-active multipathd)"
echo "SBMP BEGIN-EVIDENCE"
multipath -ll
findmnt -o TARGET,SOURCE,FSTYPE,OPTIONS /
iscsiadm -m session
for s in /sys/class/iscsi_session/session*; do echo "$s recovery_tmo=$(cat $s/recovery_tmo)"; done
echo "SBMP END-EVIDENCE active=$(active)"
echo "SBMP STAGE1"
wait_for failed 150 1
echo "SBMP PATH-DOWN failed=$(failed) active=$(active)"
multipath -ll
echo "written while one path was down, $(date -u +%%s)" > /root/sbmp-failover.txt && sync && echo "SBMP WROTE rc=$?"
echo "SBMP STAGE2"
wait_for active 240 2
echo "SBMP BEGIN-AFTER"
multipath -ll
cat /root/sbmp-failover.txt
echo "SBMP END-AFTER active=$(active)"
sync
systemctl poweroff -ff
"""

UNIT = """[Unit]
Description=sanboot.lab test: multipath root evidence on the serial console
After=multi-user.target multipathd.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/sbmp-proof
[Install]
WantedBy=multi-user.target
"""


def sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


def run_role(image, tmp_path, update_cache=True):
    """Apply roles/debian_iscsi_root with multipath to ``image`` (chroot connection); return
    ``(recap stats, {task name: result})``."""
    role_vars = dict(debian_iscsi_root_target=TARGET, debian_iscsi_root_portals=[p[0] for p in PATHS],
                     debian_iscsi_root_port=PORT, debian_iscsi_root_initiator_name=INITIATOR,
                     debian_iscsi_root_chap=CHAP, debian_iscsi_root_update_cache=update_cache,
                     debian_iscsi_root_boot_interface="eth0",
                     debian_iscsi_root_ip={"address": PATHS[0][1] + "/25", "hostname": "mproot"},
                     debian_iscsi_root_multipath=True, debian_iscsi_root_multipath_alias=ALIAS,
                     debian_iscsi_root_multipath_wwid=WWID,
                     debian_iscsi_root_multipath_interfaces=[{"interface": "eth1", "address": PATHS[1][1] + "/25"}])
    play = [{"hosts": "image", "gather_facts": False,
             "roles": [{"role": "sanboot.lab.debian_iscsi_root", "vars": role_vars}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    (tmp_path / "inventory.json").write_text(json.dumps({"all": {"hosts": {"image": {
        "ansible_host": image, "ansible_connection": "community.general.chroot",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
            str(tmp_path / "inventory.json"), str(tmp_path / "play.yml")]
    proc = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False,
                          timeout=1200)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    return out["stats"]["image"], {t["task"]["name"].split(" : ", 1)[-1]: t["hosts"]["image"]
                                   for p in out["plays"] for t in p["tasks"]}


def build_image(tmp_path):
    """The image directory with the role applied and the proof unit; the LUN file made from it."""
    image = str(tmp_path / "root")
    subprocess.run(["cp", "-a", cached_guest_root(), image], check=True)
    os.makedirs(os.path.join(image, "usr/local/sbin"), exist_ok=True)
    with open(os.path.join(image, "usr/local/sbin/sbmp-proof"), "w") as f:
        f.write(PROOF % {"wwid": WWID})
    os.chmod(os.path.join(image, "usr/local/sbin/sbmp-proof"), 0o755)
    with open(os.path.join(image, "etc/systemd/system/sbmp-proof.service"), "w") as f:
        f.write(UNIT)
    os.symlink("/etc/systemd/system/sbmp-proof.service",
               os.path.join(image, "etc/systemd/system/multi-user.target.wants/sbmp-proof.service"))
    # No login prompt on the serial console: agetty's vhangup() of ttyS0 can land after the proof
    # opened it and swallow everything it writes (a CI run on a loaded machine saw the unit start,
    # run its 150 s wait and power off, with not one line of its output on the console).
    os.symlink("/dev/null", os.path.join(image, "etc/systemd/system/serial-getty@ttyS0.service"))
    proc_dir = os.path.join(image, "proc")
    subprocess.run(["mount", "-t", "proc", "proc", proc_dir], check=True)
    try:
        tasks = run_role(image, tmp_path)[1]
        stats, again = run_role(image, tmp_path, update_cache=False)
        assert stats["changed"] == 0, {k: v for k, v in again.items() if v.get("changed")}
    finally:
        subprocess.run(["umount", proc_dir], check=False)
    result = tasks["Configure the initramfs for the root on iSCSI"]
    version = result["kernels"][0]["version"]
    lun = str(tmp_path / "lun1.img")
    sh("mkfs.ext4", "-q", "-F", "-d", image, "-L", "guestroot", lun, "%dM" % LUN_MIB)
    return image, lun, version, tasks


class Rig(object):
    def __init__(self, workdir):
        self.workdir, self.tgtd, self.qemu, self.taps = workdir, None, None, []
        self.console = os.path.join(workdir, "console.log")

    def start_target(self, lun):
        portals = ["%s:%d" % (p[0], PORT) for p in PATHS]
        self.tgtd = Tgtd(CONTROL, portals[0]).start()
        t = self.tgtd.tgtadm
        t("--lld", "iscsi", "--op", "new", "--mode", "portal", "--param", "portal=%s" % portals[1])
        t("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET)
        t("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", lun)
        for p in PATHS:
            t("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", p[1])
        t("--lld", "iscsi", "--op", "new", "--mode", "account", "--user", CHAP["username"],
          "--password", CHAP["password"])
        t("--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "1", "--user", CHAP["username"])

    def start_vm(self, image, version, cmdline):
        for _portal, _guest, tap, bridge, _mac in PATHS:
            sh("ip", "tuntap", "add", "dev", tap, "mode", "tap")
            self.taps.append(tap)
            sh("ip", "link", "set", "dev", tap, "master", bridge, "up")
        argv = [QEMU, "-name", "sbh11-mproot", "-machine", "pc", "-accel", "tcg", "-smp", "1", "-m", "768",
                "-nodefaults", "-no-user-config", "-display", "none", "-serial", "file:%s" % self.console,
                "-kernel", os.path.join(image, "boot/vmlinuz-%s" % version),
                "-initrd", os.path.join(image, "boot/initrd.img-%s" % version),
                "-append", " ".join(cmdline), "-no-reboot"]
        for i, (_portal, _guest, tap, _bridge, mac) in enumerate(PATHS):
            argv += ["-netdev", "tap,id=n%d,ifname=%s,script=no,downscript=no" % (i, tap),
                     "-device", "virtio-net-pci,netdev=n%d,mac=%s" % (i, mac)]
        self.qemu = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(
            os.path.join(self.workdir, "qemu.err"), "w"), start_new_session=True)

    def text(self):
        """The console so far, without terminal colour sequences."""
        try:
            with open(self.console, errors="replace") as f:
                return re.sub(r"\x1b\[[0-9;]*m", "", f.read())
        except FileNotFoundError:
            return ""

    def wait_for(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.text():
            if self.qemu.poll() is not None:
                raise AssertionError("QEMU exited (%s) before %r:\n%s" % (self.qemu.returncode, marker,
                                                                          self.text()[-6000:]))
            if time.monotonic() > deadline:
                raise AssertionError("no %r on the console within %d s:\n%s" % (marker, timeout, self.text()[-6000:]))
            time.sleep(2)
        return self.text()

    def cleanup(self):
        if self.qemu is not None and self.qemu.poll() is None:
            os.kill(self.qemu.pid, signal.SIGTERM)
            try:
                self.qemu.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.qemu.pid, signal.SIGKILL)
                self.qemu.wait()
        for tap in self.taps:
            sh("ip", "link", "del", "dev", tap, check=False)
        if self.tgtd is not None:
            self.tgtd.stop()


def between(text, start, end):
    return text[text.index(start) + len(start):text.index(end, text.index(start))]


@pytest.fixture
def rig(tmp_path):
    if shutil.which(QEMU) is None:
        pytest.skip("%s is not installed (the guest boots under TCG; /dev/kvm is not needed)" % QEMU)
    bed = Rig(str(tmp_path))
    try:
        yield bed
    finally:
        bed.cleanup()
        shutil.rmtree(str(tmp_path / "root"), ignore_errors=True)


def test_root_on_multipath_over_both_networks_survives_a_path_failure(rig, tmp_path):
    started = time.monotonic()
    image, lun, version, tasks = build_image(tmp_path)
    built = time.monotonic() - started
    files = tasks["Configure the initramfs for the root on iSCSI"]["files"]
    for rel in ("etc/multipath.conf", "etc/multipath/wwids",
                "etc/initramfs-tools/scripts/local-top/sanboot_iscsi_multipath"):
        assert "/" + rel in files, files
    cmdline = tasks["Publish the kernel command line the boot loader or hypervisor must pass"][
        "ansible_facts"]["debian_iscsi_root_kernel_cmdline"]
    assert "root=/dev/mapper/%s" % ALIAS in cmdline, cmdline
    with open(os.path.join(image, "etc/fstab")) as f:
        assert "/dev/mapper/%s / ext4 defaults,_netdev 0 1\n" % ALIAS in f.read()

    rig.start_target(lun)
    rig.start_vm(image, version, cmdline + ["console=ttyS0", "net.ifnames=0", "panic=-1"])
    booted = time.monotonic()
    text = rig.wait_for("SBMP STAGE1", timeout=900)
    boot_s = time.monotonic() - booted
    evidence = between(text, "SBMP BEGIN-EVIDENCE", "SBMP END-EVIDENCE")
    print("booted in %.0f s (image built in %.0f s); evidence:%s" % (boot_s, built, evidence))
    assert re.search(r"^%s \(%s\) dm-\d+ IET,VIRTUAL-DISK" % (ALIAS, WWID), evidence, re.M), evidence
    assert len(re.findall(r"\d+:0:0:1 sd[a-z]+ \d+:\d+ +active ready running", evidence)) == 2, evidence
    assert re.search(r"^/ +/dev/mapper/%s +ext4 " % ALIAS, evidence, re.M), evidence
    for portal, _guest, _tap, _bridge, _mac in PATHS:
        assert "%s:%d,1 %s" % (portal, PORT, TARGET) in evidence, evidence
    assert "END-EVIDENCE active=2" in text
    assert "SBMP iscsid=active multipathd=active" in text, text[-3000:]
    # multipathd wrote fast_io_fail_tmo to each session (the multipath profile's 5 s)
    assert len(re.findall(r"recovery_tmo=5$", evidence, re.M)) == 2, evidence

    # path A (the ip= interface eth0) fails: its tap goes down until the guest has written through B
    subprocess.run(["ip", "link", "set", "dev", PATHS[0][2], "down"], check=True)
    down = time.monotonic()
    try:
        text = rig.wait_for("SBMP STAGE2", timeout=240)
    finally:
        subprocess.run(["ip", "link", "set", "dev", PATHS[0][2], "up"], check=True)
    print("path A down for %.0f s:%s" % (time.monotonic() - down, between(text, "SBMP PATH-DOWN", "SBMP STAGE2")))
    assert "SBMP WROTE rc=0" in text
    text = rig.wait_for("SBMP END-AFTER", timeout=300)
    after = between(text, "SBMP BEGIN-AFTER", "SBMP END-AFTER")
    print("after the tap came back:%s" % after)
    assert "END-AFTER active=2" in text, after
    assert "written while one path was down" in after
    assert len(re.findall(r"sd[a-z]+ \d+:\d+ +active ready running", after)) == 2, after
    # path A's own I/O errors are expected; none may reach the map or the file system
    assert not re.findall(r".*(?:EXT4-fs error|Buffer I/O error|I/O error, dev dm-).*", text), text[-4000:]
    try:
        rig.qemu.wait(timeout=120)
    except subprocess.TimeoutExpired:
        pass
    print("multipath root boot test: %.0f s in all" % (time.monotonic() - started))
