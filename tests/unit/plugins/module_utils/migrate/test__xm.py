# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""xm/xend: s-expressions (xm list --long, xend-config.sxp) and relocation checks."""

from __future__ import annotations

import os

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.migrate import _xm as xm
from ansible_collections.sanboot.lab.plugins.module_utils.migrate._plan import DRIVERS

STOCK = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "integration", "fixtures",
                     "xen", "xend-config.sxp-xen-4.2.2")


fixture = fixture_reader("migrate")


def test_sexpr_basics():
    assert xm.parse_sexpr("(a (b 1) (c 'x y') (d \"q\\\"z\")) (e)") == [
        ["a", ["b", "1"], ["c", "x y"], ["d", 'q"z']], ["e"]]
    assert xm.parse_sexpr("# comment (x)\n(a b) # tail\n") == [["a", "b"]]
    assert xm.parse_sexpr("(bootloader_args )") == [["bootloader_args"]]
    for bad in ("(a (b)", "a)", "(a 'open)"):
        with pytest.raises(ValueError):
            xm.parse_sexpr(bad)


def test_xm_list_long():
    g = xm.guest_facts("web1", xm.parse_sexpr(fixture("xm_list_long.sxp")))
    assert g["found"] and g["domid"] == "3" and g["memory_bytes"] == 512 << 20
    (disk,) = g["disks"]
    assert (disk["kind"], disk["protocol"], disk["device"], disk["lun"]) == (
        "block", "iscsi", "xvda", 1)
    assert disk["target"] == "iqn.2012-06.lab.sanboot:web1"
    local = xm.guest_facts("web2", xm.parse_sexpr(fixture("xm_list_local.sxp")))
    assert local["disks"][0]["kind"] == "file"
    assert local["disks"][0]["path"] == "/var/lib/xen/images/web2.img"
    assert xm.guest_facts("web3", xm.parse_sexpr(fixture("xm_list_long.sxp")))["found"] is False


def test_stock_xend_config():
    """The stock file of Xen 4.2.2 (tools/examples/xend-config.sxp), as shipped."""
    settings = xm.config_settings(fixture(STOCK))
    assert "xend-relocation-server" not in settings          # only commented out
    assert settings["xend-unix-server"] == "yes"
    assert settings["xend-relocation-hosts-allow"] == r"^localhost$ ^localhost\.localdomain$"
    assert settings["network-script"] == []                  # "(network-script )"
    assert settings["dom0-min-mem"] == "512"
    assert xm.relocation_port(settings) == 8002
    problems = xm.relocation_problems(settings, None, ["dom1", "198.51.100.31"], "dom2")
    assert problems[0] == "xend-relocation-server is not 'yes' in /etc/xen/xend-config.sxp on dom2"
    assert "admits none of the source's names/addresses (dom1, 198.51.100.31)" in problems[1]


def settings(allow):
    return {"xend-relocation-server": "yes", "xend-relocation-port": "8002",
            "xend-relocation-hosts-allow": allow}


def test_relocation_ok_and_taken():
    listeners = xm.parse_listeners(fixture("ss_xend.txt"))
    assert listeners[0] == {"address": "198.51.100.32", "port": 8002,
                            "processes": [("xend", 2211)]}
    ok = settings(r"^dom1$ ^198\.51\.100\.31$")
    assert xm.relocation_problems(ok, listeners, ["dom1"]) == []
    assert xm.relocation_problems(ok, listeners, ["x", "198.51.100.31"]) == []
    taken = xm.parse_listeners(fixture("ss_taken.txt"))
    assert xm.relocation_problems(ok, taken, ["dom1"]) == [
        "relocation port 8002 on destination is already taken by nginx (pid 901), "
        "nginx (pid 902)"]
    assert xm.relocation_problems(ok, [], ["dom1"])[0].startswith(
        "nothing listens on relocation port 8002 on destination")
    assert xm.relocation_problems(settings(""), listeners, ["anything"]) == []   # '' = everyone
    assert "not a valid regular expression" in xm.relocation_problems(
        settings("^dom1$ (x"), listeners, ["dom1"])[0]


def test_migrate_argv():
    params = dict(domain="web1", source="dom1", destination="dom2", live=True,
                  bandwidth_mbps=100, max_downtime_ms=None, ssh_command="ssh")
    drv = xm.XmDriver(None, params)
    drv.port = 8012
    assert drv.migrate_argv() == ["xm", "migrate", "--live", "--port=8012", "--resource=100",
                                  "web1", "dom2"]
    drv.port, params["live"], params["bandwidth_mbps"] = 8002, False, None
    assert drv.migrate_argv() == ["xm", "migrate", "web1", "dom2"]
    params["max_downtime_ms"] = 30
    assert drv.option_errors() == []
    assert xm.XmDriver.refusals(params, DRIVERS.values()) == [
        "max_downtime_ms: the xm driver cannot honour max_downtime_ms=30 (only libvirt)"]
