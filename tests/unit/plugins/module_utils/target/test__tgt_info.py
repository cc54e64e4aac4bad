# -*- coding: utf-8 -*-
# Copyright: sanboot.lab contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for _tgt_info (iscsi_target_info): sessions, LUNs, ACLs and accounts from captured
tgt 1.0.85 output; no secret in the result; bad options refused."""

import pytest

from _fixtures import fixture_reader  # pylint: disable=wrong-import-order

from ansible_collections.sanboot.lab.plugins.module_utils.target import _tgt_info
from ansible_collections.sanboot.lab.plugins.module_utils.target import _tgt_show
from ansible_collections.sanboot.lab.plugins.module_utils.target._spec import SpecError
from ansible_collections.sanboot.lab.plugins.module_utils.target._tgt_show import TgtState

T1, T3 = "iqn.2024-01.lab.sanboot:t1", "iqn.2024-01.lab.sanboot:t3"
HOLDER = "iqn.2024-01.lab.sanboot:holder"

fixture = fixture_reader()


def state_of(target_text):
    return TgtState(_tgt_show.parse_targets(target_text, sizes=False),
                    _tgt_show.parse_accounts(fixture("tgt_show_account.txt")),
                    _tgt_show.parse_portals(fixture("tgt_show_portal.txt")))


@pytest.fixture
def report():
    return _tgt_info.report(state_of(fixture("tgt_show_target.txt")))


def test_targets_luns_acls_accounts(report):
    assert report["changed"] is False
    assert [(t["tid"], t["name"]) for t in report["targets"]] == [(1, T1), (3, T3)]
    t1, t3 = report["targets"]
    assert t1["luns"] == [
        dict(lun=1, path="/tmp/htgt/a.img", size_bytes=67000000, readonly=False, type="fileio", serial="SN123"),
        dict(lun=2, path="/tmp/htgt/b.img", size_bytes=67000000, readonly=True, type="fileio", serial="beaf12")]
    assert t3["luns"][1] == dict(lun=2, path="/tmp/htgt/c.img", size_bytes=10000000, readonly=False,
                                 type="blockio", serial="beaf32")
    assert (t1["initiators"], t1["initiator_addresses"], t1["allow_all"]) == (
        ["iqn.2024-01.lab.sanboot:client1"], ["127.0.0.1", "10.0.0.0/8"], False)
    assert (t3["initiators"], t3["initiator_addresses"], t3["allow_all"]) == ([], [], True)
    assert (t1["chap_users"], t1["mutual_chap_users"]) == (["alice"], ["tgtout"])
    assert (t3["chap_users"], t3["mutual_chap_users"]) == ([], [])
    assert report["accounts"] == ["tgtout", "alice"] and report["portals"] == ["127.0.0.1:3261"]


def test_sessions(report):
    t1, t3 = report["targets"]
    assert t1["sessions"] == []
    assert t3["sessions"] == [dict(nexus=5, initiator=HOLDER, alias=None, addresses=["127.0.0.1"],
                                   connections=[dict(cid=0, address="127.0.0.1")])]


SESSIONS = """Target 2: %s
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 7
            Initiator: iqn.2024-01.lab.sanboot:hv1 alias: hv1.lab
            Connection: 0
                IP Address: 2001:db8::7
        I_T nexus: 9
            Initiator: iqn.2024-01.lab.sanboot:hv2 alias: none
            Connection: 1
                RDMA IP Address: 198.51.100.22
    LUN information:
    Account information:
    ACL information:
        198.51.100.0/24
""" % T1


def test_several_sessions_alias_ipv6_iser():
    t = _tgt_info.report(state_of(SESSIONS))["targets"][0]
    assert t["sessions"] == [
        dict(nexus=7, initiator="iqn.2024-01.lab.sanboot:hv1", alias="hv1.lab", addresses=["2001:db8::7"],
             connections=[dict(cid=0, address="2001:db8::7")]),
        dict(nexus=9, initiator="iqn.2024-01.lab.sanboot:hv2", alias=None, addresses=["198.51.100.22"],
             connections=[dict(cid=1, address="198.51.100.22")])]
    assert t["luns"] == [] and t["initiator_addresses"] == ["198.51.100.0/24"]


def test_short_session_form_of_iscsi_target_unchanged():
    t = _tgt_show.parse_targets(SESSIONS, sizes=False)[0]
    assert t.sessions == [dict(initiator="iqn.2024-01.lab.sanboot:hv1", address="2001:db8::7"),
                          dict(initiator="iqn.2024-01.lab.sanboot:hv2", address=None)]


def test_nexus_without_connection_lines():
    text = "Target 1: %s\n    I_T nexus information:\n        I_T nexus: 3\n            Initiator: %s alias: none\n" % (T1, HOLDER)
    t = _tgt_info.report(state_of(text))["targets"][0]
    assert t["sessions"] == [dict(nexus=3, initiator=HOLDER, alias=None, addresses=[], connections=[])]


def test_no_secret_in_result(report):
    text = repr(report)
    assert "password" not in text.lower() and "secret" not in text.lower()


@pytest.mark.parametrize("name,tids", [(T3, [3]), (T3.upper(), [3]), ("iqn.2024-01.lab.sanboot:none", [])])
def test_name_filter(name, tids):
    report = _tgt_info.report(state_of(fixture("tgt_show_target.txt")), name)
    assert [t["tid"] for t in report["targets"]] == tids
    assert report["accounts"] == ["tgtout", "alice"]


def test_ordered_by_tid():
    text = fixture("tgt_show_target.txt")
    first, second = text.split("Target 3:")
    swapped = "Target 3:" + second.rstrip("\n") + "\n" + first
    assert [t["tid"] for t in _tgt_info.report(state_of(swapped))["targets"]] == [1, 3]


@pytest.mark.parametrize("params,what", [
    (dict(control_port=-1), "control_port"), (dict(control_port=65536), "control_port"),
    (dict(control_port=True), "control_port"), (dict(control_port=0, name=T1 + "\n"), "name")])
def test_bad_options_refused(params, what):
    with pytest.raises(SpecError, match="^%s: " % what):
        _tgt_info.check(dict(dict(name=None), **params))
