# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""live_migration's libvirt driver against REAL libvirt (python3-libvirt, libvirt 9.0), using
libvirt's own in-process test driver (``test:///PATH`` node files under fixtures/libvirt/).

The test driver answers every call the prechecks make (lookupByName, XMLDesc,
getCapabilities, getFreeMemory) but cannot migrate: that makes it a faithful "migration
refused by the hypervisor" case, and the module must then report the guest still running on
the source.  Real QEMU migrations between two libvirt hosts run in the lab (issue 4).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from _ansible import run_module  # noqa: E402  pylint: disable=wrong-import-order

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODES = os.path.join(REPO, "tests", "integration", "fixtures", "libvirt")
SYSTEM_PYTHON = "/usr/bin/python3"     # Debian's python3-libvirt lives there, not in the venv
HV1 = "test://" + os.path.join(NODES, "hv1-node.xml")
HV2 = "test://" + os.path.join(NODES, "hv2-node.xml")


def system_libvirt():
    return subprocess.run([SYSTEM_PYTHON, "-c", "import libvirt"],
                          capture_output=True, check=False).returncode == 0


needs_libvirt = pytest.mark.skipif(not system_libvirt(),
                                   reason="python3-libvirt is not installed (Makefile APT_PACKAGES)")


def module(tmp_path, check_mode=False, **args):
    """Run the module with the system python (libvirt) and the venv's ansible."""
    base = dict(source="hv1", destination="hv2", driver="libvirt", source_uri=HV1,
                destination_uri=HV2)
    base.update(args)
    site = [p for p in sys.path if p.endswith("site-packages") and REPO in p]
    return run_module("live_migration", base, tmp_path, python=SYSTEM_PYTHON, check_mode=check_mode,
                      env={"PYTHONPATH": os.pathsep.join(site)})


@needs_libvirt
def test_memory_precheck_with_real_libvirt_facts(tmp_path):
    res = module(tmp_path, domain="guest1")
    assert res["failed"] and res["location"] == "source" and res["changed"] is False
    assert res["errors"] == ["not enough free memory on the destination hv2: the guest needs "
                             "512 MiB, 0 MiB free"]


@needs_libvirt
def test_local_disk_and_unknown_domain_refused(tmp_path):
    res = module(tmp_path, domain="local1", destination_uri="test:///default")
    assert res["failed"] and res["errors"] == [
        "disk vda is a local file /var/lib/libvirt/images/local1.qcow2: it is not shared "
        "storage the destination can reach (put it on an iSCSI LUN both hosts use)"]
    res = module(tmp_path, domain="nosuch")
    assert res["failed"] and res["errors"] == ["domain 'nosuch' does not run on the source hv1"]


@needs_libvirt
def test_destination_down(tmp_path):
    res = module(tmp_path, domain="small1",
                 destination_uri="test://" + str(tmp_path / "missing-node.xml"))
    assert res["failed"] and res["location"] == "source"
    assert res["errors"][0].startswith("destination hv2 is not reachable: test://")


@needs_libvirt
def test_check_mode_then_refused_migration_leaves_guest_on_source(tmp_path):
    args = dict(domain="small1", destination_uri="test:///default", max_downtime_ms=50,
                bandwidth_mbps=1000, migrate_uri="tcp://198.51.100.32")
    res = module(tmp_path, check_mode=True, **args)
    assert not res.get("failed"), res
    assert res["changed"] and res["location"] == "source"
    res = module(tmp_path, **args)
    assert res["failed"] and res["location"] == "source" and res["changed"] is False
    assert res["msg"].startswith("migration failed; the guest still runs on the source hv1: ")
    assert "p2p migration is not supported" in res["msg"]
    res = module(tmp_path, peer2peer=False, **args)
    assert res["failed"] and res["location"] == "source"
