# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""xl facts: ``xl info`` and ``xl list -l`` JSON parsing (fixtures in fixtures/migrate/)."""

from __future__ import annotations

import json

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order
from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _xl as xl
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import DRIVERS, prechecks


fixture = fixture_reader("migrate")


def test_info():
    info = xl.parse_info(fixture("xl_info.txt"))
    assert info["machine"] == "x86_64" and info["xen_version"] == "4.17.3-pre"
    assert info["xen_changeset"] == ""
    assert info["xen_commandline"] == "placeholder dom0_mem=2048M,max:2048M"
    assert xl.host_memory_arch(info) == (6144 * 1048576, "x86_64")


def test_iscsi_root_guest_has_no_disk():
    g = xl.guest_facts("guest1", json.loads(fixture("xl_list_iscsi_root.json")))
    assert g == {"name": "guest1", "found": True, "domid": 7, "memory_bytes": 512 << 20,
                 "disks": []}
    assert xl.guest_facts("nope", json.loads(fixture("xl_list_iscsi_root.json")))["found"] is False


def test_disks_classified():
    g = xl.guest_facts("guest2", json.loads(fixture("xl_list_disks.json")))
    assert g["memory_bytes"] == 1 << 30     # target_memkb -1 -> max_memkb
    a, b, c, d = g["disks"]
    assert (a["kind"], a["protocol"], a["lun"], a["device"]) == ("block", "iscsi", 1, "xvda")
    assert a["target"] == "iqn.2024-01.lab.sanboot:guest2"
    assert (b["kind"], b["target"], b["portal"], b["port"]) == (
        "network", "iqn.2024-01.lab.sanboot:data", "198.51.100.10", 3260)
    assert (c["kind"], c["path"]) == ("file", "/var/lib/xen/images/guest2-swap.img")
    assert d["kind"] == "none"
    src = {"name": "dom1", "reachable": True}
    dst = {"name": "dom2", "reachable": True, "paths": {a["path"]: True}}
    errs = prechecks(g, src, dst)
    assert len(errs) == 1 and "xvdc is a local file /var/lib/xen/images/guest2-swap.img" in errs[0]


def test_driver_option_errors_and_argv():
    params = dict(domain="guest1", source="dom1", destination="dom2", live=False,
                  max_downtime_ms=50, bandwidth_mbps=None, ssh_command="ssh -o BatchMode=yes")
    drv = xl.XlDriver(None, params)
    assert drv.option_errors() == []   # which options xl honours: the table (XlDriver.OPTIONS)
    assert xl.XlDriver.refusals(params, DRIVERS.values()) == [
        "live: the xl driver cannot honour live=False (only libvirt, xm)",
        "max_downtime_ms: the xl driver cannot honour max_downtime_ms=50 (only libvirt)"]
    assert drv.migrate_argv() == ["xl", "migrate", "-s", "ssh -o BatchMode=yes --", "guest1", "dom2"]
