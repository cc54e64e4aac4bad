# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway vblade on a veth pair inside a network namespace this test creates and deletes
(named ``sbt-<tag>``; its interfaces ``sbt0``/``sbt1`` never touch the host's namespace).
Stopped by its PID."""

from __future__ import annotations

import subprocess
import time


class VbladeNs(object):
    def __init__(self, tag, shelf, slot, path, readonly=False):
        self.ns, self.shelf, self.slot, self.path, self.readonly = "sbt-" + tag, shelf, slot, path, readonly
        self.proc = None

    def start(self):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        for argv in (["link", "add", "sbt0", "type", "veth", "peer", "name", "sbt1"],
                     ["link", "set", "sbt0", "up"], ["link", "set", "sbt1", "up"]):
            subprocess.run(["ip", "-n", self.ns] + argv, check=True)
        argv = ["ip", "netns", "exec", self.ns, "vblade"] + (["-r"] if self.readonly else []) + [
            str(self.shelf), str(self.slot), "sbt0", self.path]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:      # `ip netns exec` execs vblade in the same PID
            with open("/proc/%d/cmdline" % self.proc.pid, "rb") as f:
                if f.read().startswith(b"vblade\0"):
                    return self
            time.sleep(0.05)
        raise RuntimeError("vblade did not start in %s" % self.ns)

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        subprocess.run(["ip", "netns", "del", self.ns], check=False)
