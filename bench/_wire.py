# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two network namespaces joined by one veth pair, and the daemons of ``datapath_wire`` in them.

:func:`link` makes ``sbwire-t`` (target) and ``sbwire-c`` (client) with ``sbwire-tv`` /
``sbwire-cv`` (198.51.100.249/30 and .250, lab-only addresses that never leave the namespaces), an
MTU and optionally a tbf shaper on both ends; both namespaces are deleted afterwards, also on
failure.  :class:`Daemon` starts one process in the target namespace and stops it by PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

from bench import _common

NS_T, NS_C = "sbwire-t", "sbwire-c"
DEV_T, DEV_C = "sbwire-tv", "sbwire-cv"
ADDR_T, ADDR_C = "198.51.100.249", "198.51.100.250"
TIMEOUT = 20


def sh(*argv, timeout=TIMEOUT, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=timeout)


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + list(argv)


def cleanup():
    for ns in (NS_T, NS_C):
        sh("ip", "netns", "del", ns, check=False)


def shape(rate):
    """tbf at ``rate`` (e.g. ``1gbit``) on the egress of both veth ends; the burst holds a GSO frame."""
    for ns, dev in ((NS_T, DEV_T), (NS_C, DEV_C)):
        sh("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate,
           "burst", "256kb", "latency", "10ms")


@contextlib.contextmanager
def link(mtu, rate=None):
    """The two namespaces and the veth pair for the ``with`` block (deleted after it)."""
    cleanup()
    try:
        sh("ip", "netns", "add", NS_T)
        sh("ip", "netns", "add", NS_C)
        sh("ip", "link", "add", DEV_T, "netns", NS_T, "mtu", str(mtu), "type", "veth",
           "peer", "name", DEV_C, "netns", NS_C, "mtu", str(mtu))
        for ns, dev, addr in ((NS_T, DEV_T, ADDR_T), (NS_C, DEV_C, ADDR_C)):
            sh("ip", "-n", ns, "addr", "add", addr + "/30", "dev", dev)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        if rate:
            shape(rate)
        sh("ip", "netns", "exec", NS_C, "ping", "-c", "1", "-W", "2", ADDR_T)
        yield
    finally:
        cleanup()


def cpu_seconds(pid):
    """utime + stime of process ``pid`` (all its threads), in seconds; None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Daemon(object):
    """``argv`` run in the target namespace in its own session; :meth:`stop` by PID (SIGTERM,
    then SIGKILL to that PID after 10 s); ``ready(daemon)`` is polled until true (20 s)."""

    def __init__(self, argv, ready=None):
        self.argv, self.ready, self.proc = argv, ready, None

    def start(self):
        self.proc = subprocess.Popen(in_ns(NS_T, self.argv), stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + TIMEOUT
        while self.ready is not None and not self.ready(self):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not come up" % " ".join(self.argv))
            time.sleep(0.1)
        return self

    def cpu(self):
        return cpu_seconds(self.proc.pid) if self.proc else None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class NsTgtd(_common.tgtd_class()):
    """The integration tests' tgtd (control port, stop by PID) started in the target namespace,
    optionally with ``--nr_iothreads``; the control socket is a file, so tgtadm runs outside."""

    def __init__(self, control_port, portal, iothreads=None):
        super().__init__(control_port, portal)
        self.iothreads = iothreads

    def start(self):
        argv = ["/usr/sbin/tgtd", "-f", "-C", self.control_port, "--iscsi", "portal=%s" % self.portal]
        argv += ["--nr_iothreads", str(self.iothreads)] if self.iothreads else []
        self.proc = subprocess.Popen(in_ns(NS_T, argv), stdout=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + TIMEOUT
        while self.tgtadm("--op", "show", "--mode", "sys", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("tgtd -C %s did not come up" % self.control_port)
            time.sleep(0.1)
        return self

    def tgtadm(self, *args, check=True):
        return subprocess.run(["tgtadm", "-C", self.control_port] + list(args), check=check,
                              capture_output=True, text=True, timeout=TIMEOUT)

    def cpu(self):
        return cpu_seconds(self.proc.pid) if self.proc else None
