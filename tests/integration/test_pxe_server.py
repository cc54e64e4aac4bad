# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pxe_server against a real dnsmasq, a real DHCP client (busybox udhcpc) and a real TFTP client
(curl), in network namespaces this file creates and deletes.

Layout (created here, removed at the end even on failure):

    netns sbpxe-s: sbpxe-s0 198.51.100.130/25   <- the module runs here, then dnsmasq (user nobody)
    netns sbpxe-c: sbpxe-c0 (MAC set per host)  <- udhcpc and curl run here

The TFTP root and dnsmasq's files live in a directory of /tmp made here (mode 0755: dnsmasq
drops to ``nobody`` and must reach them).  Only the dnsmasq this file started is stopped (by pid).
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

NS_S, NS_C, IF_S, IF_C = "sbpxe-s", "sbpxe-c", "sbpxe-s0", "sbpxe-c0"
SERVER, NET = "198.51.100.130", "198.51.100.128/25"
SECRET = "pxe-test-chap-secret"
HOSTS = {  # hostname: (mac, ip, boot entry)
    "guest2": ("02:5b:00:00:10:02", "198.51.100.142", "san"),
    "guest3": ("02:5b:00:00:10:03", "198.51.100.143", "kern"),
    "guest4": ("02:5b:00:00:10:04", "198.51.100.144", "aoe"),
}
LOADERS = ("undionly.kpxe", "pxelinux.0", "ldlinux.c32")
NOBODY = pwd.getpwnam("nobody")


def sh(*argv, **kw):
    return subprocess.run(argv, check=kw.pop("check", True), capture_output=True, text=True, **kw)


class Pxe(object):
    def __init__(self, base):
        self.base = base
        self.root = os.path.join(base, "tftp")
        self.conf = os.path.join(base, "etc", "sanboot-pxe.conf")
        self.proc = None
        self.log = os.path.join(base, "dnsmasq.log")
        self.python = os.path.join(base, "python-in-ns")

    def args(self, generations=("g1",), **kw):
        a = dict(
            config_path=self.conf, tftp_root=self.root, tftp_user="nobody", log_dhcp=True,
            allowed_networks=[NET],
            networks=[dict(interface=IF_S, cidr=NET, range_start="198.51.100.200", range_end="198.51.100.210")],
            hosts=[dict(mac=m, ip=ip, hostname=h, boot=b) for h, (m, ip, b) in sorted(HOSTS.items())],
            boot_entries=[
                dict(name="san", type="ipxe_sanboot_iscsi", target="iqn.2024-01.lab.sanboot:guest2",
                     portal="198.51.100.10", initiator="iqn.2024-01.lab.sanboot:guest2-boot",
                     chap=dict(username="guest2", password=SECRET)),
                dict(name="kern", type="kernel", kernel="images/current/vmlinuz",
                     initrd=["images/current/initrd.img"], cmdline="root=/dev/etherd/e7.1 ro"),
                dict(name="aoe", type="ipxe_sanboot_aoe", shelf=7, slot=1)],
            generations=[dict(name=g, files={n: os.path.join(self.base, "build", g, n) for n in ("vmlinuz", "initrd.img")})
                         for g in generations])
        a.update(kw)
        return a

    def module(self, args, check=False):
        work = tempfile.mkdtemp(dir=self.base)
        return run_module("pxe_server", dict(args, _ansible_diff=True), work, python=self.python, check_mode=check)

    def start(self):
        argv = ["ip", "netns", "exec", NS_S, "dnsmasq", "-k", "-C", self.conf, "--user=nobody", "--group=nogroup",
                "--log-facility=-", "--pid-file=" + os.path.join(self.base, "dnsmasq.pid"),
                "--dhcp-leasefile=" + os.path.join(self.base, "leases")]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(self.log) as f:
                if "TFTP root is" in f.read():
                    return
            assert self.proc.poll() is None, open(self.log).read()
            time.sleep(0.05)
        raise AssertionError("dnsmasq did not start:\n" + open(self.log).read())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)       # `ip netns exec` execs dnsmasq in this pid
            self.proc.wait(timeout=10)

    def lease(self, mac, ipxe=False):
        """Environment udhcpc handed to its script on ``bound``, as a PXE ROM or as iPXE would ask."""
        out = os.path.join(self.base, "lease.env")
        if os.path.exists(out):
            os.unlink(out)
        sh("ip", "-n", NS_C, "link", "set", IF_C, "down")
        sh("ip", "-n", NS_C, "addr", "flush", "dev", IF_C)
        sh("ip", "-n", NS_C, "link", "set", IF_C, "address", mac, "up")
        argv = ["ip", "netns", "exec", NS_C, "busybox", "udhcpc", "-i", IF_C, "-f", "-q", "-n", "-t", "5",
                "-T", "2", "-A", "1", "-s", os.path.join(self.base, "udhcpc.sh")]
        if ipxe == "userclass":
            argv += ["-x", "0x4d:69505845"]             # option 77, user class "iPXE" only
        elif ipxe:
            argv += ["-x", "0xaf:130101"]               # option 175 (iPXE's encapsulated options)
        proc = sh(*argv, check=False, timeout=20, env=dict(os.environ, SBPXE_OUT=out))
        assert proc.returncode == 0 and os.path.exists(out), proc.stdout + proc.stderr
        with open(out) as f:
            return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)

    def tftp(self, rel):
        """``(curl rc, bytes)`` of ``rel`` fetched over TFTP from the client namespace."""
        dest = os.path.join(self.base, "fetched")
        if os.path.exists(dest):
            os.unlink(dest)
        proc = sh("ip", "netns", "exec", NS_C, "curl", "-sS", "--max-time", "10", "-o", dest,
                  "tftp://%s/%s" % (SERVER, rel), check=False, timeout=20)
        data = open(dest, "rb").read() if os.path.exists(dest) else None
        return proc.returncode, data

    def file(self, rel):
        with open(os.path.join(self.root, rel), "rb") as f:
            return f.read()


