# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""xl facts: ``xl info`` and ``xl list -l`` JSON parsing (fixtures in fixtures/migrate/)."""

from __future__ import annotations

import json

import pytest

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
                 "type": "pv", "disks": []}
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


# ---- the live move needs the source's paging mode (virt_caps, Xen >= 4.14) ----------------

NOSHADOW = "source dom1: the hypervisor was built without shadow paging (virt_caps: pv gnttab-v1 " \
    "gnttab-v2; Xen CONFIG_SHADOW_PAGING): a PV guest cannot be live-migrated from it (log-dirty " \
    "mode; xl migrate would fail with 'Failed to enable logdirty: 22'). Use mode=cold (xl save / " \
    "copy / xl restore), or boot a hypervisor built with CONFIG_SHADOW_PAGING=y."


def caps(text):
    return xl.paging_caps(xl.parse_info(text))


def test_paging_caps_only_from_xen_4_14():
    assert caps(fixture("xl_info.txt")) == ["pv", "hvm", "hvm_directio", "pv_directio", "hap",
                                            "shadow"]
    assert caps(fixture("xl_info_noshadow.txt")) == ["pv", "gnttab-v1", "gnttab-v2"]
    assert caps(fixture("xm_info.txt")) is None     # Xen 4.0: "virt_caps : hvm" tells nothing
    old = "xen_major : 4\nxen_minor : 13\nvirt_caps : pv hvm hvm_directio pv_directio hap\n"
    assert caps(old) is None
    assert caps("xen_major : 4\nxen_minor : 17\n") is None      # no virt_caps line
    assert caps("virt_caps : pv\n") is None                     # no version


@pytest.mark.parametrize("kind,words,mode,refused", [
    ("pv", "pv gnttab-v1 gnttab-v2", "live", True),
    (None, "pv gnttab-v1 gnttab-v2", "live", True),          # no type: PV
    ("pv", "pv hap gnttab-v1", "live", True),                # hap does not help a PV guest
    ("pv", "pv shadow", "live", False),
    ("pv", "pv gnttab-v1 gnttab-v2", "cold", False),          # the cold move needs no log-dirty
    ("hvm", "pv hvm hap", "live", False),
    ("pvh", "pv hvm shadow", "live", False),
    ("hvm", "pv hvm gnttab-v1", "live", True),
    ("pv", None, "live", False),                              # cannot tell
])
def test_live_paging_errors(kind, words, mode, refused):
    guest = {"name": "guest1", "found": True, "type": kind}
    src = {"name": "dom1", "virt_caps": words.split() if words else None}
    errors = xl.live_paging_errors(guest, src, mode)
    assert bool(errors) == refused
    if refused and kind in ("pv", None) and words == "pv gnttab-v1 gnttab-v2":
        assert errors == [NOSHADOW]
    if refused and kind == "hvm":
        assert "neither hardware-assisted paging (hap) nor shadow paging (virt_caps: pv hvm " \
               "gnttab-v1): a HVM guest" in errors[0]


def test_guest_type_from_c_info():
    doms = json.loads(fixture("xl_list_disks.json"))
    doms[0]["config"]["c_info"]["type"] = "hvm"
    assert xl.guest_facts("guest2", doms)["type"] == "hvm"
    del doms[0]["config"]["c_info"]["type"]
    assert xl.guest_facts("guest2", doms)["type"] == "pv"
