# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_iscsiadm parsers against open-iscsi 2.1.8 output (fixtures/open-iscsi/README.md)."""

from __future__ import annotations

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _iscsiadm as adm
from ansible_collections.sanboot.lab.plugins.module_utils.initiator import _initiator
from ansible_collections.sanboot.lab.plugins.module_utils.initiator._node_plan import parse_portal

fixture = fixture_reader("open-iscsi")
T = "iqn.2024-01.lab.sanboot.test:h11-capture"


def test_node_record():
    rec = adm.parse_record(fixture("node_show.txt"))
    assert rec["node.name"] == T and rec["node.startup"] == "manual"
    assert rec["node.conn[0].address"] == "127.0.0.1" and rec["node.conn[0].port"] == "3269"
    assert rec["iface.net_ifacename"] == "" and rec["node.session.timeo.replacement_timeout"] == "120"
    assert rec["node.conn[0].timeo.noop_out_interval"] == "5" and len(rec) == 107


def test_secrets_masked_and_shown():
    masked = adm.parse_record(fixture("node_show_chap.txt"))
    shown = adm.parse_record(fixture("node_show_chap_S.txt"))
    assert masked["node.session.auth.password"] == "********"
    assert shown["node.session.auth.password"] == "secret-123456"
    assert shown["node.session.auth.password_in"] == "" and shown["node.session.auth.authmethod"] == "CHAP"
    d = adm.parse_record(fixture("discoverydb_show_S.txt"))
    assert d["discovery.sendtargets.auth.password"] == "dsecret-123456"
    assert d["discovery.sendtargets.address"] == "127.0.0.1"


def test_link_local_record():
    rec = adm.parse_record(fixture("node_show_v6_ll.txt"))
    assert rec["node.conn[0].address"] == "fe80::1%lo" and rec["node.discovery_address"] == ""


def test_targets():
    assert adm.parse_targets(fixture("discover_st.txt")) == [(parse_portal("127.0.0.1:3269"), 1, T)]
    nodes = adm.parse_targets(fixture("node_list.txt"))
    assert [str(p) for p, _t, _n in nodes] == ["127.0.0.1:3269", "[fd00::1]:3260", "[fd00::2]:3260",
                                               "[fe80::1%lo]:3260"]
    assert nodes[1][1] == 4294967295 and nodes[3][2] == "iqn.2024-01.lab.sanboot.test:v6"


def test_sessions():
    s = adm.parse_sessions(fixture("session_p3.txt"))
    assert [(x["target"], str(x["portal"]), x["interface"], x["sid"], x["host"]) for x in s] == [
        (T, "198.51.100.1:3269", "default", 4, 2),
        ("iqn.2024-01.lab.sanboot.test:v6", "[fd5b:5b::1]:3269", "h11", 5, 3)]
    assert s[0]["luns"] == {0: "", 1: "sda", 2: "sdb"} and s[1]["luns"] == {0: "", 1: "sdc"}
    # iscsid prints the current IPv6 portal fully expanded ([fd5b:005b:0000:...:0001]); parsed, it
    # compares equal to the persistent one
    assert "[fd5b:005b:0000:0000:0000:0000:0000:0001]:3269" in fixture("session_p3.txt")
    assert s[1]["current_portal"] == s[1]["portal"]


def test_argv():
    p = parse_portal("[fe80::1%eth1]")
    assert adm.node_argv(T, p, "default", "--login") == [
        "iscsiadm", "-m", "node", "-T", T, "-p", "[fe80::1%eth1]:3260", "-I", "default", "--login"]
    assert adm.discover_argv(p, "i1")[-3:] == ["-o", "new", "--discover"]
    assert adm.discover_argv(p, "i1", persistent=False)[-3:] == ["-o", "nonpersistent", "--discover"]
    argv = adm.update_argv(["x"], [("node.session.auth.password", "secret-123456"), ("node.startup", "manual")])
    assert _initiator.masked_argv(argv) == ["x", "-o", "update", "-n", "node.session.auth.password", "-v",
                                            "********", "-n", "node.startup", "-v", "manual"]


def test_read_record_not_found():
    def run(argv, check=False):
        return 21, "", fixture("err_no_records.txt")
    assert adm.read_record(run, ["iscsiadm"]) is None

    def run_sessions(argv, check=False):
        return 21, "", fixture("err_no_sessions.txt")
    assert adm.read_sessions(run_sessions) == []
