# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway tgtd for integration tests: start on a control port + loopback portal, stop by PID.

Stop as lab-facts.md says: tgtd ignores SIGTERM; set every target offline, delete them
(``--force``), then ``tgtadm --op delete --mode system`` and wait for the PID (SIGKILL to that PID
only as a last resort).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time


class Tgtd(object):
    def __init__(self, control_port, portal, extra_args=()):
        self.control_port, self.portal, self.proc = str(control_port), portal, None
        self.extra_args = list(extra_args)      # e.g. ["-t", "4"] (--nr_iothreads)

    def tgtadm(self, *args, check=True):
        return subprocess.run(["tgtadm", "-C", self.control_port] + list(args), check=check,
                              capture_output=True, text=True)

    def start(self):
        self.proc = subprocess.Popen(["/usr/sbin/tgtd", "-f", "-C", self.control_port, *self.extra_args,
                                      "--iscsi", "portal=%s" % self.portal], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        while self.tgtadm("--op", "show", "--mode", "sys", check=False).returncode != 0:
            if self.proc.poll() is not None:
                raise RuntimeError("tgtd -C %s exited with %s" % (self.control_port,
                                                                  self.proc.returncode))
            time.sleep(0.1)
        return self

    def tids(self):
        out = self.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target", check=False).stdout
        return [int(t) for t in re.findall(r"^Target (\d+):", out, re.M)]

    def show(self):
        return self.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target").stdout

    def stop(self):
        if self.proc is None:
            return
        self.tgtadm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline",
                    check=False)
        for tid in self.tids():
            self.tgtadm("--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", str(tid),
                        "--force", check=False)
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.tgtadm("--op", "delete", "--mode", "system", check=False)
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def open_qemu_io(portal, target, initiator, chap):
    """qemu-io logged in to LUN 1 of ``target`` with CHAP (``chap``: username, password), reading
    commands from its stdin; returned once the first read answered (so the session is up)."""
    opts = "driver=iscsi,transport=tcp,portal=%s,target=%s,lun=1,initiator-name=%s" % (portal, target, initiator)
    proc = subprocess.Popen(["qemu-io", "--object", "secret,id=s0,data=%s" % chap["password"],
                             "--image-opts", opts + ",user=%s,password-secret=s0" % chap["username"]],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        proc.stdin.write("read 0 512\n")
        proc.stdin.flush()
        line = ""
        while "read 512/512" not in line:   # logged in once the first read answered
            line = proc.stdout.readline()
            assert line, "qemu-io ended before logging in"
    except BaseException:
        close_qemu_io(proc)
        raise
    return proc


def close_qemu_io(proc):
    """End a qemu-io of ``open_qemu_io``: close its stdin, wait 30 s, then SIGKILL to its PID."""
    proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def qemu_io_session(portal, target, initiator, chap):
    """An iSCSI session held open by ``open_qemu_io`` for the ``with`` block; yields the process."""
    proc = open_qemu_io(portal, target, initiator, chap)
    try:
        yield proc
    finally:
        close_qemu_io(proc)