@pytest.fixture(scope="module")
def pxe():
    assert os.geteuid() == 0, "the PXE integration test needs root (network namespaces, dnsmasq)"
    for tool in ("dnsmasq", "busybox", "curl", "ip"):
        assert shutil.which(tool), "%s is not installed (make deps installs Makefile APT_PACKAGES)" % tool
    base = tempfile.mkdtemp(prefix="sbpxe-", dir="/tmp")
    os.chmod(base, 0o755)
    p = Pxe(base)
    os.makedirs(os.path.join(base, "etc"))
    os.makedirs(p.root)
    for name in LOADERS:
        with open(os.path.join(p.root, name), "wb") as f:
            f.write(b"loader %s\n" % name.encode() + os.urandom(3000))
        os.chown(os.path.join(p.root, name), NOBODY.pw_uid, NOBODY.pw_gid)
    for gen in ("g1", "g2"):
        os.makedirs(os.path.join(base, "build", gen))
        for name, size in (("vmlinuz", 150000), ("initrd.img", 90000)):
            with open(os.path.join(base, "build", gen, name), "wb") as f:
                f.write(os.urandom(size))
    with open(os.path.join(base, "udhcpc.sh"), "w") as f:
        f.write('#!/bin/sh\n[ "$1" = bound ] && env > "$SBPXE_OUT"\nexit 0\n')
    with open(p.python, "w") as f:
        f.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (NS_S, sys.executable))
    os.chmod(os.path.join(base, "udhcpc.sh"), 0o755)
    os.chmod(p.python, 0o755)
    try:
        sh("ip", "netns", "add", NS_S)
        sh("ip", "netns", "add", NS_C)
        sh("ip", "link", "add", IF_S, "netns", NS_S, "type", "veth", "peer", "name", IF_C, "netns", NS_C)
        sh("ip", "-n", NS_S, "addr", "add", SERVER + "/25", "dev", IF_S)
        for ns, link in ((NS_S, IF_S), (NS_S, "lo"), (NS_C, IF_C), (NS_C, "lo")):
            sh("ip", "-n", ns, "link", "set", link, "up")
        yield p
    finally:
        p.stop()
        for ns in (NS_C, NS_S):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_pxe_server_end_to_end(pxe):
    # check mode plans everything (dnsmasq --test included) and writes nothing
    result = pxe.module(pxe.args(), check=True)
    assert not result.get("failed"), result
    assert result["changed"] and result["restart_needed"] and not os.path.exists(pxe.conf)
    assert sorted(os.listdir(pxe.root)) == sorted(LOADERS)

    result = pxe.module(pxe.args())
    assert not result.get("failed"), result
    assert result["changed"] and result["restart_needed"] and result["current_generation"] == "g1"
    assert SECRET not in json.dumps(result)
    script = os.path.join(pxe.root, "ipxe", "guest2.ipxe")
    assert (os.stat(script).st_mode & 0o777, os.stat(script).st_uid) == (0o600, NOBODY.pw_uid)
    again = pxe.module(pxe.args())
    assert not again["changed"] and not again["restart_needed"], again

    pxe.start()
    # a PXE ROM and iPXE each get the right boot file, the reserved address and this server
    expect = {"guest2": ("undionly.kpxe", "ipxe/guest2.ipxe"), "guest3": ("pxelinux.0", "pxelinux.0"),
              "guest4": ("undionly.kpxe", "ipxe/guest4.ipxe")}
    for host, (mac, ip, _boot) in sorted(HOSTS.items()):
        for ipxe, boot_file in ((False, expect[host][0]), (True, expect[host][1])):
            lease = pxe.lease(mac, ipxe=ipxe)
            assert (lease.get("ip"), lease.get("siaddr"), lease.get("boot_file")) == (ip, SERVER, boot_file), (host, ipxe, lease)
            assert "router" not in lease
    assert pxe.lease(HOSTS["guest2"][0], ipxe="userclass")["boot_file"] == "ipxe/guest2.ipxe"
    stranger = pxe.lease("02:5b:00:00:10:99")
    assert stranger["ip"].startswith("198.51.100.2") and not stranger.get("boot_file"), stranger

    # every boot file and script over TFTP, byte for byte
    sh("ip", "-n", NS_C, "addr", "add", "198.51.100.142/25", "dev", IF_C)
    rels = list(LOADERS) + ["ipxe/guest2.ipxe", "ipxe/guest4.ipxe", "pxelinux.cfg/01-02-5b-00-00-10-03",
                            "images/current/vmlinuz", "images/current/initrd.img", "images/g1/SHA256SUMS"]
    for rel in rels:
        rc, data = pxe.tftp(rel)
        assert rc == 0 and data == pxe.file(rel), rel
    assert b"set password " + SECRET.encode() in pxe.file("ipxe/guest2.ipxe")
    assert pxe.tftp("images/current/vmlinuz")[1] == open(os.path.join(pxe.base, "build", "g1", "vmlinuz"), "rb").read()

    # a link out of the TFTP root is not served; the module refuses to run while it exists
    outside = os.path.join(pxe.base, "outside.txt")
    with open(outside, "w") as f:
        f.write("not for TFTP clients\n")
    os.chmod(outside, 0o644)
    os.symlink(outside, os.path.join(pxe.root, "escape.txt"))
    rc, data = pxe.tftp("escape.txt")
    assert rc != 0 and not data, (rc, data)
    refused = pxe.module(pxe.args())
    assert refused.get("failed") and "escape.txt is a symbolic link" in refused["msg"], refused
    os.unlink(os.path.join(pxe.root, "escape.txt"))

    # a second generation, then a rollback: one variable, served at once, no restart needed
    result = pxe.module(pxe.args(generations=("g1", "g2")))
    assert result["changed"] and not result["restart_needed"] and result["current_generation"] == "g2", result
    assert pxe.tftp("images/current/vmlinuz")[1] == open(os.path.join(pxe.base, "build", "g2", "vmlinuz"), "rb").read()
    result = pxe.module(pxe.args(generations=("g1", "g2"), current_generation="g1"))
    assert result["changed"] and result["files"] == [os.path.join(pxe.root, "images", "current")], result
    assert pxe.tftp("images/current/vmlinuz")[1] == open(os.path.join(pxe.base, "build", "g1", "vmlinuz"), "rb").read()

    with open(pxe.log) as f:
        log = f.read()
    assert "sent %s/ipxe/guest2.ipxe to 198.51.100.142" % pxe.root in log, log
    escape = [line for line in log.splitlines() if "escape.txt" in line]
    assert escape and not [line for line in escape if " sent " in line], escape
