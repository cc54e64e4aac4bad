# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of test_lvm_root.py: build the guest image with the LVM-root settings, boot it in QEMU.

``build_image`` runs roles/guest_image (with debian_iscsi_root applied through the chroot
connection) from the work tree and returns its ``guest_image_result``.  ``Guest`` is a QEMU/TCG VM
booted directly (``-kernel``/``-initrd``) with its NIC on a tap of the lab bridge; it is stopped by
its PID and the tap is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from _ansible import ansible_env, command, run_json  # noqa: E402  pylint: disable=wrong-import-order
from _testbed import SSH_OPTIONS  # noqa: E402  pylint: disable=wrong-import-order


def build_image(role_vars):
    """Apply roles/guest_image on localhost with ``role_vars``; return ``guest_image_result``."""
    play = [{"name": "Build the LVM-root guest image", "hosts": "localhost", "connection": "local",
             "gather_facts": False,
             "vars": dict(role_vars, ansible_python_interpreter="{{ ansible_playbook_python }}"),
             "tasks": [{"name": "Image", "ansible.builtin.include_role": {"name": "sanboot.lab.guest_image"}},
                       {"name": "Result", "ansible.builtin.debug": {"var": "guest_image_result"}}]}]
    proc, out = run_json([command("ansible-playbook"), "-i", "localhost,", "/dev/stdin"],
                         env=ansible_env(), input=json.dumps(play))
    assert proc.returncode == 0 and out, (json.dumps(out, indent=1)[-6000:] if out else proc.stdout[-6000:]) \
        + proc.stderr[-2000:]
    return out["plays"][0]["tasks"][-1]["hosts"]["localhost"]["guest_image_result"]


class Guest(object):
    """A QEMU/TCG guest booted from a kernel + initramfs, NIC on ``tap`` of ``bridge``."""

    def __init__(self, workdir, tap, mac, bridge="sanbr0"):
        self.workdir, self.tap, self.mac, self.bridge = workdir, tap, mac, bridge
        self.console = os.path.join(workdir, "console.log")
        self.proc = None

    def start(self, kernel, initrd, cmdline, memory_mib=512):
        subprocess.run(["ip", "tuntap", "add", "dev", self.tap, "mode", "tap"], check=True)
        subprocess.run(["ip", "link", "set", "dev", self.tap, "master", self.bridge, "up"], check=True)
        argv = ["qemu-system-x86_64", "-name", "sanboot-lvmroot", "-machine", "pc", "-accel", "tcg",
                "-smp", "1", "-m", str(memory_mib), "-nodefaults", "-no-user-config",
                "-display", "none", "-serial", "file:" + self.console, "-no-reboot",
                "-kernel", kernel, "-initrd", initrd,
                "-append", " ".join(list(cmdline) + ["console=ttyS0", "panic=-1"]),
                "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no" % self.tap,
                "-device", "virtio-net-pci,netdev=n0,mac=%s" % self.mac]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        return self

    def console_text(self):
        if not os.path.exists(self.console):
            return ""
        with open(self.console, errors="replace") as f:
            return f.read()

    def wait_ssh(self, host, key, timeout=300):
        """Wait until root logs in over ssh with ``key``; fail (with the console) otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("QEMU exited with %s\n%s"
                                     % (self.proc.returncode, self.console_text()[-6000:]))
            if self.ssh(host, key, "true", timeout=20).returncode == 0:
                return
            time.sleep(3)
        raise AssertionError("no ssh on %s after %d s\n%s" % (host, timeout, self.console_text()[-6000:]))

    @staticmethod
    def ssh(host, key, cmd, timeout=60):
        argv = ["ssh", "-i", key] + SSH_OPTIONS + ["root@%s" % host, cmd]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                                  stdin=subprocess.DEVNULL)  # see conftest._blocking_stdio
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, 255, "", "timeout")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        subprocess.run(["ip", "link", "del", "dev", self.tap], check=False, capture_output=True)
