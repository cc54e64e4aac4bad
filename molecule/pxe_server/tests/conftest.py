# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the pxe_server scenario: pxe1 over ssh:// and a DHCP/TFTP client on the controller.

Addresses and ssh key come from ../molecule.yml, the bridge from ../vars/lab.yml, the role's
variables from ../vars/scenario.yml: the tests check exactly what converge applied.

The client (created here, removed at the end even on failure; names unique to this scenario):

    controller: sbmolc0 (veth, port of the scenario's bridge sanbr1)
    netns sbmolc: sbmolc1 (its peer; MAC set per test)  <- busybox udhcpc and curl run here
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
import testinfra
import yaml

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETNS, VETH_HOST, VETH_NS = "sbmolc", "sbmolc0", "sbmolc1"


def _yaml(*path):
    with open(os.path.join(SCENARIO, *path)) as handle:
        return yaml.safe_load(handle)


INVENTORY = _yaml("molecule.yml")["provisioner"]["inventory"]
ALL = INVENTORY["group_vars"]["all"]
LAB = _yaml("vars", "lab.yml")
VARS = _yaml("vars", "scenario.yml")
SERVER = INVENTORY["host_vars"]["pxe1"]["ansible_host"]
PREFIX = LAB["lab_networks"][0]["cidr"].split("/")[1]


def sh(*argv, **kw):
    return subprocess.run(argv, check=kw.pop("check", True), capture_output=True, text=True, **kw)


class Client(object):
    """busybox udhcpc and curl in the namespace NETNS, behind the veth VETH_NS."""

    def __init__(self, base):
        self.base = base
        self.script = os.path.join(base, "udhcpc.sh")
        with open(self.script, "w") as handle:
            handle.write('#!/bin/sh\n[ "$1" = bound ] && env > "$SBMOL_OUT"\nexit 0\n')
        os.chmod(self.script, 0o755)

    def use(self, mac, address=None):
        """Reset the client interface to ``mac`` (no address, or ``address`` for TFTP)."""
        sh("ip", "-n", NETNS, "link", "set", VETH_NS, "down")
        sh("ip", "-n", NETNS, "addr", "flush", "dev", VETH_NS)
        sh("ip", "-n", NETNS, "link", "set", VETH_NS, "address", mac, "up")
        if address:
            sh("ip", "-n", NETNS, "addr", "add", "%s/%s" % (address, PREFIX), "dev", VETH_NS)

    def lease(self, mac, ipxe=None, tries=5, timeout=2):
        """``(udhcpc rc, environment handed to its script on bound or None)``.

        ipxe: None (a PXE ROM), "option175" (iPXE's encapsulated options) or "userclass" (option 77 "iPXE").
        """
        out = os.path.join(self.base, "lease.env")
        if os.path.exists(out):
            os.unlink(out)
        self.use(mac)
        argv = ["ip", "netns", "exec", NETNS, "busybox", "udhcpc", "-i", VETH_NS, "-f", "-q", "-n",
                "-t", str(tries), "-T", str(timeout), "-A", "1", "-s", self.script]
        if ipxe == "option175":
            argv += ["-x", "0xaf:130101"]
        elif ipxe == "userclass":
            argv += ["-x", "0x4d:69505845"]
        proc = sh(*argv, check=False, timeout=tries * timeout + 15, env=dict(os.environ, SBMOL_OUT=out))
        if not os.path.exists(out):
            return proc.returncode, None
        with open(out) as handle:
            return proc.returncode, dict(line.split("=", 1) for line in handle.read().splitlines() if "=" in line)

    def tftp(self, rel):
        """``(curl rc, bytes or None)`` of ``rel`` fetched from the server over TFTP."""
        dest = os.path.join(self.base, "fetched")
        if os.path.exists(dest):
            os.unlink(dest)
        proc = sh("ip", "netns", "exec", NETNS, "curl", "-sS", "--max-time", "10", "-o", dest,
                  "tftp://%s/%s" % (SERVER, rel), check=False, timeout=20)
        if not os.path.exists(dest):
            return proc.returncode, None
        with open(dest, "rb") as handle:
            return proc.returncode, handle.read()


def _remove_client():
    sh("ip", "netns", "del", NETNS, check=False)          # takes the veth pair with it
    sh("ip", "link", "del", VETH_HOST, check=False)


@pytest.fixture(scope="session")
def pxe():
    return testinfra.get_host(
        "ssh://root@%s" % SERVER, ssh_identity_file=ALL["ansible_ssh_private_key_file"],
        ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")


@pytest.fixture(scope="session")
def scenario():
    """Plain data: the server, the bridge, the role's variables."""
    return dict(server=SERVER, bridge=LAB["lab_networks"][0]["bridge"], hosts=VARS["pxe_server_hosts"],
                entries={e["name"]: e for e in VARS["pxe_server_boot_entries"]},
                generations={g["name"]: g for g in VARS["pxe_server_generations"]},
                current=VARS["pxe_server_current_generation"], tftp_root="/srv/tftp")


@pytest.fixture(scope="session")
def client(scenario):
    assert os.geteuid() == 0, "the client needs root (network namespace, veth)"
    for tool in ("busybox", "curl", "ip"):
        assert shutil.which(tool), "%s is not installed (make deps installs Makefile APT_PACKAGES)" % tool
    base = tempfile.mkdtemp(prefix="sbmolc-")
    _remove_client()                                      # left over by an interrupted run
    try:
        sh("ip", "netns", "add", NETNS)
        sh("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS, "netns", NETNS)
        sh("ip", "link", "set", VETH_HOST, "master", scenario["bridge"], "up")
        sh("ip", "-n", NETNS, "link", "set", "lo", "up")
        yield Client(base)
    finally:
        _remove_client()
        shutil.rmtree(base, ignore_errors=True)
